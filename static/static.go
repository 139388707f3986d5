package static

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Config is the static block of site.hcl, resolved.
type Config struct {
	Root      string       // absolute folder (config.Static.Path)
	URLPrefix string       // e.g. "/static/", starts and ends with "/"
	HashCache bool         // cache content hashes, revalidated by a stat; off under debug
	RootFiles []string     // extra files served at the root, besides robots.txt and favicon.ico (which are always served from Root when they exist)
	Logger    hclog.Logger // nil: discard
}

// DefaultURLPrefix is used when Config.URLPrefix is empty.
const DefaultURLPrefix = "/static/"

// impliedRootFiles are served at the root of every site with a static block.
var impliedRootFiles = []string{"robots.txt", "favicon.ico"}

// Handler serves the files of one folder. It is safe for concurrent use.
type Handler struct {
	root      string
	prefix    string
	hashCache bool
	rootFiles map[string]struct{}
	log       hclog.Logger

	hashes hashCache
	warned limiter

	// Test hooks: every file opened, and the clock.
	onOpen func(*os.File)
	now    func() time.Time
}

// New checks that cfg.Root exists and is a folder (the error names the path
// otherwise) and returns a handler for it.
func New(cfg Config) (*Handler, error) {
	if cfg.Root == "" {
		return nil, errors.New("static: no folder given")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("static: folder %s: %w", cfg.Root, err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("static: folder %s: %w", root, unwrapPath(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("static: %s is not a folder", root)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("static: folder %s: %w", root, unwrapPath(err))
	}
	r.Close()

	prefix := cfg.URLPrefix
	if prefix == "" {
		prefix = DefaultURLPrefix
	}
	if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("static: URL prefix %q must start and end with \"/\"", prefix)
	}
	files := make(map[string]struct{}, len(impliedRootFiles)+len(cfg.RootFiles))
	for _, name := range impliedRootFiles {
		files[name] = struct{}{}
	}
	for _, name := range cfg.RootFiles {
		if strings.Contains(name, "/") || checkName(name) != 0 {
			return nil, fmt.Errorf("static: root file %q must be a plain file name in %s", name, root)
		}
		files[name] = struct{}{}
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Handler{
		root:      root,
		prefix:    prefix,
		hashCache: cfg.HashCache,
		rootFiles: files,
		log:       log,
		warned:    limiter{every: warnEvery},
		now:       time.Now,
	}, nil
}

// unwrapPath drops the *PathError wrapper, whose message would repeat the
// path the caller's message already names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Matches reports whether the host must give this request to the static
// handler instead of plugin routing: urlPath (r.URL.Path, decoded) starts
// with the URL prefix, or is "/robots.txt", "/favicon.ico", or "/" and one
// of the root files. It neither allocates nor touches the file system, so
// it answers the same whether the file exists or not: with a static block,
// a missing /robots.txt is a 404 from here, never a plugin's page.
func (h *Handler) Matches(urlPath string) bool {
	if strings.HasPrefix(urlPath, h.prefix) {
		return true
	}
	if len(urlPath) < 2 || urlPath[0] != '/' {
		return false
	}
	_, ok := h.rootFiles[urlPath[1:]]
	return ok
}

// URL returns the versioned URL of a file below the root:
// "css/site.css" → "/static/css/site.css?v=<hash>", the hash being the
// first 16 hex digits of the SHA-256 of the file's content. A leading "/"
// is ignored. For a file that is missing (or a name that could not be
// served: one escaping the root, a hidden file, a folder) it returns the
// URL without "?v=" and logs a warning, at most once a minute per name, so
// that a page linking a missing file still renders and a hot page does not
// flood the log.
//
// Each call stats the file, so an edited file gets its new hash at once.
func (h *Handler) URL(name string) string {
	name = strings.TrimLeft(name, "/")
	plain := h.prefix + escapePath(name)
	if checkName(name) != 0 {
		h.warn("static URL for a name that cannot be served; it has no version", name)
		return plain
	}
	sum, err := h.hashOf(name)
	if err != nil {
		h.warn("static URL for a missing file; it has no version", name)
		return plain
	}
	return plain + "?v=" + sum
}

// hashOf returns the content hash of name below the root, from the cache
// when its key is current.
func (h *Handler) hashOf(name string) (string, error) {
	root, err := os.OpenRoot(h.root)
	if err != nil {
		return "", err
	}
	defer root.Close()
	if h.hashCache {
		if fi, err := root.Stat(name); err == nil && fi.Mode().IsRegular() {
			if sum, ok := h.hashes.get(name, keyOf(fi)); ok {
				return sum, nil
			}
		} else if err != nil {
			h.hashes.forget(name)
		}
	}
	f, fi, status := h.openFile(root, name)
	if status != 0 {
		h.hashes.forget(name)
		return "", errors.New("not a servable file")
	}
	defer f.Close()
	return h.contentHash(name, f, fi)
}

// escapePath escapes each segment of a slash-separated name for use in a
// URL path, keeping the slashes.
func escapePath(name string) string {
	clean := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("/-._~", c) >= 0) {
			clean = false
			break
		}
	}
	if clean {
		return name
	}
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// Close releases what the handler holds. It holds no file descriptors
// between requests (each request opens the root afresh; see the package
// documentation), so Close only drops the hash cache.
func (h *Handler) Close() error {
	h.hashes.mu.Lock()
	h.hashes.m = nil
	h.hashes.mu.Unlock()
	return nil
}

// warnEvery is how often one warning may be logged for one name.
const warnEvery = time.Minute

// maxWarnKeys bounds the limiter's memory: names come from plugins, which
// may build them from request data.
const maxWarnKeys = 4096

// limiter lets a message through once per interval per key.
type limiter struct {
	mu    sync.Mutex
	every time.Duration
	last  map[string]time.Time
}

func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[key]; ok && now.Sub(t) < l.every {
		return false
	}
	if l.last == nil || len(l.last) >= maxWarnKeys {
		// Forgetting everything at once is crude but bounded, and the
		// worst it does is let one more warning per name through.
		l.last = make(map[string]time.Time)
	}
	l.last[key] = now
	return true
}

func (h *Handler) warn(msg, name string) {
	if h.warned.allow(msg+"\x00"+name, h.now()) {
		h.log.Warn(msg, "name", name)
	}
}
