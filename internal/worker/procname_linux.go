package worker

import "os"

// setProcessName sets the name that top, ps -e and pidof show. A worker
// started through /proc/self/exe would otherwise be called "exe"; as
// "wasmhost-w3" it says which worker it is, and "pidof wasmhost" finds
// the master alone. /proc/self/comm is the main thread's name, whichever
// thread writes it.
func setProcessName(name string) {
	os.WriteFile("/proc/self/comm", []byte(name), 0)
}
