package abi

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestPackVersionRoundTrip(t *testing.T) {
	for _, v := range [][2]uint16{{0, 0}, {1, 0}, {1, 3}, {0, 1}, {2, 65535}, {65535, 0}, {65535, 65535}} {
		major, minor := UnpackVersion(PackVersion(v[0], v[1]))
		if major != v[0] || minor != v[1] {
			t.Errorf("UnpackVersion(PackVersion(%d, %d)) = %d, %d", v[0], v[1], major, minor)
		}
	}
	// The layout is part of the ABI: a guest built by another toolchain
	// packs it by hand.
	if got := PackVersion(1, 3); got != 0x0001_0003 {
		t.Errorf("PackVersion(1, 3) = %#x, want 0x10003", got)
	}
	if major, minor := UnpackVersion(Version); major != VersionMajor || minor != VersionMinor {
		t.Errorf("Version unpacks to %d.%d, want %d.%d", major, minor, VersionMajor, VersionMinor)
	}
}

func TestAppendPairLayout(t *testing.T) {
	got := AppendPair([]byte("x"), "ab", "")
	want := []byte{'x', 2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("AppendPair = %v, want %v", got, want)
	}
	long := strings.Repeat("v", 0x01_02_03)
	got = AppendPair(nil, "", long)
	if !bytes.Equal(got[:8], []byte{0, 0, 0, 0, 0x03, 0x02, 0x01, 0}) {
		t.Errorf("length prefixes %v, want little-endian 0 and 0x010203", got[:8])
	}
}

func TestPairsRoundTrip(t *testing.T) {
	pairs := [][2]string{
		{"REQUEST_METHOD", "GET"},
		{"", ""},                            // empty key and value
		{"HTTP_X", "a\x00b"},                // NUL inside a value
		{"k\x00ey", "\xff\xfe"},             // NUL in a key, bytes that are not UTF-8
		{"HTTP_X", "repeated"},              // a name may repeat
		{"CONTENT_LENGTH", ""},              // empty value after a non-empty one
		{"big", strings.Repeat("z", 70000)}, // past 16 bits of length
	}
	var buf []byte
	for _, p := range pairs {
		buf = AppendPair(buf, p[0], p[1])
	}
	if !ValidPairs(buf) {
		t.Fatal("ValidPairs rejects what AppendPair wrote")
	}
	rest := buf
	for i, p := range pairs {
		k, v, r, ok := NextPair(rest)
		if !ok {
			t.Fatalf("pair %d: NextPair failed", i)
		}
		if string(k) != p[0] || string(v) != p[1] {
			t.Errorf("pair %d = %q, %q; want %q, %q", i, k, v, p[0], p[1])
		}
		rest = r
	}
	if len(rest) != 0 {
		t.Errorf("%d bytes left after the last pair", len(rest))
	}
	if _, _, _, ok := NextPair(rest); ok {
		t.Error("NextPair of an empty buffer reports a pair")
	}
}

func TestMalformedPairs(t *testing.T) {
	good := AppendPair(nil, "key", "value")
	cases := map[string][]byte{
		"short key length":   {3, 0, 0},
		"key past the end":   {9, 0, 0, 0, 'a'},
		"no value length":    AppendString(nil, "key"),
		"short value length": append(AppendString(nil, "key"), 1, 0),
		"value past the end": good[:len(good)-1],
		"huge length":        {0xff, 0xff, 0xff, 0xff, 'a'},
		"trailing byte":      append(append([]byte(nil), good...), 0),
	}
	for name, b := range cases {
		if ValidPairs(b) {
			t.Errorf("%s: ValidPairs(%v) = true", name, b)
		}
	}
	for name, b := range cases {
		if name == "trailing byte" {
			continue // its first pair is whole
		}
		if k, v, rest, ok := NextPair(b); ok || k != nil || v != nil || rest != nil {
			t.Errorf("%s: NextPair = %q, %q, %v, %v; want nothing", name, k, v, rest, ok)
		}
	}
	if !ValidPairs(nil) {
		t.Error("an empty environ is a valid one")
	}
}

func TestStringsRoundTrip(t *testing.T) {
	keys := []string{"a", "", "b\x00c", strings.Repeat("k", MaxKVKeyBytes)}
	var buf []byte
	for _, k := range keys {
		buf = AppendString(buf, k)
	}
	for i, want := range keys {
		s, rest, ok := NextString(buf)
		if !ok || string(s) != want {
			t.Fatalf("element %d = %q, %v; want %q", i, s, ok, want)
		}
		buf = rest
	}
	if _, _, ok := NextString(buf); ok || len(buf) != 0 {
		t.Errorf("left %v after the last element", buf)
	}
	if _, _, ok := NextString([]byte{5, 0, 0, 0, 'a'}); ok {
		t.Error("NextString accepts a length past the end")
	}
}

// Every Errno has a name of its own: messages that say "unknown error" for
// a code the ABI defines would hide which failure happened.
func TestErrnoStrings(t *testing.T) {
	codes := []int32{ErrState, ErrInvalid, ErrClosed, ErrBodyTooLarge, ErrIO, ErrLength,
		ErrDownstream, ErrUnavailable, ErrNotFound, ErrDenied, ErrTooLarge, ErrBusy,
		ErrService, ErrHandle, ErrTimeout}
	seen := map[string]int32{}
	for _, e := range codes {
		if e >= 0 {
			t.Errorf("Errno %d is not negative", e)
		}
		s := ErrnoString(e)
		if s == "unknown error" || s == "" {
			t.Errorf("ErrnoString(%d) = %q", e, s)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("ErrnoString(%d) = ErrnoString(%d) = %q", e, prev, s)
		}
		seen[s] = e
	}
	for _, e := range []int32{0, 1, -9, -19, -27, math.MinInt32} {
		if s := ErrnoString(e); s != "unknown error" {
			t.Errorf("ErrnoString(%d) = %q, want unknown error", e, s)
		}
	}
}

// Imports lists every host function once: a host checking a module's
// imports against it would otherwise accept a name twice or miss one.
func TestImportsListed(t *testing.T) {
	want := []string{
		ImportEnvironGet, ImportBodyRead, ImportStartResponse, ImportBodyWrite,
		ImportBodyFlush, ImportLog, ImportStaticURL, ImportResultGet, ImportKVOpen,
		ImportKVGet, ImportKVSet, ImportKVDelete, ImportKVExists, ImportKVKeys,
		ImportKVIncrement, ImportKVCompareAndSwap, ImportKVGetMany, ImportHTTPRequest,
		ImportHTTPBodyWrite, ImportHTTPBodyClose, ImportHTTPResponse, ImportHTTPBodyRead,
		ImportHTTPClose, ImportNextStart, ImportNextWait, ImportNextRead, ImportNextBody,
		ImportCookieSign, ImportCookieVerify, ImportXSRFToken,
		ImportConnSend, ImportConnSet, ImportConnClose, ImportConnSubscribe,
		ImportConnUnsubscribe, ImportPubsubPublish, ImportPubsubSendTo, ImportServeEvents,
	}
	listed := map[string]bool{}
	for _, name := range Imports {
		if listed[name] {
			t.Errorf("Imports lists %q twice", name)
		}
		listed[name] = true
	}
	for _, name := range want {
		if !listed[name] {
			t.Errorf("Imports misses %q", name)
		}
	}
	if len(Imports) != len(want) {
		t.Errorf("Imports has %d names, want %d", len(Imports), len(want))
	}
}

func FuzzPairs(f *testing.F) {
	f.Add(AppendPair(AppendPair(nil, "a", "b"), "", "c"))
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		valid := ValidPairs(b)
		var again []byte
		rest := b
		for len(rest) > 0 {
			k, v, r, ok := NextPair(rest)
			if !ok {
				if valid {
					t.Fatalf("ValidPairs(%v) but NextPair fails on %v", b, rest)
				}
				return
			}
			again = AppendPair(again, string(k), string(v))
			rest = r
		}
		if !valid {
			t.Fatalf("ValidPairs(%v) = false, but every pair decodes", b)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding %v gave %v", b, again)
		}
	})
}
