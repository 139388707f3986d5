package host

import "strings"

// MetricsText returns what GET /metrics would serve, as one string. A
// prefork worker hands it to its master, which merges every worker's text
// into the one document its admin listener serves (internal/prefork).
func (s *Server) MetricsText() string {
	var b strings.Builder
	s.writeMetrics(&b)
	return b.String()
}
