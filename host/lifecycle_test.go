package host_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	_ "modernc.org/sqlite"

	"github.com/wasmhost/wasmhost/internal/loaderprobe"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

// TestShutdownAbandonsABackgroundCompile: a swap to a module whose machine
// code is not cached serves it interpreted and compiles it in the
// background, which takes a second or more. A Shutdown begun meanwhile
// returns by its own deadline, before that compile could have finished;
// the compile, abandoned, closes what it loaded when it ends (engines
// cannot interrupt a compile on one goroutine).
func TestShutdownAbandonsABackgroundCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: compiles a module afresh")
	}
	forEachEngine(t, testShutdownAbandonsABackgroundCompile)
}

func testShutdownAbandonsABackgroundCompile(t *testing.T, engine string) {
	live, _, v2 := versions(t)
	s := startSiteOpts(t, `plugin "v" { path = "`+live+`" }`, siteOptions{level: hclog.Info, engine: engine}) // no shared cache: v2 is new here
	testutil.CopyFile(t, v2, live)
	waitVersion(t, s.base+"/", "two", 5*time.Second)
	if !s.srv.Plugin("v").Interpreted {
		t.Skip("version two compiled before the test could shut down; nothing to abandon")
	}

	const timeout = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	s.srv.Shutdown(ctx)
	took := time.Since(start)
	t.Logf("Shutdown with a compile in flight took %v (deadline %v)", took, timeout)
	// A loose bound: a compile of this module takes a second or more.
	if took > timeout+time.Second {
		t.Errorf("Shutdown took %v with a deadline of %v", took, timeout)
	}
	// The abandoned compile ends by itself and closes what it loaded.
	for deadline := time.Now().Add(60 * time.Second); loaderprobe.OpenPlugins(s.loader) != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d plugin runtimes still open 60s after Shutdown", loaderprobe.OpenPlugins(s.loader))
		}
	}
	logs := s.logs.String()
	if strings.Contains(logs, "new version compiled and in service") {
		t.Errorf("the compiled version was put in service by a server shut down")
	}
	if !strings.Contains(logs, "compile was abandoned") {
		t.Errorf("no log line saying the compile was abandoned")
	}
}

// curlGet fetches url with the curl at path curl (testutil.Need, from the
// test's goroutine), bounded by limit, and returns the status (0 when curl
// gave up) and body.
func curlGet(curl, url string, limit time.Duration) (int, string) {
	out, _ := exec.Command(curl, "-s", "-m", fmt.Sprint(limit.Seconds()),
		"-w", "\n%{http_code}", url).Output()
	text := string(out)
	i := strings.LastIndexByte(text, '\n')
	code, _ := strconv.Atoi(text[i+1:])
	return code, text[:max(i, 0)]
}

// TestSlowStoreOpenBlocksOnlyItsOwnCallers: opening a store can take long
// (an SQLite file another process holds locked waits out its busy
// timeout). While one plugin waits for that, another plugin's store, and
// a plugin whose Redis accepts connections and never answers, go on being
// served: opening runs outside the registry's lock.
func TestSlowStoreOpenBlocksOnlyItsOwnCallers(t *testing.T) {
	curl := testutil.Need(t, "curl")
	dir := t.TempDir()
	lockedPath := filepath.Join(dir, "locked.kv")
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	s := startSite(t, fmt.Sprintf(`
kv "locked" { path = %q }
kv "free" { path = %q }
kv "silent" {
  backend = "redis"
  url     = "redis://%s/0"
}
plugin "a" {
  path  = "{{services}}"
  mount = "/a"
  kv    = ["locked"]
}
plugin "b" {
  path  = "{{services}}"
  mount = "/b"
  kv    = ["free"]
}
plugin "c" {
  path    = "{{services}}"
  mount   = "/c"
  kv      = ["silent"]
  timeout = "1s"
}
`, lockedPath, filepath.Join(dir, "free.kv"), silent.Addr()))

	// Another holder of the file's lock: an exclusive transaction.
	db, err := sql.Open("sqlite", "file:"+lockedPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		code int
		body string
	}
	aDone := make(chan answer, 1)
	go func() {
		code, body := curlGet(curl, s.base+"/a/kv/set?store=locked&key=k&value=v", 60*time.Second)
		aDone <- answer{code, body}
	}()
	cDone := make(chan answer, 1)
	go func() {
		code, body := curlGet(curl, s.base+"/c/kv/get?store=silent&key=k", 30*time.Second)
		cDone <- answer{code, body}
	}()
	time.Sleep(time.Second) // a's request is in kv.Open by now (the guest is warm)

	for i := range 5 {
		start := time.Now()
		code, body := curlGet(curl, s.base+fmt.Sprintf("/b/kv/set?store=free&key=k&value=%d", i), 5*time.Second)
		if code != 200 || body != "ok" {
			t.Fatalf("plugin b, while plugin a's store opens: %d %q after %v; want 200 ok at once", code, body, time.Since(start).Round(time.Millisecond))
		}
	}
	select {
	case a := <-aDone:
		t.Fatalf("plugin a answered %d %q while its store was locked; want it still waiting", a.code, a.body)
	default:
	}
	c := <-cDone // its own timeout ends it, whatever the store does
	if c.code != 500 && c.code != 504 {
		t.Errorf("plugin c, whose Redis never answers: %d %q; want an error by its timeout", c.code, c.body)
	}

	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if a := <-aDone; a.code != 200 || a.body != "ok" {
		t.Errorf("plugin a, once the lock was released: %d %q; want 200 ok", a.code, a.body)
	}
}
