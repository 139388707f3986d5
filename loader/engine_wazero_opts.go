package loader

import "github.com/tetratelabs/wazero"

// wazero, the reference engine, stops a guest by closing its module from a
// goroutine that watches the call's context (one per call); its compiled
// code notices at loop headers and calls, by leaving native code to check.
// That check is the main cost of a standard-Go guest on wazero, and it must
// stay on: without it a looping guest freezes the process.
func wazeroInterruption(cfg wazero.RuntimeConfig, off bool) wazero.RuntimeConfig {
	return cfg.WithCloseOnContextDone(!off)
}
