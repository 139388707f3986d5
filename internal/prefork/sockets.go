package prefork

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Environment variables between wasmhost processes. They are removed from
// the environment as soon as they are read, so that nothing started later
// mistakes them for its own.
// (internal/control names the one that marks a worker.)
const (
	// envUpgrade lists the names of the descriptors a new master inherits
	// from the old one on USR2, from fd 3 on: "ready", then "http" for
	// each listener and "admin" for the admin listener.
	envUpgrade = "WASMHOST_UPGRADE_FDS"
)

// firstFD is the first inherited descriptor, after stdin, stdout and stderr.
const firstFD = 3

// Sockets are the listening sockets of a wasmhost process. A socket stays
// open, and keeps queueing connections, while any process holds a
// descriptor for it; that is what makes restarts of every kind seamless.
//
// They are kept as bare descriptors, not *os.File: os.NewFile registers a
// non-blocking descriptor with the process's poller, and a master that
// never accepts would then be woken by every incoming connection. Files
// are made only to hand the sockets to another process (Files), and
// net.Listeners only where connections are accepted (Listeners).
type Sockets struct {
	http  []int
	admin int // -1 without an admin socket
	// From says where the sockets came from: "" (bound here), "systemd"
	// (socket activation) or "upgrade" (an old master, on USR2).
	From string

	ready *os.File // upgrade only: tells the old master we are serving
}

// Inherit takes the listening sockets this process was started with:
// systemd's (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES; a socket named
// "admin" is the admin listener, the others serve HTTP), or an old
// master's on USR2. Without either it returns empty Sockets.
func Inherit() (*Sockets, error) {
	s := &Sockets{admin: -1}
	if names, ok := os.LookupEnv(envUpgrade); ok {
		os.Unsetenv(envUpgrade)
		s.From = "upgrade"
		for i, name := range strings.Split(names, ",") {
			fd := firstFD + i
			// Inherited descriptors lose close-on-exec; without it they
			// would leak into this master's workers, and the old master
			// would never see EOF on the ready pipe.
			unix.CloseOnExec(fd)
			switch name {
			case "ready":
				s.ready = os.NewFile(uintptr(fd), "upgrade-ready")
			case "http":
				s.http = append(s.http, fd)
			case "admin":
				s.admin = fd
			default:
				s.Close()
				return nil, fmt.Errorf("%s: unknown descriptor name %q", envUpgrade, name)
			}
		}
		return s, s.check()
	}
	pid, fds, names := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k)
	}
	if pid == "" || fds == "" {
		return s, nil
	}
	if p, err := strconv.Atoi(pid); err != nil || p != os.Getpid() {
		return s, nil // meant for another process: sd_listen_fds(3) ignores them too
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("LISTEN_FDS=%q: want a positive number", fds)
	}
	nameList := strings.Split(names, ":")
	s.From = "systemd"
	for i := range n {
		fd := firstFD + i
		unix.CloseOnExec(fd) // ours only: children get them explicitly
		if i < len(nameList) && nameList[i] == "admin" {
			s.admin = fd
		} else {
			s.http = append(s.http, fd)
		}
	}
	return s, s.check()
}

// check makes sure every inherited descriptor is a listening TCP socket.
func (s *Sockets) check() error {
	for _, fd := range s.all() {
		if _, err := fdAddr(fd); err != nil {
			s.Close()
			return fmt.Errorf("inherited descriptor %d (%s): %w", fd, s.From, err)
		}
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || v == 0 {
			s.Close()
			return fmt.Errorf("inherited descriptor %d (%s): not a listening socket", fd, s.From)
		}
	}
	return nil
}

// Bind listens on addrs unless HTTP sockets were inherited, and on the
// admin address (if not "") unless an admin socket was inherited. With
// reusePort the HTTP sockets are bound with SO_REUSEPORT, so that other
// processes can bind the same address and the kernel spreads new
// connections over all of them.
func (s *Sockets) Bind(addrs []string, reusePort bool, admin string) error {
	if len(s.http) == 0 {
		for _, addr := range addrs {
			fd, err := bind(addr, reusePort)
			if err != nil {
				return fmt.Errorf("cannot listen on %s: %w", addr, err)
			}
			s.http = append(s.http, fd)
		}
	}
	if admin != "" && s.admin < 0 {
		fd, err := bind(admin, false)
		if err != nil {
			return fmt.Errorf("cannot listen for admin on %s: %w", admin, err)
		}
		s.admin = fd
	}
	return nil
}

func bind(addr string, reusePort bool) (int, error) {
	lc := net.ListenConfig{}
	if reusePort {
		lc.Control = func(network, address string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}); err != nil {
				return err
			}
			if serr != nil {
				return fmt.Errorf("SO_REUSEPORT: %w", serr)
			}
			return nil
		}
	}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return -1, err
	}
	defer ln.Close() // the descriptor below is a second one for the same socket
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(lfd uintptr) { fd, derr = dupCloexec(int(lfd)) }); err != nil {
		return -1, err
	}
	return fd, derr
}

// dupCloexec duplicates a descriptor, close-on-exec as every descriptor of
// a Go program is: a child gets only what it is explicitly given.
func dupCloexec(fd int) (int, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("dup: %w", err)
	}
	return nfd, nil
}

// fdAddr is the local address of a TCP socket.
func fdAddr(fd int) (string, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "", err
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String(), nil
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(a.Addr)
		if a.ZoneId != 0 {
			if ifc, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				ip = ip.WithZone(ifc.Name)
			}
		}
		return netip.AddrPortFrom(ip, uint16(a.Port)).String(), nil
	}
	return "", fmt.Errorf("not a TCP socket (%T)", sa)
}

// file makes a new *os.File for a socket; closing it leaves the socket
// open in this process.
//
// Not (*net.TCPListener).File: os/exec calls Fd on the files it hands to
// a child, and Fd on a file made by the net package switches the socket
// to blocking mode. The mode belongs to the socket, shared by every
// process that holds it, so a worker's accept could then block in the
// kernel after another worker took the connection, and a worker being
// retired would take one more connection that it never serves.
func file(fd int, name string) (*os.File, error) {
	nfd, err := dupCloexec(fd)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(nfd), name), nil
}

// Files returns new files for the HTTP sockets and, if withAdmin and
// there is one, the admin socket, with their names ("http", "admin"), to
// hand to a child process. The caller closes them once it has started.
func (s *Sockets) Files(withAdmin bool) ([]*os.File, []string, error) {
	var fs []*os.File
	var names []string
	add := func(fd int, name string) error {
		f, err := file(fd, name)
		if err != nil {
			closeAll(fs)
			return err
		}
		fs, names = append(fs, f), append(names, name)
		return nil
	}
	for _, fd := range s.http {
		if err := add(fd, "http"); err != nil {
			return nil, nil, err
		}
	}
	if withAdmin && s.admin >= 0 {
		if err := add(s.admin, "admin"); err != nil {
			return nil, nil, err
		}
	}
	return fs, names, nil
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// Listeners makes net.Listeners of the HTTP sockets. Each has its own
// descriptor: closing it, as http.Server.Shutdown does, leaves the
// sockets open in this process.
func (s *Sockets) Listeners() ([]net.Listener, error) {
	var lns []net.Listener
	for _, fd := range s.http {
		ln, err := fdListener(fd)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// AdminListener makes a net.Listener of the admin socket, or returns nil.
func (s *Sockets) AdminListener() (net.Listener, error) {
	if s.admin < 0 {
		return nil, nil
	}
	return fdListener(s.admin)
}

func fdListener(fd int) (net.Listener, error) {
	f, err := file(fd, "listener")
	if err != nil {
		return nil, err
	}
	defer f.Close() // FileListener has its own descriptor
	return net.FileListener(f)
}

// Addrs are the HTTP sockets' addresses.
func (s *Sockets) Addrs() []string {
	var out []string
	for _, fd := range s.http {
		a, err := fdAddr(fd)
		if err != nil {
			a = "?"
		}
		out = append(out, a)
	}
	return out
}

// AdminAddr is the admin socket's address, or "".
func (s *Sockets) AdminAddr() string {
	if s.admin < 0 {
		return ""
	}
	a, _ := fdAddr(s.admin)
	return a
}

// HasAdmin says whether there is an admin socket.
func (s *Sockets) HasAdmin() bool { return s.admin >= 0 }

// CloseAdmin closes the admin socket (an inherited one the site no longer
// wants).
func (s *Sockets) CloseAdmin() {
	if s.admin >= 0 {
		unix.Close(s.admin)
		s.admin = -1
	}
}

// SignalReady tells the old master that started this one (USR2) that it
// is serving, so that the old one can retire. It does nothing otherwise.
func (s *Sockets) SignalReady() error {
	if s.ready == nil {
		return nil
	}
	_, err := fmt.Fprintf(s.ready, "ready %d\n", os.Getpid())
	s.ready.Close()
	s.ready = nil
	return err
}

// CloseHTTP closes this process's descriptors for the HTTP sockets. Once
// every process holding one has closed it, the kernel refuses new
// connections instead of queueing them for nobody.
func (s *Sockets) CloseHTTP() {
	for _, fd := range s.http {
		unix.Close(fd)
	}
	s.http = nil
}

// Close closes every descriptor.
func (s *Sockets) Close() {
	s.CloseHTTP()
	s.CloseAdmin()
	if s.ready != nil {
		s.ready.Close()
		s.ready = nil
	}
}

func (s *Sockets) all() []int {
	fds := append([]int(nil), s.http...)
	if s.admin >= 0 {
		fds = append(fds, s.admin)
	}
	return fds
}
