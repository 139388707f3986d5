package host

import (
	"context"
	"errors"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/wasmhost/wasmhost/host/internal/chain"
	"github.com/wasmhost/wasmhost/host/internal/front"
	"github.com/wasmhost/wasmhost/host/internal/gateway"
	"github.com/wasmhost/wasmhost/host/internal/live"
	"github.com/wasmhost/wasmhost/host/internal/services"
	"github.com/wasmhost/wasmhost/internal/config"
	"github.com/wasmhost/wasmhost/internal/hostconfig"
	"github.com/wasmhost/wasmhost/loader"
	"github.com/wasmhost/wasmhost/static"
)

// Options configure a Server. Site and Loader are required.
type Options struct {
	Site     *Site
	Loader   *loader.Loader // compiles and runs the plugins; the caller closes it after Shutdown
	Logger   hclog.Logger   // nil: no logging
	WorkerID int            // wasmhost.worker_id in the guests' environ
	// RelayPath is the master's relay socket that joins the local pubsub
	// blocks of every worker ("": this is the only process).
	RelayPath string
	Version   string // wasmhost.version in the guests' environ
}

// Server serves a site: it routes each request to a plugin and runs it.
type Server struct {
	log      hclog.Logger
	workerID int
	version  string
	loader   *loader.Loader

	// state is everything a reload replaces; a request loads it once and
	// sees one consistent site from start to end, without locks.
	state atomic.Pointer[siteState]
	// reloadMu orders site reloads with each other and with Shutdown: one
	// Reload at a time, none after Shutdown (closed). Swaps of one plugin
	// are ordered by that plugin's swapMu instead (see mountedPlugin).
	reloadMu sync.Mutex
	closed   bool // under reloadMu
	// background counts compilations running after a swap; Shutdown waits
	// for them until its deadline, then abandons them. bgMu orders
	// background.Add with background.Wait: after bgClosed, none starts.
	// bgCtx is their context: Shutdown cancels it when its own deadline
	// passes (waitBackground).
	bgMu       sync.Mutex
	bgClosed   bool
	background sync.WaitGroup
	bgCtx      context.Context
	bgCancel   context.CancelFunc
	watcher    *loader.Watcher
	watched    map[string]bool // plugin files being watched; under reloadMu
	teardown   sync.Once

	front    *front.Front // the request path
	metrics  *metrics
	totalsMu sync.Mutex
	totals   map[string]*pluginTotals // by plugin name, across reloads
	started  time.Time

	cert *front.Certificate // nil without a tls block

	stores *services.Registry // key-value stores, opened on first use
	hubs   *live.Hubs         // pubsub hubs of this worker, one per pubsub block
	// storeGrace, if set, replaces how long a store left without a claim
	// by a reload stays open (requestsEndWithin); tests shorten it.
	storeGrace time.Duration

	mu      sync.Mutex
	servers []*http.Server
	stopped bool // Shutdown has begun: Serve starts no more servers
}

// siteState is one version of the site: its config, plugins and routes.
type siteState struct {
	site    *config.Site
	front   *front.Site // what the request path serves: settings, static files, routes
	plugins []*mountedPlugin
	static  *static.Handler                 // nil without a static block
	chains  map[*mountedPlugin]*chain.Chain // plugins served through middleware
}

// mountedPlugin is a plugin as the router sees it: its settings, and the
// loaded version currently serving, which a reload can replace.
//
// swapMu makes every change of current one at a time, and retired (under
// swapMu) final: once a reload removes the plugin or Shutdown closes the
// site, its serving version is closed, and a swap or background compile
// that finishes later closes what it loaded instead of storing it. So
// every version loaded is closed exactly once, whatever the order.
type mountedPlugin struct {
	cfg     config.Plugin
	log     hclog.Logger
	current atomic.Pointer[loadedVersion]
	swapMu  sync.Mutex
	retired bool          // under swapMu
	totals  *pluginTotals // counters across versions; shared by every mountedPlugin of this name
	// services are the plugin's stores and outbound client, the same for
	// every version of it.
	services  *services.Plugin
	live      *live.Plugin           // WebSocket endpoint and pubsub; nil for a plugin with neither
	lastError atomic.Pointer[string] // why the last new version was refused; nil once one loads
	failure   atomic.Pointer[string] // set: requests get this error page (SetPluginFailure)
}

type loadedVersion struct {
	plugin *loader.Plugin // nil for a plugin that failed to load at a debug start
	fixed  []byte         // pre-encoded environ entries for this version
}

func (lv *loadedVersion) close() {
	if lv.plugin != nil {
		lv.plugin.Close()
	}
}

func (lv *loadedVersion) version() string {
	if lv.plugin == nil {
		return ""
	}
	return lv.plugin.Version
}

// New loads every plugin of the site. If any fails, the others are closed
// and the error joins one *loader.LoadError per failed plugin (and a
// *ConfigError for uses of plugins that their kinds refuse).
func New(ctx context.Context, opts Options) (*Server, error) {
	switch {
	case opts.Site == nil || opts.Site.cfg == nil:
		return nil, errors.New("host: Options.Site is missing (see LoadSite)")
	case opts.Loader == nil:
		return nil, errors.New("host: Options.Loader is missing (see loader.New)")
	}
	site := opts.Site.cfg
	s := &Server{
		log:      opts.Logger,
		loader:   opts.Loader,
		workerID: opts.WorkerID,
		version:  opts.Version,
		metrics:  newMetrics(),
		totals:   map[string]*pluginTotals{},
		started:  time.Now(),
	}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	s.stores = services.NewRegistry()
	hubs, err := live.NewHubs(site.Pubsub, opts.RelayPath)
	if err != nil {
		return nil, err
	}
	s.hubs = hubs
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	s.front = front.New(front.Options{Log: s.log, WorkerID: s.workerID, Observe: s.metrics.observe, Services: siteServices{s}})

	if t := site.Server.TLS; t != nil {
		cert, err := front.LoadCertificate(t.Cert, t.Key)
		if err != nil {
			hubs.Close()
			return nil, err
		}
		s.cert = cert
	}
	st, err := s.newState(ctx, site, nil)
	if err != nil {
		hubs.Close()
		return nil, err
	}
	s.state.Store(st)
	if site.Server.Autoreload {
		if err := s.startWatching(); err != nil {
			s.closeState(st)
			return nil, err
		}
	}
	return s, nil
}

// newState loads a site's plugins and static handler. Plugins of prev
// whose settings did not change are kept as they are (a reload then costs
// nothing for them); the rest are loaded anew. On error everything newly
// loaded is closed and prev is untouched; the error joins one
// *loader.LoadError per plugin that failed.
func (s *Server) newState(ctx context.Context, site *config.Site, prev *siteState) (*siteState, error) {
	st := &siteState{site: site}
	kept := map[string]*mountedPlugin{}
	if prev != nil {
		for _, mp := range prev.plugins {
			kept[mp.cfg.Name] = mp
		}
	}
	var errs []error
	var rs []front.Route
	var fresh []*mountedPlugin
	loads := s.loadChanged(ctx, site, kept)
	for i, pc := range site.Plugins {
		ld := loads[i]
		if ld == nil {
			old := kept[pc.Name]
			st.plugins = append(st.plugins, old)
			rs = append(rs, front.Route{Mount: pc.Mount, Plugin: servedPlugin{old}})
			continue
		}
		svc, lp, err := ld.svc, ld.plugin, ld.err
		if svc == nil {
			errs = append(errs, err)
			continue
		}
		if err != nil && !site.Server.Debug {
			errs = append(errs, err)
			continue
		}
		mp := &mountedPlugin{cfg: pc, log: s.log.Named(pc.Name), totals: s.totalsFor(pc.Name), services: svc}
		if err != nil {
			// Under debug a plugin that does not load keeps its mount,
			// which shows why, and loads when its file is fixed.
			mp.current.Store(&loadedVersion{})
			msg := err.Error()
			mp.lastError.Store(&msg)
			mp.log.Error("plugin did not load; its requests get the error until its file is fixed", "error", msg)
		} else {
			mp.current.Store(s.wrap(mp, lp))
		}
		s.attachLive(mp, kept[pc.Name])
		fresh = append(fresh, mp)
		st.plugins = append(st.plugins, mp)
		rs = append(rs, front.Route{Mount: pc.Mount, Plugin: servedPlugin{mp}})
	}
	if len(errs) == 0 {
		errs = append(errs, s.newChains(st))
	}
	if errors.Join(errs...) == nil {
		errs = append(errs, s.newStatic(st))
	}
	if err := errors.Join(errs...); err != nil {
		for _, mp := range fresh {
			mp.current.Load().close()
			s.restoreLive(mp, kept[mp.cfg.Name])
		}
		for _, ld := range loads {
			if ld != nil {
				ld.svc.Release(0) // nothing served with them
			}
		}
		return nil, err
	}
	for i := range rs { // newChains settled the mounts of plugins without one
		rs[i].Mount = site.Plugins[i].Mount
		rs[i].Chain = st.chains[rs[i].Plugin.(servedPlugin).mp]
	}
	st.front = &front.Site{Server: &site.Server, Static: st.static, Routes: front.NewRoutes(rs)}
	return st, nil
}

// pluginLoad is the outcome of loading one plugin block for newState: its
// services (nil if they could not be set up, with err saying why) and the
// loaded plugin, or the error that stopped it.
type pluginLoad struct {
	svc    *services.Plugin
	plugin *loader.Plugin
	err    error
}

// loadChanged loads, in parallel, every plugin of site that cannot be kept
// from the running state; loads[i] is nil for a kept plugin i. Loading is
// mostly the engine decoding and compiling (or reading back from the
// cache) a module of several MiB, one core's work per plugin: a site of a
// dozen plugins started in 3.2 s one at a time on two cores.
func (s *Server) loadChanged(ctx context.Context, site *config.Site, kept map[string]*mountedPlugin) []*pluginLoad {
	loads := make([]*pluginLoad, len(site.Plugins))
	slots := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, pc := range site.Plugins {
		if old := kept[pc.Name]; old != nil && samePlugin(old.cfg, pc) && old.services.Unchanged(site, pc) {
			continue
		}
		ld := &pluginLoad{}
		loads[i] = ld
		svc, err := s.stores.ForPlugin(site, pc)
		if err != nil {
			ld.err = err
			continue
		}
		ld.svc = svc
		cfg := hostconfig.LoaderConfig(pc)
		cfg.Services = svc
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			ld.plugin, ld.err = s.loader.Load(ctx, cfg)
		}()
	}
	wg.Wait()
	return loads
}

// wrap pairs a loaded plugin with its pre-encoded environ entries.
func (s *Server) wrap(mp *mountedPlugin, lp *loader.Plugin) *loadedVersion {
	return &loadedVersion{plugin: lp, fixed: gateway.FixedEnviron(mp.cfg.Name, lp.Version, lp.Engine, s.workerID, s.version, mp.cfg.Env)}
}

// samePlugin reports whether two plugin blocks load the same way; the
// mount and middleware may differ (a route change needs no reload of the
// module).
func samePlugin(a, b config.Plugin) bool {
	norm := func(p config.Plugin) config.Plugin {
		p.Range, p.PathRange, p.Mount = hcl.Range{}, hcl.Range{}, ""
		// Where a plugin is mounted and which chains it is in are routing,
		// rebuilt at every reload (newChains), not how it loads.
		p.MountSet, p.MountRange, p.Middleware, p.MiddlewareRanges, p.Chain = false, hcl.Range{}, nil, nil, nil
		dirs := make([]config.Dir, len(p.Dirs))
		for i, d := range p.Dirs {
			d.Range = hcl.Range{}
			dirs[i] = d
		}
		p.Dirs = dirs
		return p
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func (st *siteState) plugin(name string) *mountedPlugin {
	for _, mp := range st.plugins {
		if mp.cfg.Name == name {
			return mp
		}
	}
	return nil
}

// retire closes the plugin's serving version for good: requests in flight
// finish on it, and no later swap replaces it.
func (mp *mountedPlugin) retire() {
	mp.swapMu.Lock()
	defer mp.swapMu.Unlock()
	mp.retireLocked()
}

func (mp *mountedPlugin) retireLocked() {
	mp.retired = true
	cur := mp.current.Load()
	mp.totals.drain(cur.plugin)
	cur.close()
}

func (s *Server) closeState(st *siteState) {
	for _, mp := range st.plugins {
		mp.retire()
	}
	if st.static != nil {
		st.static.Close()
	}
}

// Serve accepts connections on each listener until Shutdown. The listeners
// are in the order of server.listen, whose ListenTLS says which serve TLS.
// It returns the first error of a listener other than the one Shutdown
// causes.
func (s *Server) Serve(listeners []net.Listener) error {
	errc := make(chan error, len(listeners))
	listenTLS := s.state.Load().site.Server.ListenTLS
	for i, ln := range listeners {
		srv := s.httpServer()
		s.mu.Lock()
		stopped := s.stopped
		if !stopped {
			s.servers = append(s.servers, srv)
		}
		s.mu.Unlock()
		if stopped {
			// Shutdown ran before this listener was served, so nothing
			// would ever shut srv down: do not start it.
			ln.Close()
			errc <- nil
			continue
		}
		useTLS := s.cert != nil && (i >= len(listenTLS) || listenTLS[i])
		go func(ln net.Listener) {
			var err error
			if useTLS {
				srv.TLSConfig = s.cert.TLSConfig()
				err = srv.ServeTLS(ln, "", "")
			} else {
				err = srv.Serve(ln)
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}(ln)
	}
	var first error
	for range listeners {
		if err := <-errc; err != nil && first == nil {
			first = err
			go s.Shutdown(context.Background())
		}
	}
	return first
}

func (s *Server) httpServer() *http.Server {
	cfg := s.state.Load().site.Server
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    int(cfg.MaxHeaderBytes),
		ConnContext:       gateway.ConnContext,
		ErrorLog:          s.log.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
}

// Shutdown stops accepting connections, waits for requests in flight until
// ctx ends, then closes what remains and every plugin.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	servers := s.servers
	s.mu.Unlock()
	s.shutdownLive(ctx)
	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	s.teardown.Do(func() {
		s.reloadMu.Lock()
		s.closed = true // the state below is the last one
		s.reloadMu.Unlock()
		s.bgMu.Lock()
		s.bgClosed = true
		s.bgMu.Unlock()
		s.waitBackground(ctx)
		if s.watcher != nil {
			s.watcher.Close()
		}
		s.closeState(s.state.Load())
		s.stores.Close()
	})
	return errors.Join(errs...)
}

// waitBackground lets the background compilations finish until ctx ends
// (what they compile is cached, so the next start loads it in
// milliseconds), then cancels and abandons them: compiling a standard-Go
// guest on one goroutine takes a second or more, several under load, the
// engines cannot interrupt it, and a shutdown must not outlast its
// shutdown_timeout for it. An abandoned compile ends on its own: the
// loader keeps its engine open until then, and the plugin it belongs to
// is retired, so what it loaded is closed, never put in service.
func (s *Server) waitBackground(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		s.background.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.bgCancel() // ends a wait for another process's compile lock, and the instance's init
	}
}

// goBackground runs f on its own goroutine, counted in background, unless
// Shutdown has begun; it reports whether f runs.
func (s *Server) goBackground(f func()) bool {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgClosed {
		return false
	}
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		f()
	}()
	return true
}

// ServeHTTP routes a request to its plugin and runs the plugin's guest.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.metrics.inFlight.Add(1)
	defer s.metrics.inFlight.Add(-1)
	s.front.Serve(w, r, s.state.Load().front)
}
