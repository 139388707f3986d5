package host_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// A chunked body that passes max_body_size while the guest is already
// answering: the spool's filler meets the limit on its goroutine while the
// handler's goroutine writes the response headers. The filler must not
// touch the response (http.MaxBytesReader used to set Connection: close
// on it from there: a data race on the header map, fatal as a concurrent
// map write). Run under -race (Makefile RACE_HOST_TESTS).
func TestBodyPastLimitWhileAnswering(t *testing.T) {
	s := startSite(t, `
server { max_body_size = "64KB" }
plugin "bigbody" {
  path            = "{{bigbody}}"
  mount           = "/"
  body_read_ahead = 0
}
`)
	piece := bytes.Repeat([]byte("b"), 8<<10)
	for i := 0; i < 4; i++ {
		pr, pw := io.Pipe()
		go func() {
			// Sent at once, so the limit falls while the answer (16 MiB)
			// streams.
			for j := 0; j < 32; j++ {
				if _, err := pw.Write(piece); err != nil {
					return
				}
			}
			pw.Close()
		}()
		resp, err := http.Post(s.base+"/?mb=16", "application/octet-stream", io.NopCloser(pr))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		pr.CloseWithError(io.ErrClosedPipe)
	}
	// The server is still whole and answers.
	resp, err := http.Get(s.base + "/?mb=0")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after the bodies past the limit: status %d, want 200", resp.StatusCode)
	}
}
