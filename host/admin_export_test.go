package host

import "github.com/wasmhost/wasmhost/internal/status"

// Status is what GET /status on s's admin handler serves.
func (s *Server) Status() status.Status { return s.status() }
