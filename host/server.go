package host

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/loader"
)

// Options configure a Server.
type Options struct {
	Site     *config.Site
	Loader   *loader.Loader
	Logger   hclog.Logger
	WorkerID int    // wasmhost.worker_id
	Version  string // wasmhost.version
}

// Server serves a site: it routes each request to a plugin and runs it.
type Server struct {
	site     *config.Site
	log      hclog.Logger
	access   hclog.Logger
	workerID int
	version  string

	routes  atomic.Pointer[routes]
	plugins []*mountedPlugin

	metrics   *metrics
	started   time.Time
	exchanges sync.Pool
	reqSeq    atomic.Uint64
	reqPrefix string

	mu      sync.Mutex
	servers []*http.Server
}

// mountedPlugin is a plugin as the router sees it: its settings, and the
// loaded version currently serving, which a reload can replace.
type mountedPlugin struct {
	cfg     config.Plugin
	log     hclog.Logger
	current atomic.Pointer[loadedVersion]

	swaps, swapFailures atomic.Uint64
	lastError           atomic.Pointer[string] // why the last new version was refused; nil once one loads
}

type loadedVersion struct {
	plugin *loader.Plugin
	fixed  []byte // pre-encoded environ entries for this version
}

// New loads every plugin of the site. If any fails, the others are closed
// and the error joins one *loader.LoadError per failed plugin.
func New(ctx context.Context, opts Options) (*Server, error) {
	s := &Server{
		site:     opts.Site,
		log:      opts.Logger,
		workerID: opts.WorkerID,
		version:  opts.Version,
		metrics:  newMetrics(),
		started:  time.Now(),
	}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	s.access = s.log.Named("access")
	var seed [4]byte
	rand.Read(seed[:])
	s.reqPrefix = fmt.Sprintf("%08x", binary.BigEndian.Uint32(seed[:]))
	s.exchanges.New = func() any { return new(exchange) }

	var errs []error
	var rs []route
	for _, pc := range opts.Site.Plugins {
		lp, err := opts.Loader.Load(ctx, LoaderConfig(pc))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		mp := &mountedPlugin{cfg: pc, log: s.log.Named(pc.Name)}
		mp.current.Store(&loadedVersion{plugin: lp, fixed: fixedEnviron(pc.Name, lp.Version, s.workerID, s.version, pc.Env)})
		s.plugins = append(s.plugins, mp)
		rs = append(rs, route{mount: pc.Mount, plugin: mp})
	}
	if len(errs) > 0 {
		s.closePlugins()
		return nil, errors.Join(errs...)
	}
	s.routes.Store(newRoutes(rs))
	return s, nil
}

// LoaderConfig is what the loader needs of a plugin block. The request
// timeout also bounds each instance's initialization.
func LoaderConfig(pc config.Plugin) loader.Config {
	return loader.Config{
		Name:        pc.Name,
		Path:        pc.Path,
		Instances:   pc.Instances,
		MemoryLimit: pc.MemoryLimit,
		Env:         pc.Env,
		InitTimeout: pc.Timeout,
	}
}

// Plugin returns the loaded plugin with that name, or nil.
func (s *Server) Plugin(name string) *loader.Plugin {
	for _, mp := range s.plugins {
		if mp.cfg.Name == name {
			return mp.current.Load().plugin
		}
	}
	return nil
}

func (s *Server) closePlugins() {
	for _, mp := range s.plugins {
		mp.current.Load().plugin.Close()
	}
}

// Serve accepts connections on each listener until Shutdown. It returns
// the first error of a listener other than the one Shutdown causes.
func (s *Server) Serve(listeners []net.Listener) error {
	errc := make(chan error, len(listeners))
	for _, ln := range listeners {
		srv := s.httpServer()
		s.mu.Lock()
		s.servers = append(s.servers, srv)
		s.mu.Unlock()
		go func(ln net.Listener) {
			var err error
			if tls := s.site.Server.TLS; tls != nil {
				err = srv.ServeTLS(ln, tls.Cert, tls.Key)
			} else {
				err = srv.Serve(ln)
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}(ln)
	}
	var first error
	for range listeners {
		if err := <-errc; err != nil && first == nil {
			first = err
			go s.Shutdown(context.Background())
		}
	}
	return first
}

func (s *Server) httpServer() *http.Server {
	cfg := s.site.Server
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    int(cfg.MaxHeaderBytes),
		ErrorLog:          s.log.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
}

// Shutdown stops accepting connections, waits for requests in flight until
// ctx ends, then closes what remains and every plugin.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	servers := s.servers
	s.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	s.closePlugins()
	return errors.Join(errs...)
}

// PluginStats returns every plugin's counters, by name.
func (s *Server) PluginStats() map[string]loader.Stats {
	m := make(map[string]loader.Stats, len(s.plugins))
	for _, mp := range s.plugins {
		m[mp.cfg.Name] = mp.current.Load().plugin.Stats()
	}
	return m
}

func (s *Server) nextRequestID() string {
	n := s.reqSeq.Add(1)
	b := make([]byte, 0, 8+1+16)
	b = append(b, s.reqPrefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, n, 16)
	return string(b)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// requestDeadline is the context a guest runs under.
func requestDeadline(r *http.Request, timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), timeout)
}
