// Command services drives the guest services for the host's tests: the
// key-value calls under /kv/ and outbound HTTP under /fetch and /upload.
// Failures answer 500 (key-value; 503 when the store timed out) or 502
// (outbound) with the error's text.
package main

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	sdk.Handle(http.HandlerFunc(serve))
}

func serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case strings.HasPrefix(r.URL.Path, "/kv/"):
		// Which worker served it: the tests check that increments really
		// came from several processes.
		w.Header().Set("X-Worker", sdk.Environ(r)["wasmhost.worker_id"])
		serveKV(w, r.URL.Path[len("/kv/"):], q)
	case r.URL.Path == "/fetch" && q.Get("client") == "sdk":
		resp, err := sdk.HTTPClient().Get(q.Get("url"))
		relay(w, resp, err)
	case r.URL.Path == "/fetch":
		fetch(w, q.Get("url"))
	case r.URL.Path == "/upload":
		resp, err := http.Post(q.Get("url"), "application/octet-stream", r.Body)
		relay(w, resp, err)
	default:
		http.NotFound(w, r)
	}
}

func serveKV(w http.ResponseWriter, op string, q map[string][]string) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	name := get("store")
	if name == "" {
		name = "default"
	}
	store, err := sdk.OpenKV(name)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	key := get("key")
	var out string
	switch op {
	case "get":
		var v []byte
		v, err = store.Get(key)
		if errors.Is(err, sdk.ErrNotFound) {
			http.Error(w, "not found: "+err.Error(), 404)
			return
		}
		out = string(v)
	case "set":
		err = store.Set(key, []byte(get("value")))
		out = "ok"
	case "setsize":
		n, _ := strconv.Atoi(get("n"))
		err = store.Set(key, make([]byte, n))
		out = "ok"
	case "delete":
		err = store.Delete(key)
		out = "ok"
	case "exists":
		var ok bool
		ok, err = store.Exists(key)
		out = strconv.FormatBool(ok)
	case "keys":
		var keys []string
		keys, err = store.Keys(get("prefix"))
		out = strings.Join(keys, ",")
	case "incr":
		delta := int64(1)
		if d := get("delta"); d != "" {
			delta, _ = strconv.ParseInt(d, 10, 64)
		}
		var n int64
		n, err = store.Increment(key, delta)
		out = strconv.FormatInt(n, 10)
	case "cas":
		var old []byte
		if _, absent := q["absent"]; !absent {
			old = []byte(get("old"))
		}
		var ok bool
		ok, err = store.CompareAndSwap(key, old, []byte(get("new")))
		out = strconv.FormatBool(ok)
	case "getmany":
		// keys=a,b,c: the values found, as k=v lines in the order asked.
		keys := strings.Split(get("keys"), ",")
		var found map[string][]byte
		found, err = store.GetMany(keys)
		var b strings.Builder
		for _, k := range keys {
			if v, ok := found[k]; ok {
				b.WriteString(k + "=" + string(v) + "\n")
			}
		}
		out = b.String()
	case "gets":
		// What getmany saves: one Get per key, absent keys skipped.
		var b strings.Builder
		for _, k := range strings.Split(get("keys"), ",") {
			var v []byte
			if v, err = store.Get(k); err == nil {
				b.WriteString(k + "=" + string(v) + "\n")
			} else if errors.Is(err, sdk.ErrNotFound) {
				err = nil
			} else {
				break
			}
		}
		out = b.String()
	case "open":
		out = "ok"
	default:
		http.NotFound(w, nil)
		return
	}
	if errors.Is(err, sdk.ErrTimeout) {
		// What a plugin does with a store that stopped answering: say so
		// at once, instead of holding the client to the request's deadline.
		http.Error(w, "store unavailable: "+err.Error(), 503)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	io.WriteString(w, out)
}

func fetch(w http.ResponseWriter, url string) {
	resp, err := http.Get(url)
	relay(w, resp, err)
}

// relay copies an upstream response to the client, flushing after each
// piece so that a streamed upstream streams through.
func relay(w http.ResponseWriter, resp *http.Response, err error) {
	if err != nil {
		http.Error(w, err.Error(), 502)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		if strings.HasPrefix(k, "X-") || k == "Content-Type" {
			w.Header()[k] = vs
		}
	}
	w.Header().Set("X-Upstream-Status", strconv.Itoa(resp.StatusCode))
	w.WriteHeader(resp.StatusCode)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
		if err != nil {
			return
		}
	}
}

func main() {}
