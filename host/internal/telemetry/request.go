package telemetry

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Request describes an inbound request for its server span: what the host
// knows after routing and the xheaders rules.
type Request struct {
	R      *http.Request
	Route  string // the mount of the plugin serving it ("/" at the root)
	Scheme string // http or https, after xheaders
	Client string // the client's address, after xheaders
}

// StartRequest opens the server span of one request, as a child of the
// client's traceparent when it sent one. The span is named "METHOD route".
func (t *Tracer) StartRequest(req Request) (ctxT, Span) {
	r := req.R
	if !t.Enabled() {
		return r.Context(), Span{}
	}
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	name := r.Method // a request no plugin serves has no route
	if req.Route != "" {
		name += " " + req.Route
	}
	return t.start(ctx, name, trace.SpanKindServer, req.attributes)
}

func (req Request) attributes() []attribute.KeyValue {
	r := req.R
	host, port := splitHostPort(r.Host, req.Scheme)
	attrs := []attribute.KeyValue{
		method(r.Method),
		semconv.URLPath(r.URL.Path),
		semconv.URLScheme(req.Scheme),
		semconv.ServerAddress(host),
		semconv.NetworkProtocolVersion(protoVersion(r)),
	}
	if req.Route != "" {
		attrs = append(attrs, semconv.HTTPRoute(req.Route))
	}
	if port > 0 {
		attrs = append(attrs, semconv.ServerPort(port))
	}
	if r.URL.RawQuery != "" {
		attrs = append(attrs, semconv.URLQuery(r.URL.RawQuery))
	}
	if req.Client != "" {
		attrs = append(attrs, semconv.ClientAddress(req.Client))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	return attrs
}

// EndRequest ends a server span with the response status: a 5xx marks it
// failed (a 4xx is the client's error, not the server's).
func (s Span) EndRequest(status int, bytesOut int64) {
	if s.s == nil {
		return
	}
	if s.s.IsRecording() {
		s.s.SetAttributes(semconv.HTTPResponseStatusCode(status), semconv.HTTPResponseBodySize(int(bytesOut)))
		if status >= 500 {
			s.s.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
			s.s.SetStatus(codes.Error, "")
		}
	}
	s.s.End()
}

// method is http.request.method, with methods outside the standard set
// as _OTHER (their number is unbounded).
func method(m string) attribute.KeyValue {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return semconv.HTTPRequestMethodKey.String(m)
	}
	return semconv.HTTPRequestMethodOther
}

func protoVersion(r *http.Request) string {
	if r.ProtoMajor == 2 {
		return "2"
	}
	return strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor)
}

// splitHostPort reads a Host header, with the scheme's port when it has none.
func splitHostPort(hostport, scheme string) (string, int) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		host = strings.Trim(hostport, "[]")
		switch scheme {
		case "https":
			return host, 443
		case "http":
			return host, 80
		}
		return host, 0
	}
	port, _ := strconv.Atoi(p)
	return host, port
}
