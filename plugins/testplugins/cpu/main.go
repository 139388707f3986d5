// Command cpu does CPU-bound work in the guest: ?n=N rounds of SHA-256
// over 4 KiB (default 100). It measures what interruption support costs
// a guest that computes rather than calls.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/wasmhost/wasmhost/sdk"
)

var block [4096]byte

func init() {
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 {
			n = 100
		}
		sum := sha256.Sum256(block[:])
		for i := 1; i < n; i++ {
			copy(block[:], sum[:])
			sum = sha256.Sum256(block[:])
		}
		w.Write([]byte(hex.EncodeToString(sum[:]) + "\n"))
	}))
}

func main() {}
