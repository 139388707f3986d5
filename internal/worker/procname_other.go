//go:build !linux

package worker

// setProcessName does nothing: only Linux names a process by a file.
func setProcessName(string) {}
