package stacktrace

import (
	"fmt"
	"strings"
	"testing"
)

func frame(fn string, off int, sources ...string) string {
	f := fmt.Sprintf("\t.%s(i32) 0x%x: a.go:%d:1", fn, off, off)
	for _, s := range sources {
		f += "\n\t\t" + s
	}
	return f
}

// A recursion in a stack trace is kept once and the rest counted; a
// mutual one too; frames that do not repeat and messages without a trace
// stay as they are.
func TestCollapse(t *testing.T) {
	var frames []string
	frames = append(frames, frame("runtime.alloc", 1))
	for i := 0; i < 212; i++ { // compile called from two places in itself
		frames = append(frames, frame("compile", 100+i%2, "x.go:1:1 (inlined)"))
	}
	for i := 0; i < 10; i++ {
		frames = append(frames, frame("even", 300), frame("odd", 400))
	}
	frames = append(frames, frame("main.init", 500), frame("main.init", 501))
	msg := "wasm error: out of bounds memory access\nwasm stack trace:\n" + strings.Join(frames, "\n")
	want := "wasm error: out of bounds memory access\nwasm stack trace:\n" + strings.Join([]string{
		frame("runtime.alloc", 1),
		frame("compile", 100, "x.go:1:1 (inlined)"),
		"\t… 211 more frames of the same recursion",
		frame("even", 300), frame("odd", 400),
		"\t… 18 more frames of the same recursion",
		frame("main.init", 500), frame("main.init", 501),
	}, "\n")
	if got := Collapse(msg); got != want {
		t.Errorf("Collapse:\n%s\nwant\n%s", got, want)
	}
	for _, plain := range []string{"", "exit code 2", "wasm error: unreachable\nwasm stack trace:\n" + frame("f", 1)} {
		if got := Collapse(plain); got != plain {
			t.Errorf("Collapse(%q) = %q, want it unchanged", plain, got)
		}
	}
}
