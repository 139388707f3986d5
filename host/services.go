package host

import "github.com/wasmhost/wasmhost/host/internal/services"

// promSink is the metrics writer the services registry writes its
// families to (services.MetricsWriter).
type promSink struct{ p *promWriter }

func (s promSink) Family(name, typ, help string)               { s.p.family(name, typ, help) }
func (s promSink) Sample(name, value string, labels ...string) { s.p.sample(name, value, labels...) }

// writeServiceMetrics adds the key-value and outbound families.
func (s *Server) writeServiceMetrics(p *promWriter) { s.stores.WriteMetrics(promSink{p}) }

var _ services.MetricsWriter = promSink{}
