// Command nativehello is the baseline for bench/hello.sh: the hello plugin's
// handler as a plain net/http server, no wasm.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:8890", "address")
	flag.Parse()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("Hello, world\n"))
	})
	log.Fatal(http.ListenAndServe(*addr, h))
}
