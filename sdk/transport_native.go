//go:build !wasip1

package sdk

import "net/http"

func defaultTransport() http.RoundTripper { return http.DefaultTransport }
