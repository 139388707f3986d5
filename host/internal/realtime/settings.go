package realtime

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// Defaults of a plugin's websocket block.
const (
	DefaultMaxMessageSize = 10 << 20 // as Tornado's websocket_max_message_size
	DefaultMaxConnections = 10000
	DefaultSendBuffer     = 1 << 20
	DefaultEventTimeout   = 30 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	// MaxValues bounds a connection's values, keys and values together.
	MaxValues = 4 << 10
)

// Settings are a plugin's websocket block, plus the bounds the host
// takes from elsewhere (the plugin's timeout for events).
type Settings struct {
	MaxMessageSize int64         // a larger message closes the connection with 1009
	PingInterval   time.Duration // 0: no pings
	PingTimeout    time.Duration // no pong this long after a ping: closed (0: PingInterval)
	Origins        []string      // Origin hosts allowed besides the request's Host; "*": any
	Compression    bool          // negotiate permessage-deflate
	MaxConnections int           // open connections of this endpoint; more upgrades get 503
	SendBuffer     int64         // queued outgoing bytes; past it the connection is closed with 1008
	EventTimeout   time.Duration // bound of each Open, Message and Close call
	WriteTimeout   time.Duration // bound of one write to the client (its stall closes with 1008)
}

// WithDefaults fills the zero fields with the defaults.
func (s Settings) WithDefaults() Settings {
	if s.MaxMessageSize <= 0 {
		s.MaxMessageSize = DefaultMaxMessageSize
	}
	if s.PingTimeout <= 0 {
		s.PingTimeout = s.PingInterval
	}
	if s.MaxConnections <= 0 {
		s.MaxConnections = DefaultMaxConnections
	}
	if s.SendBuffer <= 0 {
		s.SendBuffer = DefaultSendBuffer
	}
	if s.EventTimeout <= 0 {
		s.EventTimeout = DefaultEventTimeout
	}
	if s.WriteTimeout <= 0 {
		s.WriteTimeout = DefaultWriteTimeout
	}
	return s
}

// IsUpgrade reports whether r asks for a WebSocket; the host sends the
// others on the same mount to the plugin's HTTP handler.
func IsUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && headerHas(r.Header, "Connection", "upgrade") &&
		headerHas(r.Header, "Upgrade", "websocket")
}

func headerHas(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// originAllowed is the browser-facing CSRF check: a page of another site
// may not open a socket with the user's cookies. A request without
// Origin is not from a browser page and passes, as in Tornado. Entries
// of origins are host names (path.Match patterns, so "*.example.com"
// works); a request's own Host is always allowed.
func (s *Settings) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	host := u.Hostname()
	for _, p := range s.Origins {
		if p == "*" {
			return true
		}
		for _, h := range []string{u.Host, host} {
			if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(h)); ok {
				return true
			}
		}
	}
	return false
}
