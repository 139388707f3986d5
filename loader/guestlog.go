package loader

import (
	"bytes"
	"encoding/json"
	"regexp"

	"github.com/wasmhost/wasmhost/abi"
)

// guestOutput is an instance's WASI stdout or stderr. wazero fixes an
// instance's writers when it is instantiated, so this writer decides per
// line where the line goes: to the request the instance is serving, or to
// the plugin's log between requests. Lines are cut at newlines, and at
// abi.MaxLogBytes so a guest cannot make the host buffer without bound.
//
// A line keeps the level it names (Go's log and slog text formats: "INFO
// ...", "2009/11/10 23:00:00 WARN ...", "time=... level=ERROR ..."); other
// lines get the stream's level. A panic or fatal error is one entry: from
// its first line ("panic: ", "fatal error: ") the rest of the output, the
// goroutine trace, is collected and logged at error level when the call
// ends (flush), since after it the guest only exits or returns.
type guestOutput struct {
	inst    *instance
	level   int32
	partial []byte
	dump    []byte // a panic being collected; nil when none
	// kept is what the guest wrote while keep is set (its initialization),
	// up to abi.MaxLogBytes: the reason an init failed, for its error.
	kept []byte
	keep bool
}

func (w *guestOutput) Write(p []byte) (int, error) {
	n := len(p)
	if w.keep {
		w.kept = append(w.kept, p[:min(len(p), max(abi.MaxLogBytes-len(w.kept), 0))]...)
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := abi.MaxLogBytes - len(w.partial)
			if len(p) < room {
				w.partial = append(w.partial, p...)
				break
			}
			w.partial = append(w.partial, p[:room]...)
			p = p[room:]
			w.emit()
			continue
		}
		if len(w.partial) == 0 {
			w.line(p[:i])
		} else {
			w.partial = append(w.partial, p[:i]...)
			w.emit()
		}
		p = p[i+1:]
	}
	return n, nil
}

// flush emits a pending partial line and a collected panic, so that output
// written during a request is attributed to that request.
func (w *guestOutput) flush() {
	if len(w.partial) > 0 {
		w.emit()
	}
	if w.dump != nil {
		w.inst.log(abi.LogError, bytes.TrimRight(w.dump, "\n"))
		w.dump = nil
	}
}

func (w *guestOutput) emit() {
	w.line(w.partial)
	w.partial = w.partial[:0]
}

var dumpStart = regexp.MustCompile(`^(panic: |fatal error: |SIGSEGV|unexpected fault address)`)

func (w *guestOutput) line(b []byte) {
	if w.dump == nil && dumpStart.Match(b) {
		w.dump = make([]byte, 0, 4096)
	}
	if w.dump != nil {
		if len(w.dump)+len(b)+1 <= abi.MaxLogBytes {
			w.dump = append(append(w.dump, b...), '\n')
		}
		return
	}
	level, msg := lineLevel(b, w.level)
	w.inst.log(level, msg)
}

// leveled matches a line that names its level: an optional Go log
// timestamp ("2009/11/10 23:00:00.000000 "), then the level word and a
// space or colon; or slog's text form with a "level=WORD" field.
var (
	leveled     = regexp.MustCompile(`^(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)? )?(DEBUG|INFO|WARN|WARNING|ERROR)(?:[:\s]\s*|$)`)
	leveledText = regexp.MustCompile(`(?:^|\s)level=(DEBUG|INFO|WARN|ERROR)(?:[+-]\d+)?(?:\s|$)`)
)

var levelWords = map[string]int32{
	"DEBUG": abi.LogDebug, "INFO": abi.LogInfo, "WARN": abi.LogWarn, "WARNING": abi.LogWarn, "ERROR": abi.LogError,
}

// lineLevel returns the level a plain output line names, and the line
// without its timestamp and level word (the host's log adds its own);
// lines that name none get def, unchanged.
func lineLevel(b []byte, def int32) (int32, []byte) {
	if m := leveled.FindSubmatchIndex(b); m != nil {
		return levelWords[string(b[m[2]:m[3]])], b[m[1]:]
	}
	if m := leveledText.FindSubmatch(b); m != nil {
		return levelWords[string(m[1])], b
	}
	return def, b
}

// guestRecord turns one guest log message (the log host function's level
// and bytes) into what the host logs. A message with abi.LogStructured is a
// JSON object whose "msg" member is the message and whose other members
// become fields, in order; one that does not parse is logged as it came.
func guestRecord(level int32, msg []byte) Record {
	if level&abi.LogStructured != 0 {
		if text, fields, ok := parseRecord(msg); ok {
			return Record{Level: hclogLevel(level), Message: text, Fields: fields}
		}
	}
	return Record{Level: hclogLevel(level), Message: string(msg)}
}

func parseRecord(msg []byte) (string, []any, bool) {
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", nil, false
	}
	var text string
	var fields []any
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		if err != nil || !ok {
			return "", nil, false
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return "", nil, false
		}
		var v any
		switch raw[0] {
		case '{', '[':
			v = string(raw)
		default:
			if json.Unmarshal(raw, &v) != nil {
				return "", nil, false
			}
			if n, ok := v.(float64); ok && n == float64(int64(n)) {
				v = int64(n)
			}
		}
		if key == "msg" {
			if s, ok := v.(string); ok {
				text = s
				continue
			}
		}
		fields = append(fields, key, v)
	}
	return text, fields, true
}
