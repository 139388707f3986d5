package host_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/host"
	"github.com/wasmhost/wasmhost/internal/kv"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

// The guest services against the same operation from a native handler,
// each through the server's handler (benchmarkHandler): what a plugin pays
// for the host crossing, the handle and the copies.

func benchStores(b *testing.B) map[string]string {
	return map[string]string{
		"sqlite": fmt.Sprintf(`kv "default" { path = %q }`, filepath.Join(b.TempDir(), "bench.kv")),
		"redis":  fmt.Sprintf("kv \"default\" {\n  backend = \"redis\"\n  url = %q\n}", testutil.Redis(b)),
	}
}

// BenchmarkKV: Get and Set of a 100-byte value, from the plugin and from a
// native handler using the same store.
func BenchmarkKV(b *testing.B) {
	for _, backend := range []string{"sqlite", "redis"} {
		decl := benchStores(b)[backend]
		s := startSiteLogging(b, decl+`
plugin "services" {
  path = "{{services}}"
  kv   = ["default"]
}`, hclog.Warn)
		value := fmt.Sprintf("%0100d", 7)
		for _, op := range []string{"set", "get"} {
			target := "/kv/" + op + "?key=bench&value=" + value
			b.Run(backend+"/"+op+"/plugin", func(b *testing.B) { benchmarkHandler(b, s.srv, target) })
		}
		var store kv.Store
		var err error
		if backend == "sqlite" {
			store, err = kv.OpenSQLite(filepath.Join(b.TempDir(), "native.kv"))
		} else {
			store, err = kv.OpenRedis(testutil.Redis(b))
		}
		if err != nil {
			b.Fatal(err)
		}
		store.Set(context.Background(), "bench", []byte(value))
		// The plugin's own floor: a request that opens the store and
		// touches nothing.
		b.Run(backend+"/open/plugin", func(b *testing.B) { benchmarkHandler(b, s.srv, "/kv/open") })
		b.Run(backend+"/get/native", func(b *testing.B) {
			benchmarkHandler(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				v, err := store.Get(r.Context(), "bench")
				if err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				w.Write(v)
			}), "/")
		})
		b.Run(backend+"/set/native", func(b *testing.B) {
			benchmarkHandler(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := store.Set(r.Context(), "bench", []byte(r.URL.Query().Get("value"))); err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				w.Write([]byte("ok"))
			}), "/?value="+value)
		})
		store.Close()
	}
}

// BenchmarkKVGetMany: a list page's reads, 100 keys of 100 bytes, with one
// GetMany (one host call, one store round trip) and with 100 Gets.
func BenchmarkKVGetMany(b *testing.B) {
	var keys []string
	for i := range 100 {
		keys = append(keys, fmt.Sprintf("note:%03d", i))
	}
	list := strings.Join(keys, ",")
	for _, backend := range []string{"sqlite", "redis"} {
		s := startSiteLogging(b, benchStores(b)[backend]+`
plugin "services" {
  path = "{{services}}"
  kv   = ["default"]
}`, hclog.Warn)
		for _, k := range keys {
			w := httptest.NewRecorder()
			s.srv.ServeHTTP(w, host.AsAccepted(httptest.NewRequest("GET", "/kv/set?key="+k+"&value="+fmt.Sprintf("%0100d", 7), nil)))
			if w.Code != 200 {
				b.Fatalf("set %s: %d %s", k, w.Code, w.Body)
			}
		}
		for _, op := range []string{"getmany", "gets"} {
			b.Run(backend+"/"+op, func(b *testing.B) { benchmarkHandler(b, s.srv, "/kv/"+op+"?keys="+list) })
		}
	}
}

// BenchmarkOutboundGET: a GET to a loopback upstream and its body relayed,
// from the plugin and from a native handler with a keep-alive client.
func BenchmarkOutboundGET(b *testing.B) {
	up := upstream(b, nil)
	s := startSiteLogging(b, fmt.Sprintf(`plugin "services" {
  path          = "{{services}}"
  allowed_hosts = [%q]
}`, up.URL), hclog.Warn)
	b.Run("plugin", func(b *testing.B) { benchmarkHandler(b, s.srv, "/fetch?url="+up.URL+"/plain") })
	client := &http.Client{}
	b.Run("native", func(b *testing.B) {
		benchmarkHandler(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			resp, err := client.Get(up.URL + "/plain")
			if err != nil {
				http.Error(w, err.Error(), 502)
				return
			}
			defer resp.Body.Close()
			io.Copy(w, resp.Body)
		}), "/")
	})
}
