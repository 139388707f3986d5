package serving

import (
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// lowOpenFiles is the hard limit below which a server is likely to run out
// of descriptors: each connection takes one, and so does each plugin file
// and cache entry being read.
const lowOpenFiles = 4096

// RaiseOpenFiles raises the soft RLIMIT_NOFILE to the hard limit and logs
// both. Only root can raise the hard limit, so the message says where
// process managers set it.
//
// The Go runtime already raises the soft limit to one below the hard
// limit when a program starts (go.dev/issue/46279) and restores the
// original one for processes it starts. Setting it here, explicitly,
// makes workers inherit the raised limit too; "was" is therefore the
// runtime's value, not the one wasmhost was started with.
func RaiseOpenFiles(log hclog.Logger) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("open files limit: cannot read it", "error", err)
		return
	}
	was := lim.Cur
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			log.Warn("open files limit: cannot raise the soft limit", "soft", was, "hard", lim.Max, "error", err)
			return
		}
	}
	const hint = "raise the hard limit with LimitNOFILE= (systemd) or minfds (supervisord)"
	if lim.Max < lowOpenFiles {
		log.Warn("open files limit is low", "soft", lim.Cur, "was", was, "hard", lim.Max, "hint", hint)
		return
	}
	log.Info("open files limit", "soft", lim.Cur, "was", was, "hard", lim.Max, "hint", hint)
}
