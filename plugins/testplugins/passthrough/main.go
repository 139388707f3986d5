// Command passthrough is the smallest middleware: it calls next and does
// nothing else, so a chain of them measures what a link costs.
package main

import (
	"net/http"

	"github.com/wasmhost/wasmhost/sdk"
)

func init() {
	sdk.HandleMiddleware(func(next http.Handler) http.Handler { return next })
}

func main() {}
