package loader

import (
	"bytes"

	"github.com/wasmhost/wasmhost/abi"
)

// guestOutput is an instance's WASI stdout or stderr. wazero fixes an
// instance's writers when it is instantiated, so this writer decides per
// line where the line goes: to the request the instance is serving, or to
// the plugin's log between requests. Lines are cut at newlines, and at
// abi.MaxLogBytes so a guest cannot make the host buffer without bound.
type guestOutput struct {
	inst    *instance
	level   int32
	partial []byte
}

func (w *guestOutput) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := abi.MaxLogBytes - len(w.partial)
			if len(p) < room {
				w.partial = append(w.partial, p...)
				break
			}
			w.partial = append(w.partial, p[:room]...)
			p = p[room:]
			w.emit()
			continue
		}
		if len(w.partial) == 0 {
			w.inst.log(w.level, p[:i])
		} else {
			w.partial = append(w.partial, p[:i]...)
			w.emit()
		}
		p = p[i+1:]
	}
	return n, nil
}

// flush emits a pending partial line, so that output written during a
// request without a final newline is still attributed to that request.
func (w *guestOutput) flush() {
	if len(w.partial) > 0 {
		w.emit()
	}
}

func (w *guestOutput) emit() {
	w.inst.log(w.level, w.partial)
	w.partial = w.partial[:0]
}
