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
	"os"
	"strconv"
	"syscall"
	"time"
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

// Client makes one plugin's outbound requests.
type Client struct {
	rules     Rules
	transport *http.Transport
	slots     chan struct{}
	// Observe, when set, is called after each request with the
	// destination host, the status (0 for a failure) and the time to the
	// response head.
	Observe func(host string, status int, d time.Duration)

	// Resolver resolves host names; nil is the system's. Whatever it
	// answers, the addresses are checked before they are dialled.
	Resolver Resolver

	dialer *net.Dialer
}

// Resolver is the part of *net.Resolver the client uses.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// NewClient returns the client of a plugin with these rules. caFile, if
// not empty, is a PEM file of extra certificate authorities trusted
// besides the system's.
func NewClient(rules Rules, caFile string) (*Client, error) {
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("outbound ca_file: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("outbound ca_file %s: no PEM certificate in it", caFile)
		}
	}
	c := &Client{rules: rules, slots: make(chan struct{}, MaxConcurrent)}
	c.dialer = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: c.control}
	c.transport = &http.Transport{
		Proxy:                  nil, // the host's proxy settings are not the guest's to use
		DialContext:            c.dial,
		TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
		MaxIdleConnsPerHost:    8,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return c, nil
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

// Check reports whether the request's URL is allowed, as a *DeniedError.
func (c *Client) Check(req *http.Request) error {
	u := req.URL
	scheme := u.Scheme
	if scheme != "http" && scheme != "https" {
		return &DeniedError{Dest: u.Redacted(), Reason: "only http and https are supported"}
	}
	host := u.Hostname()
	port := 80
	if scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return &DeniedError{Dest: u.Host, Reason: "bad port"}
		}
		port = n
	}
	dest := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port))
	if len(c.rules) == 0 {
		return &DeniedError{Dest: dest, Reason: "the plugin has no allowed_hosts"}
	}
	if !c.rules.Allows(scheme, host, port) {
		return &DeniedError{Dest: dest, Reason: "not in the plugin's allowed_hosts"}
	}
	return nil
}

// ErrBusy is returned when a plugin already has MaxConcurrent requests in
// flight and ctx ends before one finishes.
var ErrBusy = errors.New("too many outbound requests in flight")

// RoundTrip makes one request, without following redirects, under the
// request's context (which the caller ties to the inbound request). The
// concurrency slot it takes is released by release, which the caller
// calls when it is done with the response body.
func (c *Client) RoundTrip(req *http.Request) (resp *http.Response, release func(), err error) {
	if err := c.Check(req); err != nil {
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
		}
	}
	start := time.Now()
	resp, err = c.transport.RoundTrip(req)
	if c.Observe != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		c.Observe(req.URL.Hostname(), status, time.Since(start))
	}
	if err != nil {
		release()
		return nil, nil, err
	}
	return resp, release, nil
}

// Close closes idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }
