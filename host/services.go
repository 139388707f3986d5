package host

import "github.com/wasmhost/wasmhost/internal/status"

// writeServiceMetrics adds the key-value and outbound families; the status
// writer is the services registry's MetricsWriter.
func (s *Server) writeServiceMetrics(p *status.PromWriter) { s.stores.WriteMetrics(p) }
