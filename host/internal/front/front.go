// Package front is the HTTP side of the host: it takes each request from
// net/http to a plugin's guest and the guest's answer back. It cleans the
// path, resolves the client (xheaders), serves static files before any
// plugin, routes by the longest mount, reads the request body ahead of the
// guest (the spool), gives the guest the exchange (environ, body,
// response), and finishes the response: a Content-Length when the guest
// never sent one, an error page when nothing was sent, a broken response
// when the status line was already out. Its site (routes, settings) comes
// with each request, so one request sees one version of the site.
package front

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/wasmhost/wasmhost/host/internal/chain"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/loader"
	"github.com/wasmhost/wasmhost/static"
)

// Plugin is a mounted plugin as the front serves it.
type Plugin interface {
	chain.Plugin
	// Config is the plugin's block: timeout, body limits, cookie scope.
	Config() *config.Plugin
	// Current is the version serving now and its pre-encoded environ
	// entries (the plugin is nil only for one that never loaded, which
	// Serving reports down).
	Current() (p *loader.Plugin, fixedEnviron []byte)
	// CountCutTimeout counts a request the front cut off at its deadline
	// after the guest had returned (its body read or write was cut): the
	// guest saw no timeout, so the loader did not count one.
	CountCutTimeout()
}

// Site is one version of the site as the front serves it.
type Site struct {
	Server *config.Server
	Static *static.Handler // nil without a static block
	Routes *Routes
}

// Options configure a Front.
type Options struct {
	Log      hclog.Logger // the access log is its "access" logger
	WorkerID int
	// Observe counts a finished request (the plugin is "" for requests no
	// plugin served).
	Observe func(plugin string, status int, d time.Duration)
	// Services are what guests reach of the site beyond their request.
	Services chain.Site
}

// Front serves requests, each with the Site it is given.
type Front struct {
	log       hclog.Logger
	access    hclog.Logger
	workerID  int
	observe   func(plugin string, status int, d time.Duration)
	services  chain.Site
	exchanges sync.Pool
	reqSeq    atomic.Uint64
	reqPrefix string
}

// New is a Front with opts.
func New(opts Options) *Front {
	f := &Front{log: opts.Log, workerID: opts.WorkerID, observe: opts.Observe, services: opts.Services}
	if f.log == nil {
		f.log = hclog.NewNullLogger()
	}
	if f.observe == nil {
		f.observe = func(string, int, time.Duration) {}
	}
	f.access = f.log.Named("access")
	var seed [4]byte
	rand.Read(seed[:])
	f.reqPrefix = fmt.Sprintf("%08x", binary.BigEndian.Uint32(seed[:]))
	f.exchanges.New = func() any { return new(exchange) }
	return f
}

// appendRequestID appends the next request ID to b. It is kept as bytes:
// the environ copies it, and only a log line needs it as a string.
func (f *Front) appendRequestID(b []byte) []byte {
	n := f.reqSeq.Add(1)
	b = append(b, f.reqPrefix...)
	b = append(b, '-')
	return strconv.AppendUint(b, n, 16)
}
