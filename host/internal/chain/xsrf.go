package chain

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmhost/wasmhost/abi"
	"github.com/wasmhost/wasmhost/host/internal/gateway"
	"github.com/wasmhost/wasmhost/internal/builtins"
)

// The built-in "xsrf" middleware: Tornado's xsrf_cookies. Every response
// carries an "_xsrf" cookie (set when the request had none); a POST, PUT,
// PATCH or DELETE goes on down the chain only when it proves it came from
// a page of the site, by sending the cookie's token back in an
// X-XSRFToken or X-CSRFToken header or an "_xsrf" form field, which a
// page on another site cannot read. The form field is found by reading the
// body as far as the field, keeping what was read, and then handing the
// downstream the whole body as it came: the guest still gets it intact.
//
// A token is 16 random bytes. On the wire (cookie, form field) it is
// "2|<mask>|<token XOR mask>|<time>", hex, with a fresh mask each time it
// is written out, so that a page compressed along with attacker-chosen
// text does not repeat it byte for byte (the BREACH attack); Tornado's
// version 2 tokens do the same.

const (
	xsrfCookie = "_xsrf"
	xsrfField  = "_xsrf"
	xsrfLen    = 16
	// maxFieldValue bounds the _xsrf field's value read from a form.
	maxFieldValue = 1 << 10
	// xsrfMemory is how much of a form read while looking for the field
	// stays in memory for the replay; the rest waits in a temporary file,
	// so a large form before its field costs disk, not memory, per request.
	xsrfMemory = 64 << 10
)

type xsrfLink struct{}

func (xsrfLink) name() string  { return builtins.XSRF }
func (xsrfLink) builtin() bool { return true }

func (xsrfLink) serve(ctx context.Context, call *chainCall, i int, req *linkRequest, out Sink) error {
	var token []byte
	if c, err := req.r.Cookie(xsrfCookie); err == nil {
		token = unmaskXSRF(c.Value)
	}
	fromCookie := token != nil
	if !fromCookie {
		token = make([]byte, xsrfLen)
		rand.Read(token)
		cookie := (&http.Cookie{Name: xsrfCookie, Value: maskXSRF(token), Path: "/", SameSite: http.SameSiteLaxMode}).String()
		out = &headerSink{Sink: out, extra: abi.AppendPair(nil, "Set-Cookie", cookie)}
	}
	call.xsrf = token
	switch req.r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		submitted := req.r.Header.Get("X-Xsrftoken")
		if submitted == "" {
			submitted = req.r.Header.Get("X-Csrftoken")
		}
		if submitted == "" && req.body != nil {
			var replay BodySource
			var err error
			submitted, replay, err = formToken(req)
			if err != nil {
				out.StartResponse(http.StatusInternalServerError, gateway.ErrorHeaders)
				out.WriteBody([]byte("500 Internal Server Error: cannot hold the form: " + err.Error() + "\n"))
				return nil
			}
			if c, ok := replay.(io.Closer); ok {
				// The chain below is done with the body when serveAt returns.
				defer c.Close()
			}
			r2 := *req
			r2.body = replay
			req = &r2
		}
		got := unmaskXSRF(submitted)
		if !fromCookie || got == nil || subtle.ConstantTimeCompare(got, token) != 1 {
			reason := "'_xsrf' argument missing from POST"
			if submitted != "" {
				reason = "XSRF cookie does not match POST argument"
			}
			if !fromCookie {
				reason = "'_xsrf' cookie missing"
			}
			msg := "403 Forbidden: " + reason + "\n"
			out.StartResponse(http.StatusForbidden, gateway.ErrorHeaders)
			out.WriteBody([]byte(msg))
			return nil
		}
	}
	return call.chain.serveAt(ctx, call, i+1, req, out)
}

func maskXSRF(token []byte) string {
	mask := make([]byte, len(token))
	rand.Read(mask)
	masked := make([]byte, len(token))
	for i := range token {
		masked[i] = token[i] ^ mask[i]
	}
	return "2|" + hex.EncodeToString(mask) + "|" + hex.EncodeToString(masked) + "|" + strconv.FormatInt(time.Now().Unix(), 10)
}

// unmaskXSRF is the token in a masked value, or nil when malformed.
func unmaskXSRF(s string) []byte {
	parts := strings.Split(s, "|")
	if len(parts) != 4 || parts[0] != "2" {
		return nil
	}
	mask, err1 := hex.DecodeString(parts[1])
	masked, err2 := hex.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(mask) != xsrfLen || len(masked) != xsrfLen {
		return nil
	}
	for i := range masked {
		masked[i] ^= mask[i]
	}
	return masked
}

// formToken reads the body as far as its _xsrf field, for urlencoded and
// multipart forms, and returns the field with a body that replays what was
// read and continues with the rest (an io.Closer: close it when the chain
// is done). What was read is held in a spillBuffer. The error says the
// read part could not be held (the temporary file failed).
func formToken(req *linkRequest) (string, BodySource, error) {
	mt, params, err := mime.ParseMediaType(req.r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data") {
		return "", req.body, nil
	}
	seen := &gateway.SpillBuffer{MemMax: xsrfMemory}
	tee := &teeBody{src: &bodyReader{src: req.body}, seen: seen}
	var value string
	if mt == "multipart/form-data" {
		value = multipartField(multipart.NewReader(tee, params["boundary"]), xsrfField)
	} else {
		value = urlencodedField(bufio.NewReader(tee), xsrfField)
	}
	if tee.err != nil {
		seen.Close()
		return "", nil, tee.err
	}
	return value, &replayBody{prefix: seen, rest: req.body}, nil
}

// teeBody is io.TeeReader keeping the write error apart, so a failed spill
// is told from the end of the form.
type teeBody struct {
	src  io.Reader
	seen io.Writer
	err  error
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.src.Read(p)
	if n > 0 && t.err == nil {
		if _, werr := t.seen.Write(p[:n]); werr != nil {
			t.err = werr
			return n, werr
		}
	}
	return n, err
}

func urlencodedField(r *bufio.Reader, name string) string {
	for {
		pair, err := r.ReadString('&')
		k, v, _ := strings.Cut(strings.TrimSuffix(pair, "&"), "=")
		if key, kerr := url.QueryUnescape(k); kerr == nil && key == name {
			if len(v) > maxFieldValue {
				return ""
			}
			val, _ := url.QueryUnescape(v)
			return val
		}
		if err != nil {
			return ""
		}
	}
}

func multipartField(mr *multipart.Reader, name string) string {
	for {
		p, err := mr.NextPart()
		if err != nil {
			return ""
		}
		if p.FormName() == name {
			b, _ := io.ReadAll(io.LimitReader(p, maxFieldValue))
			return string(b)
		}
	}
}

// bodyReader reads a BodySource as an io.Reader.
type bodyReader struct{ src BodySource }

var errBodyRead = errors.New("request body read failed")

func (b *bodyReader) Read(p []byte) (int, error) {
	n := b.src.ReadBody(p)
	switch {
	case n > 0:
		return int(n), nil
	case n == 0:
		return 0, io.EOF
	}
	return 0, errBodyRead
}

// replayBody gives back the bytes already read, then the rest. Reads are
// serialised, as lockedBody's: a middleware's downstream may read it from
// another goroutine.
type replayBody struct {
	mu     sync.Mutex
	prefix *gateway.SpillBuffer
	done   bool // prefix is read
	rest   BodySource
}

func (b *replayBody) ReadBody(p []byte) int32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done && len(p) > 0 {
		n, err := b.prefix.Read(p)
		if n > 0 {
			return int32(n)
		}
		if err != io.EOF {
			return abi.ErrIO
		}
		b.done = true
		b.prefix.Close()
	}
	return b.rest.ReadBody(p)
}

func (b *replayBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.prefix.Close()
}

// headerSink adds headers to a response on its way to Sink.
type headerSink struct {
	Sink
	extra []byte
}

func (h *headerSink) StartResponse(status int32, headers []byte) int32 {
	all := make([]byte, 0, len(headers)+len(h.extra))
	all = append(append(all, headers...), h.extra...)
	return h.Sink.StartResponse(status, all)
}
