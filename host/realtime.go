package host

import (
	"context"
	"sync"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/live"
	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/internal/config"
)

// liveSource is a mounted plugin as its connections' events find it.
type liveSource struct {
	servedPlugin
	s *Server
}

func (l liveSource) StaticURL(path string) string { return l.s.staticURL(path) }

// Realtime is the plugin's WebSocket endpoint and pubsub, nil for a
// plugin with neither (front.RealtimePlugin).
func (p servedPlugin) Realtime() *live.Plugin { return p.mp.live }

// wsSettings are a websocket block as the endpoint takes it; each event
// is bounded by the plugin's timeout.
func wsSettings(pc *config.Plugin) *realtime.Settings {
	ws := pc.WebSocket
	if ws == nil {
		return nil
	}
	return &realtime.Settings{
		MaxMessageSize: ws.MaxMessageSize, PingInterval: ws.PingInterval, PingTimeout: ws.PingTimeout,
		Origins: ws.Origins, Compression: ws.Compression, MaxConnections: ws.MaxConnections,
		SendBuffer: ws.SendBuffer, EventTimeout: pc.Timeout,
	}
}

// attachLive gives a fresh mounted plugin its realtime side. The
// connections of the plugin's previous block (prev) are kept when the new
// block still has a websocket block and the same grant: the endpoint
// outlives the block, and its events run the new one from now on (new
// websocket settings apply once those connections are gone, at the next
// start). It reports the previous side it took over.
func (s *Server) attachLive(mp *mountedPlugin, prev *mountedPlugin) (reused *live.Plugin) {
	pc := &mp.cfg
	if pc.WebSocket == nil && pc.Pubsub == "" {
		return nil
	}
	src := liveSource{servedPlugin{mp}, s}
	if prev != nil && prev.live != nil && prev.live.Endpoint() != nil && pc.WebSocket != nil && prev.cfg.Pubsub == pc.Pubsub {
		mp.live = prev.live
		mp.live.SetSource(src)
		return prev.live
	}
	mp.live = live.New(src, s.hubs.Hub(pc.Pubsub), wsSettings(pc))
	return nil
}

// restoreLive undoes attachLive for a state that is not served: the
// connections mp took over from prev go back to prev's events.
func (s *Server) restoreLive(mp, prev *mountedPlugin) {
	if prev != nil && prev.live != nil && prev.live == mp.live {
		prev.live.SetSource(liveSource{servedPlugin{prev}, s})
	}
}

// closeLive closes the connections of plugins a reload removed or whose
// websocket block it removed (1001), in the background: each Close event
// still runs, on the retiring version, within the shutdown timeout.
func (s *Server) closeLive(plugins []*live.Plugin, within time.Duration) {
	for _, lp := range plugins {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), within)
			defer cancel()
			lp.Shutdown(ctx, 1001, "going away")
		}()
	}
}

// shutdownLive closes every connection with 1001 and ends every event
// stream, so that the HTTP servers' drain does not wait for them.
func (s *Server) shutdownLive(ctx context.Context) {
	var wg sync.WaitGroup
	for _, mp := range s.state.Load().plugins {
		if mp.live == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			mp.live.Shutdown(ctx, 1001, "server shutting down")
		}()
	}
	wg.Wait()
	s.hubs.Close()
}

// liveLeft are the realtime sides of prev that st no longer serves.
func liveLeft(prev, st *siteState) []*live.Plugin {
	inUse := map[*live.Plugin]bool{}
	for _, mp := range st.plugins {
		inUse[mp.live] = true
	}
	var left []*live.Plugin
	for _, mp := range prev.plugins {
		if mp.live != nil && !inUse[mp.live] {
			left = append(left, mp.live)
		}
	}
	return left
}

// EnvRelay names, in a prefork worker's environment, the base path of
// the master's relay sockets (Options.RelayPath).
const EnvRelay = "WASMHOST_RELAY"

// StartRelays serves, for a prefork master, one relay socket per local
// pubsub block of site at base.NAME, joining that block's hubs in every
// worker. It returns the workers' environment entry and a stop function.
// Blocks a reload adds get no relay until the master restarts: their
// hubs then reach their own worker only.
func StartRelays(site *config.Site, base string) (env []string, stop func(), err error) {
	n, stop, err := live.StartRelays(site.Pubsub, base)
	if err != nil || n == 0 {
		return nil, stop, err
	}
	return []string{EnvRelay + "=" + base}, stop, nil
}
