// Command deepstack is a test plugin for TinyGo's stack: see checkTinyGoStack.
package main

import (
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/wasmhost/wasmhost/sdk"
)

var re *regexp.Regexp

// init compiles a regexp of GROUPS nested capturing groups (200 unless
// set), as markdown parsers compile theirs: in TinyGo more stack than its
// default 64 KiB. RECURSE > 0 recurses that deep in frames of 256 bytes
// or more, to overflow any stack.
func init() {
	n, err := strconv.Atoi(os.Getenv("GROUPS"))
	if err != nil {
		n = 200
	}
	re = regexp.MustCompile(strings.Repeat("(", n) + "a" + strings.Repeat(")", n))
	if d, _ := strconv.Atoi(os.Getenv("RECURSE")); d > 0 {
		deep(d)
	}
	sdk.Handle(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strconv.Itoa(n) + " groups: " + strconv.FormatBool(re.MatchString("a")) + "\n"))
	}))
}

func deep(n int) int {
	var b [256]byte
	b[n%256] = 1
	if n == 0 {
		return sum(&b)
	}
	return deep(n-1) + sum(&b)
}

//go:noinline
func sum(b *[256]byte) int {
	s := 0
	for _, v := range b {
		s += int(v)
	}
	return s
}

func main() {}
