package outbound

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wasmhost/wasmhost/abi"
)

// Limits of one plugin's outbound traffic, per process.
const (
	// MaxConcurrent bounds a plugin's outbound requests in flight: a
	// guest looping over http.Get must not open thousands of connections.
	MaxConcurrent = 64
	// MaxResponseHeaderBytes bounds a response's status line and headers.
	MaxResponseHeaderBytes = 64 << 10
	// MaxRedirects is how many redirects the SDK's client follows.
	MaxRedirects = 10
)

// DeniedError is a request to a destination the plugin may not reach.
type DeniedError struct {
	Dest   string // scheme://host:port, or the dialled address
	Reason string
}

func (e *DeniedError) Error() string {
	return "outbound request to " + e.Dest + " not allowed: " + e.Reason
}

// Errno is the code a guest gets for the refusal: abi.ErrDenied.
func (e *DeniedError) Errno() int32 { return abi.ErrDenied }

// Client makes one plugin's outbound requests.
type Client struct {
	rules     Rules
	transport *http.Transport // nil without rules: nothing to reach
	slots     chan struct{}
	// Observe, when set, is called after each request with the
	// allowed_hosts entry it matched (in its normal form, so the set of
	// values is the plugin's rules, whatever hosts a guest names), the
	// status (0 for a failure) and the time to the response head.
	Observe func(allowed string, status int, d time.Duration)

	// closed is set by Close: the client's plugin was reloaded or removed,
	// so a connection left idle by a request that was still running is
	// closed when that request ends.
	closed atomic.Bool

	// Resolver resolves host names; nil is the system's. Whatever it
	// answers, the addresses are checked before they are dialled.
	Resolver Resolver

	dialer *net.Dialer
}

// Resolver is the part of *net.Resolver the client uses.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DenyAll is the client of a plugin without services: it refuses every
// request, and costs nothing to use.
var DenyAll = &Client{}

// NewClient returns the client of a plugin with these rules. caFile, if
// not empty, is a PEM file of extra certificate authorities trusted
// besides the system's. Without rules there is nothing to reach: the
// client has no transport, and no copy of the system's certificates.
func NewClient(rules Rules, caFile string) (*Client, error) {
	if len(rules) == 0 {
		// The file is still checked: a bad ca_file is a mistake in the
		// site, whichever plugins use it.
		if caFile != "" {
			if _, err := roots(x509.NewCertPool(), caFile); err != nil {
				return nil, err
			}
		}
		return &Client{}, nil
	}
	system, err := x509.SystemCertPool()
	if err != nil {
		system = x509.NewCertPool()
	}
	pool, err := roots(system, caFile)
	if err != nil {
		return nil, err
	}
	c := &Client{rules: rules, slots: make(chan struct{}, MaxConcurrent)}
	c.dialer = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: c.control}
	c.transport = &http.Transport{
		Proxy:                  nil, // the host's proxy settings are not the guest's to use
		DialContext:            c.dial,
		TLSClientConfig:        &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
		MaxIdleConnsPerHost:    8,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return c, nil
}

// roots adds the certificates of caFile, if any, to pool.
func roots(pool *x509.CertPool, caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("outbound ca_file: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("outbound ca_file %s: no PEM certificate in it", caFile)
	}
	return pool, nil
}

// dial resolves the name and dials its addresses in turn, each checked
// and dialled as an IP literal, so no second resolution can differ from
// the one checked. control checks the dialled address once more.
func (c *Client) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	var r Resolver = net.DefaultResolver
	if c.Resolver != nil {
		r = c.Resolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	var first error
	for _, ip := range ips {
		if !c.rules.mayDial(host, ip) {
			if first == nil {
				first = &DeniedError{Dest: address + " (" + ip.String() + ")", Reason: "a host name never reaches a loopback, private, link-local or metadata address; only an allowed_hosts entry naming that IP (or localhost) does"}
			}
			continue
		}
		conn, err := c.dialer.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = fmt.Errorf("no address for %s", host)
	}
	return nil, first
}

// control runs for every connection the transport dials, with the address
// actually dialled, after name resolution: the one place a DNS answer
// cannot change after the check.
func (c *Client) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &DeniedError{Dest: address, Reason: "unparsable address"}
	}
	if !c.rules.allowsAddr(ap.Addr(), int(ap.Port())) {
		return &DeniedError{Dest: address, Reason: "a loopback, private, link-local or metadata address is reachable only through an allowed_hosts entry naming that IP and port"}
	}
	return nil
}

// Check reports whether the request is allowed, as a *DeniedError.
func (c *Client) Check(req *http.Request) error {
	_, err := c.check(req)
	return err
}

// check returns the rule the request matched. Beyond the URL's scheme,
// host and port it refuses what would let a request reach something other
// than what its URL names: a Host header naming another host (domain
// fronting through a shared front end), CONNECT (a tunnel to anywhere),
// credentials, an opaque URL, an IPv6 zone or a trailing dot (names a
// front end may route otherwise than the rule's).
func (c *Client) check(req *http.Request) (Rule, error) {
	u := req.URL
	dest, host, port, err := destination(u)
	if err != nil {
		return Rule{}, err
	}
	if len(c.rules) == 0 {
		return Rule{}, &DeniedError{Dest: dest, Reason: "the plugin has no allowed_hosts"}
	}
	r, ok := c.rules.match(u.Scheme, host, port)
	if !ok {
		return Rule{}, &DeniedError{Dest: dest, Reason: "not in the plugin's allowed_hosts"}
	}
	if req.Method == http.MethodConnect {
		return Rule{}, &DeniedError{Dest: dest, Reason: "CONNECT asks the destination for a tunnel to another one"}
	}
	for _, h := range append([]string{req.Host}, req.Header.Values("Host")...) {
		if h != "" && !sameAuthority(u.Scheme, h, host, port) {
			return Rule{}, &DeniedError{Dest: dest, Reason: fmt.Sprintf("the Host header %q names another destination than the URL's %s", h, dest)}
		}
	}
	return r, nil
}

// destination is the URL's scheme://host:port, its host and its port,
// or why it cannot be a destination.
func destination(u *url.URL) (dest, host string, port int, err error) {
	scheme := u.Scheme
	if scheme != "http" && scheme != "https" {
		return "", "", 0, &DeniedError{Dest: u.Redacted(), Reason: "only http and https are supported"}
	}
	host = u.Hostname()
	deny := func(reason string) (string, string, int, error) {
		return "", "", 0, &DeniedError{Dest: u.Redacted(), Reason: reason}
	}
	switch {
	case u.Opaque != "" || host == "":
		return deny("the URL names no host")
	case u.User != nil:
		return deny("credentials in the URL are not sent (set an Authorization header)")
	case strings.Contains(host, "%"):
		return deny("an IPv6 zone is not allowed")
	case strings.HasSuffix(host, "."):
		return deny("a host name with a trailing dot is not allowed (write it without)")
	}
	port, ok := urlPort(scheme, u.Port())
	if !ok {
		return deny("bad port")
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)), host, port, nil
}

// urlPort is the port a URL's port field names, the scheme's if empty.
func urlPort(scheme, p string) (int, bool) {
	if p == "" {
		if scheme == "https" {
			return 443, true
		}
		return 80, true
	}
	n, err := strconv.Atoi(p)
	return n, err == nil && n >= 1 && n <= 65535
}

// sameAuthority reports whether the Host header value h names host:port
// (the port defaulting to the scheme's), as the URL does.
func sameAuthority(scheme, h, host string, port int) bool {
	hh, hp := h, ""
	if sh, sp, err := net.SplitHostPort(h); err == nil {
		hh, hp = sh, sp
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		hh = h[1 : len(h)-1]
	}
	n, ok := urlPort(scheme, hp)
	if !ok || n != port {
		return false
	}
	return normalHost(hh) == normalHost(host)
}

// normalHost is a host name in lower case, or an IP address in its
// canonical form.
func normalHost(h string) string {
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap().String()
	}
	return strings.ToLower(h)
}

// ErrBusy is returned when a plugin already has MaxConcurrent requests in
// flight and ctx ends before one finishes.
var ErrBusy = errors.New("too many outbound requests in flight")

// RoundTrip makes one request, without following redirects, under the
// request's context (which the caller ties to the inbound request). The
// concurrency slot it takes is released by release, which the caller
// calls when it is done with the response body.
func (c *Client) RoundTrip(req *http.Request) (resp *http.Response, release func(), err error) {
	rule, err := c.check(req)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, nil, err
	}
	select {
	case c.slots <- struct{}{}:
	case <-req.Context().Done():
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, nil, fmt.Errorf("%w: %w", ErrBusy, req.Context().Err())
	}
	released := false
	release = func() {
		if !released {
			released = true
			<-c.slots
			if c.closed.Load() {
				// Its connection went back to the idle pool of a client
				// no request will use again.
				c.transport.CloseIdleConnections()
			}
		}
	}
	start := time.Now()
	resp, err = c.transport.RoundTrip(req)
	if c.Observe != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		c.Observe(rule.String(), status, time.Since(start))
	}
	if err != nil {
		release()
		return nil, nil, err
	}
	return resp, release, nil
}

// Close is called when no new request will use the client (its plugin
// was reloaded or removed): idle connections are closed now, and those of
// the requests still running as each ends, rather than after the
// transport's idle timeout, 90 s per reload.
func (c *Client) Close() {
	if c.transport == nil {
		return
	}
	c.closed.Store(true)
	c.transport.CloseIdleConnections()
}
