package loader

import "github.com/samyfodil/wazy"

// wazy's compiled code reads Go's own preemption word at loop headers and
// the entries of recursive functions, so a call is always interruptible
// without a watcher goroutine and without leaving native code; a done
// context ends the call like a trap (Plugin.classify reads the context to
// tell a timeout from a trap). There is nothing to configure, and nothing
// can turn it off, so Options.NoInterruption does not apply.
func wazyInterruption(cfg wazy.RuntimeConfig, _ bool) wazy.RuntimeConfig { return cfg }
