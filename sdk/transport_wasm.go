//go:build wasip1

package sdk

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/wasmhost/wasmhost/abi"
)

// hostTransport sends requests through the host's http_* calls.
type hostTransport struct{}

func defaultTransport() http.RoundTripper { return hostTransport{} }

func init() {
	// Without this http.Get would try to dial from the guest, which has no
	// sockets, and fail with a misleading "connection refused".
	http.DefaultTransport = Transport
}

// bodyChunk is how much of a body crosses to or from the host per call.
const bodyChunk = 32 << 10

func (hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			req.Body.Close()
		}
	}
	head := abi.AppendPair(nil, ":method", req.Method)
	head = abi.AppendPair(head, ":url", req.URL.String())
	if req.Host != "" && req.Host != req.URL.Host {
		head = abi.AppendPair(head, "Host", req.Host)
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			head = abi.AppendPair(head, k, v)
		}
	}
	// ContentLength 0 with a Body means unknown, as in net/http.
	hasBody := req.Body != nil && req.Body != http.NoBody
	var flags int32
	if hasBody {
		flags = abi.HTTPHasBody
		if req.ContentLength > 0 {
			head = abi.AppendPair(head, "Content-Length", strconv.FormatInt(req.ContentLength, 10))
		}
	}
	h := hostHTTPRequest(ptr(head), int32(len(head)), flags)
	if h < 0 {
		closeBody()
		return nil, serviceError(h)
	}
	if hasBody {
		buf := make([]byte, bodyChunk)
		for {
			n, err := req.Body.Read(buf)
			if n > 0 {
				if r := hostHTTPBodyWrite(h, ptr(buf[:n]), int32(n)); r < 0 {
					// The round trip failed; http_response says why.
					break
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				closeBody()
				hostHTTPClose(h)
				return nil, err
			}
		}
		hostHTTPBodyClose(h)
	}
	closeBody()
	buf := make([]byte, 4096)
	n := hostHTTPResponse(h, ptr(buf), int32(len(buf)))
	if n < 0 {
		err := serviceError(n)
		hostHTTPClose(h)
		return nil, err
	}
	enc := sized(buf, n)
	resp := &http.Response{
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{},
		Request:       req,
		ContentLength: -1,
		Body:          &hostBody{h: h},
	}
	for len(enc) > 0 {
		k, v, rest, ok := abi.NextPair(enc)
		if !ok {
			break
		}
		enc = rest
		if string(k) == ":status" {
			resp.StatusCode, _ = strconv.Atoi(string(v))
			continue
		}
		resp.Header.Add(string(k), string(v))
	}
	resp.Status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	if cl, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = cl
	}
	if req.Method == "HEAD" || resp.StatusCode == 204 || resp.StatusCode == 304 {
		resp.Body.Close()
		resp.Body = http.NoBody
	}
	resp.TransferEncoding = nil
	if strings.EqualFold(resp.Header.Get("Transfer-Encoding"), "chunked") {
		resp.TransferEncoding = []string{"chunked"}
	}
	return resp, nil
}

// hostBody reads a response body from the host a buffer at a time.
type hostBody struct {
	h      int32
	closed bool
}

func (b *hostBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, io.ErrClosedPipe
	}
	if len(p) == 0 {
		return 0, nil
	}
	if len(p) > abi.MaxHTTPBodyChunk {
		p = p[:abi.MaxHTTPBodyChunk]
	}
	n := hostHTTPBodyRead(b.h, ptr(p), int32(len(p)))
	switch {
	case n > 0:
		return int(n), nil
	case n == 0:
		return 0, io.EOF
	}
	return 0, serviceError(n)
}

func (b *hostBody) Close() error {
	if !b.closed {
		b.closed = true
		hostHTTPClose(b.h)
	}
	return nil
}
