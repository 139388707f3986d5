// Command fronting makes the outbound requests an attacker would, for the
// red-team tests of the host's outbound rules: /do?url=U sends one request
// through sdk.Transport and answers "<status>\n<body>", or 502 with the
// error. &method=M sets the method, &host=H sets req.Host, each &hdr=K=V
// adds a raw header entry (the key as given, "Host" and ":authority"
// included), and &follow=0 stops at the first redirect.
package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	sdk.Handle(http.HandlerFunc(serve))
}

func serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	method := q.Get("method")
	if method == "" {
		method = "GET"
	}
	req, err := http.NewRequest(method, q.Get("url"), nil)
	if err != nil {
		http.Error(w, "building the request: "+err.Error(), http.StatusBadGateway)
		return
	}
	if h := q.Get("host"); h != "" {
		req.Host = h
	}
	for _, kv := range q["hdr"] {
		k, v, _ := strings.Cut(kv, "=")
		req.Header[k] = append(req.Header[k], v) // as given, not canonicalized
	}
	client := &http.Client{Transport: sdk.Transport}
	if q.Get("follow") == "0" {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	resp, err := client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	fmt.Fprintf(w, "%d\n", resp.StatusCode)
	io.Copy(w, resp.Body)
}

func main() {}
