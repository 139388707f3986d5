// Command gone is a handler whose client goes away, for the host's
// disconnect tests, or with a NAME env entry a middleware (see
// middleware.go). It records what it saw in the folder granted as /rec,
// in the file named by ?id= (nothing is recorded without one):
//
//   - ?mode=stream (the default) writes and flushes a line every ?ms=
//     milliseconds (default 10) until a write fails, then records
//     "write=<ErrClientGone?> done=<r.Context().Done() closed?>
//     err=<r.Context().Err()>" and, from its defer, "defer=ran";
//   - ?mode=echo copies the request body back, flushing each piece, and
//     records the same when a read or write fails;
//   - ?mode=block answers a first line, then loops without a host call:
//     it cannot learn that its client left, and its defer never runs.
package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/wasmhost/wasmhost/sdk"
)

var spins uint64

func init() {
	if name := os.Getenv("NAME"); name != "" {
		sdk.HandleMiddleware(middleware(name))
		return
	}
	sdk.Handle(http.HandlerFunc(serve))
}

func serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var note string
	if id := q.Get("id"); id != "" {
		defer func() { record(id, note+" defer=ran\n") }()
	}
	w.Header().Set("Content-Type", "text/plain")
	flusher := w.(http.Flusher)
	var err error
	switch q.Get("mode") {
	case "block":
		w.Write([]byte("blocking now\n"))
		flusher.Flush()
		for {
			spins++
		}
	case "echo":
		err = echo(w, r, flusher)
	default:
		ms, _ := strconv.Atoi(q.Get("ms"))
		if ms <= 0 {
			ms = 10
		}
		line := []byte("a line of a stream that nobody may be reading any more\n")
		for i := 0; i < 100000 && err == nil; i++ {
			if _, err = w.Write(line); err == nil {
				err = http.NewResponseController(w).Flush()
			}
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
	}
	done := false
	select {
	case <-r.Context().Done():
		done = true
	default:
	}
	note = fmt.Sprintf("write=%v done=%v err=%v", errors.Is(err, sdk.ErrClientGone), done, r.Context().Err())
}

// echo sends the body back as it comes; the error is the first failure.
func echo(w http.ResponseWriter, r *http.Request, flusher http.Flusher) error {
	buf := make([]byte, 16<<10)
	for {
		n, err := r.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if ferr := http.NewResponseController(w).Flush(); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			// io.EOF: the client sent it all and still reads; keep
			// answering until it goes.
			if !errors.Is(err, io.EOF) {
				return err
			}
			return streamUntilGone(w)
		}
	}
}

func streamUntilGone(w http.ResponseWriter) error {
	for i := 0; i < 100000; i++ {
		if _, err := w.Write([]byte("echo done, still here\n")); err != nil {
			return err
		}
		if err := http.NewResponseController(w).Flush(); err != nil {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func record(id, text string) {
	f, err := os.OpenFile("/rec/"+id, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gone: cannot record:", err)
		return
	}
	f.WriteString(text)
	f.Close()
}

func main() {}
