// Package sdnotify tells systemd about a service's state changes, for
// units of Type=notify: ready, reloading, stopping, and which process is
// the main one after an upgrade.
package sdnotify

import (
	"net"
	"os"
	"strings"
)

// Notify sends a state change to systemd when the service runs as
// Type=notify (sd_notify(3): a datagram on $NOTIFY_SOCKET), e.g.
// "READY=1", "RELOADING=1", "STOPPING=1", "MAINPID=123". It does nothing
// outside systemd. Errors are ignored, as sd_notify callers do: a lost
// notification is systemd's timeout to report, not a reason to stop
// serving.
func Notify(state ...string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:] // an abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte(strings.Join(state, "\n")))
}
