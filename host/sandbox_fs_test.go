package host_test

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/internal/testutil"
)

// The red-team suite for guest files: a hostile plugin (fsattack) tries
// every way out of the folders it is granted that the suite knows of, on
// each engine, beside a site folder full of things it must never reach.
// docs/SECURITY.md, "Guest files, per engine", lists the attacks with what
// each engine answers.

func init() { plugins["fsattack"] = "plugins/testplugins/fsattack" }

// fsSite is a site folder as a real one looks: site.hcl with its cookie
// secret, a TLS key, another plugin's .wasm and a secret file beside the
// granted folders data (read-write, at /data) and ro (read-only, at /ro).
// Every file outside the grants holds secret; none may come back.
type fsSite struct {
	*site
	engine           string
	dir, data, ro    string
	secret           string
	cacheFile, wasm  string // a file of the host's compilation cache; another plugin's .wasm
	outside, victims string // a folder outside the grants with a file f; one with files to delete
}

func newFSSite(t *testing.T, engine string) *fsSite {
	b := make([]byte, 12)
	rand.Read(b)
	f := &fsSite{engine: engine, dir: t.TempDir(), secret: "SECRET-" + hex.EncodeToString(b)}
	f.data, f.ro = filepath.Join(f.dir, "data"), filepath.Join(f.dir, "ro")
	f.outside, f.victims = filepath.Join(f.dir, "outside"), filepath.Join(f.dir, "victims")
	for _, d := range []string{f.data, f.ro, f.outside, f.victims, filepath.Join(f.victims, "dir"), filepath.Join(f.data, "sub")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(f.dir, "site.hcl"), []byte(`server { cookie_secret = "`+f.secret+`" }`+"\n"), 0o600))
	for _, name := range []string{"key.pem", "secret.txt", "other.wasm", "outside/f", "victims/file"} {
		must(t, os.WriteFile(filepath.Join(f.dir, name), []byte(f.secret+"\n"), 0o600))
	}
	must(t, os.WriteFile(filepath.Join(f.ro, "readme.txt"), []byte("read-only\n"), 0o644))
	f.wasm = testutil.Plugin(t, "plugins/testplugins/fsread")
	cache := testutil.CacheDir(t)
	// Links the host (or another plugin sharing the folder) left in the
	// grants, pointing out of them.
	for name, target := range map[string]string{
		"data/up":     "..",
		"data/abs":    f.dir,
		"data/etc":    "/etc",
		"data/key":    "../key.pem",
		"data/wasm":   f.wasm,
		"data/cache":  cache,
		"data/sub/up": "../..",
		"ro/up":       "..",
	} {
		must(t, os.Symlink(target, filepath.Join(f.dir, name)))
	}
	f.site = startEngineSite(t, engine, `plugin "attack" {
  path      = "{{fsattack}}"
  instances = 1
  timeout   = "60s"
  dirs      = { "/data" = "`+f.data+`:rw", "/ro" = "`+f.ro+`" }
}`)
	// The plugin's compiled code is in the cache now.
	filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && f.cacheFile == "" {
			f.cacheFile = p
		}
		return nil
	})
	if f.cacheFile == "" {
		t.Fatalf("no file in the compilation cache %s after a plugin compiled", cache)
	}
	must(t, os.Symlink(f.cacheFile, filepath.Join(f.data, "cachefile")))
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// do runs one operation in the guest and answers its "ok ..." or
// "err ERRNO" line; nothing outside the grants may ever be in it.
func (f *fsSite) do(t *testing.T, op string, args ...string) string {
	t.Helper()
	q := url.Values{"op": {op}}
	for i := 0; i+1 < len(args); i += 2 {
		q.Set(args[i], args[i+1])
	}
	resp, body := f.get(t, "/?"+q.Encode())
	if resp.StatusCode != 200 {
		t.Fatalf("%s %.300v: status %d %q", op, args, resp.StatusCode, body)
	}
	if strings.Contains(body, f.secret) || strings.Contains(body, "\x00asm") {
		t.Fatalf("ESCAPE: %s %.300v on %s read a file outside the grants: %.200q", op, args, f.engine, body)
	}
	return strings.TrimSuffix(body, "\n")
}

// expect checks one operation's answer: want on every engine, or
// per engine ("wazero=err EPERM", "wazy=err EBADF").
func (f *fsSite) expect(t *testing.T, want []string, op string, args ...string) {
	t.Helper()
	got := f.do(t, op, args...)
	w := want[0]
	for _, x := range want {
		if e, v, ok := strings.Cut(x, "="); ok && e == f.engine {
			w = v
		}
	}
	if got != w {
		t.Errorf("%s %.300v on %s: %q, want %q", op, args, f.engine, got, w)
	}
}

func want(w ...string) []string { return w }

// absent checks that an attack left nothing at host path p.
func absent(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); err == nil {
		t.Errorf("%s exists on the host: a guest wrote outside its grant", p)
	}
}

func TestGuestFilesStayInTheirGrants(t *testing.T) { forEachEngine(t, testGuestFilesStayInTheirGrants) }

func testGuestFilesStayInTheirGrants(t *testing.T, engine string) {
	f := newFSSite(t, engine)
	t.Run("legitimate", f.testLegitimateUse)
	t.Run("symlinks", f.testSymlinkAttacks)
	t.Run("hostlinks", f.testHostPlacedLinks)
	t.Run("hardlinks", f.testHardLinkAttacks)
	t.Run("renames", f.testRenameAttacks)
	t.Run("removes", f.testRemoveAttacks)
	t.Run("paths", f.testPathAttacks)
	t.Run("readonly", f.testReadOnlyGrant)
	t.Run("race", f.testSwappedLink)
	for _, p := range []string{"site.hcl", "key.pem", "secret.txt", "other.wasm", "outside/f", "victims/file", "victims/dir"} {
		if _, err := os.Stat(filepath.Join(f.dir, p)); err != nil {
			t.Errorf("after the attacks: %v", err)
		}
	}
}

// testLegitimateUse: everything a plugin may do inside its grant works.
func (f *fsSite) testLegitimateUse(t *testing.T) {
	ok := want("ok ")
	f.expect(t, ok, "write", "path", "/data/a.txt", "data", "one")
	f.expect(t, want("ok one"), "read", "path", "/data/a.txt")
	f.expect(t, ok, "append", "path", "/data/a.txt", "data", "+two")
	f.expect(t, want("ok one+two"), "read", "path", "/data/a.txt")
	f.expect(t, ok, "rename", "old", "/data/a.txt", "path", "/data/b.txt")
	f.expect(t, want("err ENOENT"), "read", "path", "/data/a.txt")
	f.expect(t, ok, "mkdir", "path", "/data/dir")
	f.expect(t, ok, "write", "path", "/data/dir/x", "data", "x")
	f.expect(t, want("ok x"), "readdir", "path", "/data/dir")
	f.expect(t, want("ok 1 file"), "stat", "path", "/data/dir/x")
	f.expect(t, ok, "remove", "path", "/data/dir/x")
	f.expect(t, ok, "rmdir", "path", "/data/dir")
	f.expect(t, want("err ENOENT"), "stat", "path", "/data/dir")
	// Symlinks inside the grant, to something inside it, ".." included.
	f.expect(t, ok, "symlink", "target", "b.txt", "path", "/data/ln")
	f.expect(t, want("ok one+two"), "read", "path", "/data/ln")
	f.expect(t, want("ok b.txt"), "readlink", "path", "/data/ln")
	f.expect(t, want("ok 5 symlink"), "lstat", "path", "/data/ln")
	f.expect(t, ok, "symlink", "target", "../b.txt", "path", "/data/sub/ln")
	f.expect(t, want("ok one+two"), "read", "path", "/data/sub/ln")
	f.expect(t, ok, "symlink", "target", "sub", "path", "/data/subln")
	f.expect(t, want("ok ln,up"), "readdir", "path", "/data/subln")
	f.expect(t, ok, "link", "old", "/data/b.txt", "path", "/data/hard")
	f.expect(t, want("ok one+two"), "read", "path", "/data/hard")
	// Deep nesting, within the host's limits.
	deep := "/data" + strings.Repeat("/n", 100)
	f.expect(t, ok, "mkdirall", "path", deep)
	f.expect(t, ok, "write", "path", deep+"/f", "data", "deep")
	f.expect(t, want("ok deep"), "read", "path", deep+"/f")
	if b, err := os.ReadFile(filepath.Join(f.data, "hard")); err != nil || string(b) != "one+two" {
		t.Errorf("the guest's hard link on the host: %q %v", b, err)
	}
}

// testSymlinkAttacks: links the guest makes to leave the grant.
func (f *fsSite) testSymlinkAttacks(t *testing.T) {
	for _, c := range []struct{ target, link, through string }{
		{"../../../../etc", "/data/l1", "/data/l1/hostname"},
		{"..", "/data/l2", "/data/l2/site.hcl"},
		{"/etc", "/data/l3", "/data/l3/hostname"},
		{f.dir, "/data/l4", "/data/l4/secret.txt"},
		{filepath.Join(f.dir, "key.pem"), "/data/l5", "/data/l5"},
		{f.wasm, "/data/l6", "/data/l6"},
		{"../../secret.txt", "/data/sub/l7", "/data/sub/l7"},
	} {
		// wazy makes a relative link as asked, and refuses to follow it.
		made, follow := want("err EPERM"), want("err ENOENT")
		if !filepath.IsAbs(c.target) {
			made, follow = want("err EPERM", "wazy=ok "), want("err ENOENT", "wazy=err EPERM")
		}
		f.expect(t, made, "symlink", "target", c.target, "path", c.link)
		f.expect(t, follow, "read", "path", c.through)
	}
	// Write through a link to the site's folder.
	f.expect(t, want("err ENOENT", "wazy=err EPERM"), "write", "path", "/data/l2/new.txt", "data", "x")
	absent(t, filepath.Join(f.dir, "new.txt"))

	// A chain of links each inside the grant as written, out of it once
	// followed: sub/d is the grant itself, so sub/x = sub/d/.. is its parent.
	f.expect(t, want("ok "), "symlink", "target", "..", "path", "/data/sub/d")
	f.expect(t, want("ok "), "symlink", "target", "d/..", "path", "/data/sub/x")
	f.expect(t, want("err EPERM"), "read", "path", "/data/sub/x/site.hcl")
	f.expect(t, want("err EPERM"), "readdir", "path", "/data/sub/x")
	f.expect(t, want("err EPERM"), "write", "path", "/data/sub/x/new.txt", "data", "x")
	absent(t, filepath.Join(f.dir, "new.txt"))
	// A link moved by a rename so that its ".." leads out.
	f.expect(t, want("ok "), "symlink", "target", "../secret.txt", "path", "/data/sub/moved")
	f.expect(t, want("ok "), "rename", "old", "/data/sub/moved", "path", "/data/moved")
	f.expect(t, want("err EPERM"), "read", "path", "/data/moved")
	// A target longer than any path.
	f.expect(t, want("err EPERM", "wazy=err ENAMETOOLONG"), "symlink", "rep", "../", "times", "1500", "path", "/data/long")
	f.expect(t, want("err ENAMETOOLONG"), "symlink", "rep", "a/", "times", "3000", "path", "/data/long")
}

// testHostPlacedLinks: links already in the grant, pointing out, made by
// the host or another plugin sharing the folder, are never followed out.
func (f *fsSite) testHostPlacedLinks(t *testing.T) {
	for _, p := range []string{"/data/up/secret.txt", "/data/up/site.hcl", "/data/abs/key.pem", "/data/etc/hostname",
		"/data/key", "/data/wasm", "/data/cache", "/data/cachefile", "/data/sub/up/secret.txt", "/ro/up/secret.txt"} {
		f.expect(t, want("err EPERM"), "read", "path", p)
	}
	f.expect(t, want("err EPERM"), "readdir", "path", "/data/up")
	f.expect(t, want("err EPERM"), "stat", "path", "/data/up/secret.txt")
	f.expect(t, want("err EPERM"), "write", "path", "/data/up/new.txt", "data", "x")
	f.expect(t, want("err EPERM"), "append", "path", "/data/key", "data", "x")
	f.expect(t, want("err EPERM"), "mkdir", "path", "/data/up/newdir")
	absent(t, filepath.Join(f.dir, "new.txt"))
	absent(t, filepath.Join(f.dir, "newdir"))
	// The link itself is in the grant: its name and text may be read.
	f.expect(t, want("ok 2 symlink"), "lstat", "path", "/data/up")
	f.expect(t, want("ok .."), "readlink", "path", "/data/up")
	if b, _ := os.ReadFile(filepath.Join(f.dir, "key.pem")); string(b) != f.secret+"\n" {
		t.Errorf("key.pem changed: %q", b)
	}
}

// testHardLinkAttacks: a hard link makes a file outside reachable by a
// name inside; the guest must not be able to name the file.
func (f *fsSite) testHardLinkAttacks(t *testing.T) {
	f.expect(t, want("err ENOSYS", "wazy=err EBADF"), "link", "old", filepath.Join(f.dir, "secret.txt"), "path", "/data/h1")
	f.expect(t, want("err ENOSYS", "wazy=err EBADF"), "link", "old", "/etc/hostname", "path", "/data/h2")
	f.expect(t, want("err EPERM"), "raw-link", "dir", "/data", "old", "../secret.txt", "path", "h3")
	f.expect(t, want("err EPERM"), "raw-link", "dir", "/data", "old", "up/secret.txt", "path", "h4")
	f.expect(t, want("err EPERM"), "raw-link", "dir", "/data", "old", "abs/key.pem", "path", "h5")
	f.expect(t, want("err EPERM"), "raw-link", "dir", "/data", "old", "/etc/hostname", "path", "h6")
	// A hard link to an escaping symlink links the symlink, which stays
	// unfollowable.
	f.expect(t, want("ok "), "link", "old", "/data/up", "path", "/data/h7")
	f.expect(t, want("err EPERM"), "read", "path", "/data/h7/secret.txt")
	for _, h := range []string{"h1", "h2", "h3", "h4", "h5", "h6"} {
		absent(t, filepath.Join(f.data, h))
	}
}

// testRenameAttacks: moving a file out of the grant, or into it from
// outside.
func (f *fsSite) testRenameAttacks(t *testing.T) {
	f.expect(t, want("ok "), "write", "path", "/data/mine", "data", "mine")
	f.expect(t, want("err ENOSYS", "wazy=err EBADF"), "rename", "old", "/data/mine", "path", filepath.Join(f.dir, "mine"))
	f.expect(t, want("err ENOSYS"), "rename", "old", "/data/mine", "path", "/ro/mine")
	f.expect(t, want("err EPERM"), "raw-rename", "dir", "/data", "old", "mine", "path", "../mine")
	f.expect(t, want("err EPERM"), "raw-rename", "dir", "/data", "old", "mine", "path", "up/mine")
	f.expect(t, want("err EPERM"), "raw-rename", "dir", "/data", "old", "mine", "path", "abs/mine")
	absent(t, filepath.Join(f.dir, "mine"))
	absent(t, filepath.Join(f.ro, "mine"))
	f.expect(t, want("err ENOSYS", "wazy=err EBADF"), "rename", "old", filepath.Join(f.dir, "secret.txt"), "path", "/data/stolen")
	f.expect(t, want("err EPERM"), "raw-rename", "dir", "/data", "old", "../secret.txt", "path", "stolen")
	f.expect(t, want("err EPERM"), "raw-rename", "dir", "/data", "old", "up/secret.txt", "path", "stolen")
	f.expect(t, want("err EPERM"), "raw-rename", "dir", "/data", "old", "up", "path", "up/x")
	absent(t, filepath.Join(f.data, "stolen"))
	f.expect(t, want("ok mine"), "read", "path", "/data/mine")
}

// testRemoveAttacks: unlink and rmdir of what is outside.
func (f *fsSite) testRemoveAttacks(t *testing.T) {
	f.expect(t, want("err EACCES", "wazy=err EBADF"), "remove", "path", filepath.Join(f.victims, "file"))
	f.expect(t, want("err EACCES", "wazy=err EBADF"), "rmdir", "path", filepath.Join(f.victims, "dir"))
	f.expect(t, want("err EPERM"), "raw-unlink", "dir", "/data", "path", "../victims/file")
	f.expect(t, want("err EPERM"), "raw-unlink", "dir", "/data", "path", "up/victims/file")
	f.expect(t, want("err EPERM"), "raw-unlink", "dir", "/data", "path", "abs/victims/file")
	f.expect(t, want("err EPERM"), "raw-rmdir", "dir", "/data", "path", "../victims/dir")
	f.expect(t, want("err EPERM"), "raw-rmdir", "dir", "/data", "path", "up/victims/dir")
	f.expect(t, want("err EINVAL", "wazy=err EINVAL"), "raw-rmdir", "dir", "/data", "path", ".")
	// Removing a link removes the link, not its target.
	f.expect(t, want("ok "), "link", "old", "/data/key", "path", "/data/key2")
	f.expect(t, want("ok "), "remove", "path", "/data/key2")
}

// testPathAttacks: paths the Go runtime would never send, sent raw.
func (f *fsSite) testPathAttacks(t *testing.T) {
	for _, p := range []string{"../secret.txt", "sub/../../secret.txt", "./../site.hcl", "/etc/hostname",
		filepath.Join(f.dir, "secret.txt")} {
		f.expect(t, want("err EPERM"), "raw-open", "dir", "/data", "path", p)
	}
	f.expect(t, want("err EPERM"), "raw-open", "dir", "/data", "rep", "../", "times", "2000", "path", "etc/hostname")
	// os.Root walks a path one component at a time, so no length limit
	// applies to the whole; a missing first component ends it.
	f.expect(t, want("err ENOENT", "wazy=err ENAMETOOLONG"), "raw-open", "dir", "/data", "rep", "a/", "times", "3000", "path", "f")
	f.expect(t, want("err ENAMETOOLONG"), "raw-open", "dir", "/data", "rep", "n/", "times", "100", "path", strings.Repeat("x", 300))
	f.expect(t, want("ok deep"), "raw-open", "dir", "/data", "path", strings.Repeat("n/", 100)+"f")
	f.expect(t, want("err EACCES", "wazy=err EBADF"), "read", "path", "/data/../secret.txt")
	f.expect(t, want("err EACCES", "wazy=err EBADF"), "read", "path", filepath.Join(f.dir, "secret.txt"))
	f.expect(t, want("err EACCES", "wazy=err EBADF"), "read", "path", f.cacheFile)
	f.expect(t, want("err EACCES", "wazy=err EBADF"), "read", "path", f.wasm)
}

// testReadOnlyGrant: a read-only grant refuses every change.
func (f *fsSite) testReadOnlyGrant(t *testing.T) {
	f.expect(t, want("ok read-only\n"), "read", "path", "/ro/readme.txt")
	f.expect(t, want("ok readme.txt,up"), "readdir", "path", "/ro")
	rofs := want("err EROFS", "wazy=err ENOSYS")
	f.expect(t, rofs, "write", "path", "/ro/new", "data", "x")
	f.expect(t, rofs, "append", "path", "/ro/readme.txt", "data", "x")
	f.expect(t, want("err EROFS"), "symlink", "target", "readme.txt", "path", "/ro/ln")
	f.expect(t, want("err EROFS"), "mkdir", "path", "/ro/d")
	f.expect(t, want("err EROFS"), "remove", "path", "/ro/readme.txt")
	f.expect(t, want("err EROFS"), "raw-rename", "dir", "/ro", "old", "readme.txt", "path", "moved")
	f.expect(t, want("err EROFS"), "raw-link", "dir", "/ro", "old", "readme.txt", "path", "hard")
	absent(t, filepath.Join(f.ro, "new"))
}

// testSwappedLink: the host flips an entry of the grant between a folder
// and a link out of it while the guest opens through it; the guest must
// never read the file outside (a check-then-use resolver would).
func (f *fsSite) testSwappedLink(t *testing.T) {
	sw, aside := filepath.Join(f.data, "sw"), filepath.Join(f.data, "sw.dir")
	must(t, os.Mkdir(sw, 0o755))
	must(t, os.WriteFile(filepath.Join(sw, "f"), []byte("inside"), 0o644))
	var stop atomic.Bool
	var flips atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Each state is held for a moment, so that reads see both.
		hold := func(i int) { time.Sleep(time.Duration(i%4) * 20 * time.Microsecond) }
		for i := 0; i < 1_000_000 && !stop.Load(); i++ {
			if os.Rename(sw, aside) != nil || os.Symlink("../outside", sw) != nil {
				return
			}
			hold(i)
			if os.Remove(sw) != nil || os.Rename(aside, sw) != nil {
				return
			}
			hold(i + 1)
			flips.Add(1)
		}
	}()
	got := f.do(t, "loop", "path", "/data/sw/f", "n", "3000")
	stop.Store(true)
	wg.Wait()
	t.Logf("%d flips; the guest's 3000 reads: %s", flips.Load(), got)
	if !strings.Contains(got, "×ok inside") || flips.Load() == 0 {
		t.Errorf("the race did not run (%d flips; reads %s)", flips.Load(), got)
	}
}

// TestGuestLinksDoNotLeadOtherPluginsOut: two plugins share a writable
// folder; the one on wazy can make links that point out of it (wazy makes
// them, and never follows them out), and neither plugin, on either engine,
// is led out by them.
func TestGuestLinksDoNotLeadOtherPluginsOut(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	must(t, os.Mkdir(data, 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("SECRET\n"), 0o600))
	s := startSite(t, `
plugin "maker" {
  path   = "{{fsattack}}"
  mount  = "/maker"
  engine = "wazy"
  dirs   = { "/data" = "`+data+`:rw" }
}
plugin "reader" {
  path   = "{{fsattack}}"
  mount  = "/reader"
  engine = "wazero"
  dirs   = { "/data" = "`+data+`:rw" }
}`)
	call := func(plugin, query, want string) {
		t.Helper()
		resp, body := s.get(t, "/"+plugin+"?"+query)
		if got := strings.TrimSuffix(body, "\n"); resp.StatusCode != 200 || got != want {
			t.Errorf("%s ?%s: %d %q, want %q", plugin, query, resp.StatusCode, got, want)
		}
	}
	call("maker", "op=symlink&target=../secret.txt&path=/data/evil", "ok ")
	call("maker", "op=symlink&target=..&path=/data/up", "ok ")
	if target, err := os.Readlink(filepath.Join(data, "evil")); err != nil || target != "../secret.txt" {
		t.Fatalf("the link the wazy plugin made: %q %v", target, err)
	}
	for _, plugin := range []string{"reader", "maker"} {
		call(plugin, "op=read&path=/data/evil", "err EPERM")
		call(plugin, "op=read&path=/data/up/secret.txt", "err EPERM")
		call(plugin, "op=write&path=/data/evil&data=x", "err EPERM")
		call(plugin, "op=raw-rename&dir=/data&old=up/secret.txt&path=stolen", "err EPERM")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "secret.txt")); string(b) != "SECRET\n" {
		t.Errorf("secret.txt is now %q", b)
	}
	absent(t, filepath.Join(data, "stolen"))
}
