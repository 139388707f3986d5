package telemetry

import (
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Attribute keys of the host's own spans, beside the semantic conventions'.
const (
	KeyPlugin        = attribute.Key("wasmhost.plugin")
	KeyEngine        = attribute.Key("wasmhost.engine")
	KeyVersion       = attribute.Key("wasmhost.plugin_version")
	KeyBuiltin       = attribute.Key("wasmhost.builtin")
	KeyLinkPosition  = attribute.Key("wasmhost.link.position")
	KeyChainOf       = attribute.Key("wasmhost.chain")
	KeyWaitInstance  = attribute.Key("wasmhost.wait.instance_seconds")
	KeyWaitScheduler = attribute.Key("wasmhost.wait.scheduler_seconds")
	KeyResult        = attribute.Key("wasmhost.result")
	KeyStore         = attribute.Key("wasmhost.kv.store")
	KeyOp            = attribute.Key("wasmhost.kv.op")
	KeyOutcome       = attribute.Key("wasmhost.kv.outcome")
	KeyAllowedHost   = attribute.Key("wasmhost.allowed_host")
	KeyModuleHash    = attribute.Key("wasmhost.module.sha256")
	KeyGuest         = attribute.Key("wasmhost.guest")
)

// Result is how a plugin call ended.
type Result string

// The results of a plugin call, as wasmhost.result.
const (
	ResultOK        Result = "ok"
	ResultTrap      Result = "trap"
	ResultTimeout   Result = "timeout"
	ResultCancelled Result = "cancelled"
)

// Call names one plugin call: the plugin serving a request, or a link of
// its chain (a middleware plugin or a built-in).
type Call struct {
	Name    string // the plugin or built-in's name; the span's name
	Engine  string // "" for a built-in
	Version string // the module's 12-hex version; "" for a built-in
	Builtin bool
	// Chain and Position, for a link: the plugin whose chain it is and the
	// link's place in it, outermost 0. Chain "" for a plugin served alone.
	Chain    string
	Position int
}

// StartCall opens the span of one plugin call, under ctx's (the server
// span, or the link outside this one).
func (t *Tracer) StartCall(ctx ctxT, c Call) (ctxT, Span) {
	if t.skipChild(ctx) {
		return ctx, Span{}
	}
	return t.start(ctx, c.Name, trace.SpanKindInternal, c.attributes)
}

func (c Call) attributes() []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, KeyPlugin.String(c.Name))
	if c.Builtin {
		attrs = append(attrs, KeyBuiltin.Bool(true))
	} else {
		attrs = append(attrs, KeyEngine.String(c.Engine), KeyVersion.String(c.Version))
	}
	if c.Chain != "" {
		attrs = append(attrs, KeyChainOf.String(c.Chain), KeyLinkPosition.Int(c.Position))
	}
	return attrs
}

// CallEnd is what became of a plugin call.
type CallEnd struct {
	WaitInstance  time.Duration // waiting for a free instance of the pool
	WaitScheduler time.Duration // waiting for the scheduler to run the guest
	Result        Result        // "" is ok
	Err           error         // the trap or the reason, when not ok
}

// EndCall ends a plugin call's span. A result other than ok marks it
// failed, with the result as error.type.
func (s Span) EndCall(e CallEnd) {
	if s.s == nil {
		return
	}
	if s.s.IsRecording() {
		res := e.Result
		if res == "" {
			res = ResultOK
		}
		s.s.SetAttributes(
			KeyWaitInstance.Float64(e.WaitInstance.Seconds()),
			KeyWaitScheduler.Float64(e.WaitScheduler.Seconds()),
			KeyResult.String(string(res)),
		)
		if res != ResultOK {
			err := e.Err
			if err == nil {
				err = errors.New(string(res))
			}
			fail(s.s, err, string(res))
		} else {
			s.s.SetStatus(codes.Unset, "")
		}
	}
	s.s.End()
}
