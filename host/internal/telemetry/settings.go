package telemetry

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// DefaultServiceName is service.name when neither the site nor
// OTEL_SERVICE_NAME names one.
const DefaultServiceName = "wasmhost"

// Settings are the site's telemetry block and what the process knows of
// itself. Fields left zero fall back to the OTEL_* variables, as every
// OpenTelemetry SDK reads them.
type Settings struct {
	// OTLPEndpoint is the collector's base URL ("http://127.0.0.1:4318");
	// traces go to its /v1/traces. Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
	// (used as is), else OTEL_EXPORTER_OTLP_ENDPOINT (a base, as here).
	OTLPEndpoint string
	// ServiceName is service.name. Default: OTEL_SERVICE_NAME, else "wasmhost".
	ServiceName string
	// SampleRatio, when set, is the share of new traces sampled (0 to 1);
	// a client's traceparent decides for its own trace either way. Unset:
	// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, else every trace.
	SampleRatio *float64

	// Version is service.version (wasmhost's).
	Version string
	// Worker is the worker id, or -1 for a prefork master.
	Worker int
	// Synchronous exports each span as it ends instead of in batches: for
	// tests, and never in production (an export per span).
	Synchronous bool
	// Getenv reads the environment; nil is os.Getenv.
	Getenv func(string) string
}

type resolved struct {
	endpoint string
	sampler  sdktrace.Sampler
	resource []attribute.KeyValue
}

func (s Settings) resolve() (resolved, error) {
	env := s.Getenv
	if env == nil {
		env = os.Getenv
	}
	var r resolved
	if strings.EqualFold(strings.TrimSpace(env("OTEL_SDK_DISABLED")), "true") {
		return r, nil
	}
	var err error
	switch {
	case s.OTLPEndpoint != "":
		r.endpoint, err = tracesURL(s.OTLPEndpoint, "telemetry.otlp_endpoint")
	case env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "":
		r.endpoint, err = checkURL(env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	case env("OTEL_EXPORTER_OTLP_ENDPOINT") != "":
		r.endpoint, err = tracesURL(env("OTEL_EXPORTER_OTLP_ENDPOINT"), "OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	if err != nil || r.endpoint == "" {
		return resolved{}, err
	}
	if r.sampler, err = s.sampler(env); err != nil {
		return resolved{}, err
	}
	name := s.ServiceName
	if name == "" {
		name = env("OTEL_SERVICE_NAME")
	}
	if name == "" {
		name = DefaultServiceName
	}
	r.resource = []attribute.KeyValue{semconv.ServiceName(name), attribute.Int("wasmhost.worker_id", s.Worker)}
	if s.Version != "" {
		r.resource = append(r.resource, semconv.ServiceVersion(s.Version))
	}
	return r, nil
}

// tracesURL appends the traces path to a base endpoint, as the OTLP
// exporter specification does for OTEL_EXPORTER_OTLP_ENDPOINT.
func tracesURL(base, what string) (string, error) {
	u, err := checkURL(base, what)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(u, "/") + "/v1/traces", nil
}

func checkURL(raw, what string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("telemetry: %s = %q: want an http:// or https:// URL", what, raw)
	}
	return raw, nil
}

// sampler is always parent-based for the site's ratio: a client that
// sampled its trace gets the host's spans in it, one that did not gets none.
func (s Settings) sampler(env func(string) string) (sdktrace.Sampler, error) {
	if s.SampleRatio != nil {
		r := *s.SampleRatio
		if r < 0 || r > 1 {
			return nil, fmt.Errorf("telemetry: sample_ratio = %g: want a number from 0 to 1", r)
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	}
	arg := func() (float64, error) {
		a := env("OTEL_TRACES_SAMPLER_ARG")
		if a == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(a, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("telemetry: OTEL_TRACES_SAMPLER_ARG = %q: want a number from 0 to 1", a)
		}
		return r, nil
	}
	switch name := strings.TrimSpace(env("OTEL_TRACES_SAMPLER")); name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio", "parentbased_traceidratio":
		r, err := arg()
		if err != nil {
			return nil, err
		}
		if name == "traceidratio" {
			return sdktrace.TraceIDRatioBased(r), nil
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), nil
	default:
		return nil, fmt.Errorf("telemetry: OTEL_TRACES_SAMPLER = %q: not a sampler this host knows (parentbased_always_on, parentbased_traceidratio, always_on, always_off, traceidratio, parentbased_always_off)", name)
	}
}
