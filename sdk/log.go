package sdk

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/wasmhost/wasmhost/abi"
)

// Logger returns a logger whose records go to the host's log under the
// plugin's name (and the current request's id): a record's level is the
// host log entry's level, and its attributes are fields of that entry (in
// --log-format json, JSON fields). Groups are flattened to dotted names
// ("req.path"). Under native Go (tests), it is a text logger on stderr.
//
// Every level is passed to the host, whose --log-level decides what is
// shown.
func Logger() *slog.Logger { return logger }

var logger = newLogger()

func newLogger() *slog.Logger {
	if runtime.GOOS != "wasip1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(&hostHandler{})
}

// hostHandler encodes a record as the JSON object that the log host
// function takes with abi.LogStructured: {"msg": ..., "key": value, ...}.
// It writes JSON by hand: encoding/json leans on reflection that TinyGo
// supports only in part.
type hostHandler struct {
	prefix string // open groups, "a.b."
	attrs  []byte // members from WithAttrs, each led by a comma
}

func (h *hostHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *hostHandler) Handle(_ context.Context, r slog.Record) error {
	b := make([]byte, 0, 256)
	b = append(b, `{"msg":`...)
	b = appendJSONString(b, r.Message)
	b = append(b, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		b = appendAttr(b, h.prefix, a)
		return true
	})
	b = append(b, '}')
	logMessage(hostLevel(r.Level)|abi.LogStructured, string(b))
	return nil
}

func (h *hostHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &hostHandler{prefix: h.prefix, attrs: append([]byte(nil), h.attrs...)}
	for _, a := range attrs {
		n.attrs = appendAttr(n.attrs, h.prefix, a)
	}
	return n
}

func (h *hostHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &hostHandler{prefix: h.prefix + name + ".", attrs: h.attrs}
}

func hostLevel(l slog.Level) int32 {
	switch {
	case l < slog.LevelInfo:
		return abi.LogDebug
	case l < slog.LevelWarn:
		return abi.LogInfo
	case l < slog.LevelError:
		return abi.LogWarn
	}
	return abi.LogError
}

// appendAttr appends `,"prefix+key":value`; groups are flattened.
func appendAttr(b []byte, prefix string, a slog.Attr) []byte {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			b = appendAttr(b, p, g)
		}
		return b
	}
	if a.Key == "" {
		return b
	}
	b = append(b, ',')
	b = appendJSONString(b, prefix+a.Key)
	b = append(b, ':')
	switch v.Kind() {
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		f := v.Float64()
		if f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308 {
			return appendJSONString(b, strconv.FormatFloat(f, 'g', -1, 64)) // NaN, ±Inf
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return appendJSONString(b, v.Duration().String())
	case slog.KindTime:
		return appendJSONString(b, v.Time().Format(time.RFC3339Nano))
	}
	return appendJSONString(b, v.String())
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
