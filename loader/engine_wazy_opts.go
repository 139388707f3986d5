package loader

import "github.com/samyfodil/wazy"

// wazy's compiled code reads Go's own preemption word at loop headers and
// the entries of recursive functions, so a call is always interruptible
// without a watcher goroutine and without leaving native code; a done
// context ends the call like a trap (Plugin.classify reads the context to
// tell a timeout from a trap). There is nothing to configure, and nothing
// can turn it off, so Options.NoInterruption does not apply.
func wazyInterruption(cfg wazy.RuntimeConfig, _ bool) wazy.RuntimeConfig { return cfg }

// wazyFS mounts the granted folders with wazy's own mounts: wazy has no
// sysfs hooks for the corrections wazeroFS makes (guestfs.go), so a guest
// on wazy sees wazero's original errors for a path outside its grants
// ("bad file number") and a write to a read-only one ("not implemented"),
// and creates files 0600.
func wazyFS(dirs []Dir) wazy.FSConfig {
	fs := wazy.NewFSConfig()
	for _, d := range dirs {
		if d.Writable {
			fs = fs.WithDirMount(d.Host, d.Guest)
		} else {
			fs = fs.WithReadOnlyDirMount(d.Host, d.Guest)
		}
	}
	return fs
}
