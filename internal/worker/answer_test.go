package worker

import (
	"io"
	"net/http"
	"testing"
)

func TestGetRunsTheAdminHandler(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"workers":[]}`) })
	b, err := get(mux, "/status")
	if err != nil || string(b) != `{"workers":[]}` {
		t.Errorf("get /status: %q, %v", b, err)
	}
	if _, err := get(mux, "/metrics"); err == nil {
		t.Error("get of a path the handler does not serve: no error")
	}
}
