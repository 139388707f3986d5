package telemetry

import (
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func ratio(r float64) *float64 { return &r }

// TestResolve: which endpoint, sampler and service name a combination of
// the telemetry block and the OTEL_* variables gives.
func TestResolve(t *testing.T) {
	for _, c := range []struct {
		name     string
		s        Settings
		env      map[string]string
		endpoint string
		sampler  string
		service  string
		err      string
	}{
		{name: "nothing: off", env: map[string]string{"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}},
		{name: "block", s: Settings{OTLPEndpoint: "http://127.0.0.1:4318"}, endpoint: "http://127.0.0.1:4318/v1/traces",
			sampler: "ParentBased{root:AlwaysOnSampler", service: "wasmhost"},
		{name: "block base with a path", s: Settings{OTLPEndpoint: "https://otel.example.com/otlp/"}, endpoint: "https://otel.example.com/otlp/v1/traces"},
		{name: "generic variable", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SERVICE_NAME": "shop"},
			endpoint: "http://c:4318/v1/traces", service: "shop"},
		{name: "traces variable wins over generic", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/custom"},
			endpoint: "http://b:4318/custom"},
		{name: "block wins over variables", s: Settings{OTLPEndpoint: "http://block:4318", ServiceName: "site"},
			env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/custom", "OTEL_SERVICE_NAME": "shop"}, endpoint: "http://block:4318/v1/traces", service: "site"},
		{name: "disabled", s: Settings{OTLPEndpoint: "http://block:4318"}, env: map[string]string{"OTEL_SDK_DISABLED": "true"}},
		{name: "sample_ratio", s: Settings{OTLPEndpoint: "http://c:4318", SampleRatio: ratio(0.25)}, env: map[string]string{"OTEL_TRACES_SAMPLER": "always_off"},
			sampler: "ParentBased{root:TraceIDRatioBased{0.25}"},
		{name: "sample_ratio 0 still follows a sampled parent", s: Settings{OTLPEndpoint: "http://c:4318", SampleRatio: ratio(0)}, sampler: "ParentBased{root:TraceIDRatioBased{0}"},
		{name: "sampler variables", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
			sampler: "ParentBased{root:TraceIDRatioBased{0.1}"},
		{name: "always_off", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "always_off"}, sampler: "AlwaysOffSampler"},
		{name: "bad ratio", s: Settings{OTLPEndpoint: "http://c:4318", SampleRatio: ratio(2)}, err: "sample_ratio = 2"},
		{name: "bad sampler", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "sometimes"}, err: `OTEL_TRACES_SAMPLER = "sometimes"`},
		{name: "bad sampler arg", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"}, err: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "bad endpoint", s: Settings{OTLPEndpoint: "127.0.0.1:4318"}, err: "telemetry.otlp_endpoint"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.s.Getenv = env(c.env)
			r, err := c.s.resolve()
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (c.endpoint != "" || c.sampler == "") && r.endpoint != c.endpoint {
				t.Errorf("endpoint = %q, want %q", r.endpoint, c.endpoint)
			}
			if c.sampler != "" && !strings.HasPrefix(r.sampler.Description(), c.sampler) {
				t.Errorf("sampler = %s, want %s...", r.sampler.Description(), c.sampler)
			}
			if c.service != "" && (len(r.resource) == 0 || r.resource[0].Value.AsString() != c.service) {
				t.Errorf("resource = %v, want service.name %q", r.resource, c.service)
			}
		})
	}
}
