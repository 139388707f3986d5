// Package stacktrace tidies the wasm stack traces in the runtimes' trap
// messages before wasmhost prints them.
package stacktrace

import (
	"fmt"
	"strings"
)

// stackTraceHeader starts the stack trace in the runtimes' trap messages;
// each frame follows on a line of its own starting with a tab, and the
// frame's source positions (inlined calls) on lines starting with two.
const stackTraceHeader = "\nwasm stack trace:\n"

// maxRecursionPeriod is the longest cycle of functions Collapse looks
// for: direct recursion has period 1, a mutual one between two functions 2.
const maxRecursionPeriod = 4

// Collapse shortens the wasm stack trace in a trap message: where
// the same function (or cycle of up to maxRecursionPeriod functions)
// repeats three times or more in a row, the first round is kept and the
// rest becomes one line, "… N more frames of the same recursion". A stack
// overflow in a recursive function otherwise prints a message of tens of
// kilobytes that says one thing.
func Collapse(msg string) string {
	head, trace, ok := strings.Cut(msg, stackTraceHeader)
	if !ok {
		return msg
	}
	frames := splitFrames(trace)
	keys := make([]string, len(frames))
	for i, f := range frames {
		keys[i] = frameFunction(f)
	}
	var b strings.Builder
	b.WriteString(head)
	b.WriteString(stackTraceHeader)
	for i := 0; i < len(frames); {
		period, reps := recursionAt(keys, i)
		if reps < 3 {
			b.WriteString(frames[i])
			i++
			continue
		}
		for _, f := range frames[i : i+period] {
			b.WriteString(f)
		}
		fmt.Fprintf(&b, "\t… %d more frames of the same recursion\n", (reps-1)*period)
		i += reps * period
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// splitFrames cuts a stack trace into frames, each with its source lines
// and a final newline.
func splitFrames(trace string) []string {
	var frames []string
	for _, line := range strings.SplitAfter(trace, "\n") {
		if line == "" {
			continue
		}
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		if strings.HasPrefix(line, "\t\t") && len(frames) > 0 {
			frames[len(frames)-1] += line
			continue
		}
		frames = append(frames, line)
	}
	return frames
}

// frameFunction is a frame's function (its first line up to the code
// offset): calls from different places in one function are one function.
func frameFunction(frame string) string {
	first, _, _ := strings.Cut(frame, "\n")
	fn, _, _ := strings.Cut(first, " 0x")
	return fn
}

// recursionAt finds the cycle of functions that repeats most often in a
// row from keys[i], and how many times it does.
func recursionAt(keys []string, i int) (period, reps int) {
	period, reps = 1, 1
	for p := 1; p <= maxRecursionPeriod && i+2*p <= len(keys); p++ {
		n := 1
		for j := i + p; j+p <= len(keys) && equalRuns(keys, i, j, p); j += p {
			n++
		}
		if n*p > reps*period && n >= 3 {
			period, reps = p, n
		}
	}
	return period, reps
}

func equalRuns(keys []string, a, b, n int) bool {
	for k := 0; k < n; k++ {
		if keys[a+k] != keys[b+k] {
			return false
		}
	}
	return true
}
