package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		err  string // substring of the error; "" means success
	}{
		{"0", 0, ""},
		{"1024", 1024, ""},
		{"100B", 100, ""},
		{"100b", 100, ""},
		{"512KB", 512 << 10, ""},
		{"512kb", 512 << 10, ""},
		{"64MB", 64 << 20, ""},
		{"10mb", 10 << 20, ""},
		{"1GB", 1 << 30, ""},
		{"4GiB", 4 << 30, ""},
		{"1KiB", 1024, ""},
		{"3MiB", 3 << 20, ""},
		{"64 MB", 64 << 20, ""},
		{" 8KB ", 8 << 10, ""},
		{"8589934591GB", 8589934591 << 30, ""},
		{"9223372036854775807", 9223372036854775807, ""},
		{"", 0, "empty"},
		{"   ", 0, "empty"},
		{"-1", 0, "negative"},
		{"-64MB", 0, "negative"},
		{"1.5MB", 0, "fractions"},
		{"1,5MB", 0, "fractions"},
		{"10XB", 0, `unknown unit "XB"`},
		{"10TB", 0, "unknown unit"},
		{"10 M", 0, "unknown unit"},
		{"MB", 0, "whole number"},
		{"+5", 0, "whole number"},
		{"1e6", 0, "unknown unit"},
		{"9223372036854775808", 0, "too large"},
		{"8589934592GB", 0, "too large"},
		{"99999999999999999999KB", 0, "too large"},
	} {
		got, err := ParseSize(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		case c.err != "" && err == nil:
			t.Errorf("ParseSize(%q) = %d; want an error", c.in, got)
		case c.err != "" && (!strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), `"`+c.in+`"`)):
			// The error must name the value, since it is shown without the source line.
			t.Errorf("ParseSize(%q) error %q; want it to mention %q and the value", c.in, err, c.err)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for in, want := range map[int64]string{
		0: "0B", 1: "1B", 1000: "1000B", 1024: "1KB", 1536: "1536B", 4 << 20: "4MB", 3 << 30: "3GB", 1<<20 + 1024: "1025KB",
	} {
		if got := FormatSize(in); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"10s", 10 * time.Second, ""},
		{"200ms", 200 * time.Millisecond, ""},
		{"1m30s", 90 * time.Second, ""},
		{"2h", 2 * time.Hour, ""},
		{"1.5s", 1500 * time.Millisecond, ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{" 5s ", 5 * time.Second, ""},
		{"-1s", 0, "negative"},
		{"-0s", 0, "negative"},
		{"10", 0, "with a unit"},
		{"", 0, "with a unit"},
		{"ten seconds", 0, "with a unit"},
		{"10d", 0, "with a unit"},
		{"9999999999h", 0, "with a unit"},
	} {
		got, err := ParseDuration(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		case c.err != "" && err == nil:
			t.Errorf("ParseDuration(%q) = %v; want an error", c.in, got)
		case c.err != "" && (!strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), `"`+c.in+`"`)):
			t.Errorf("ParseDuration(%q) error %q; want it to mention %q and the value", c.in, err, c.err)
		}
	}
}

func TestCheckListenAddr(t *testing.T) {
	for in, ok := range map[string]bool{
		"127.0.0.1:8888": true, ":80": true, "0.0.0.0:0": true, "[::1]:443": true, "[::]:65535": true,
		"localhost:8000": true, "example.com:1": true,
		"": false, "8888": false, "127.0.0.1": false, "::1:80": false, ":": false, "host:": false,
		"host:http": false, "host:-1": false, "host:65536": false, "host:+80": false, "a b:80": false, "a/b:80": false,
	} {
		if err := CheckListenAddr(in); (err == nil) != ok {
			t.Errorf("CheckListenAddr(%q) = %v, want ok=%v", in, err, ok)
		}
	}
}

func TestNormalizeMount(t *testing.T) {
	for in, want := range map[string]string{
		"/": "/", "/api": "/api", "/api/": "/api", "/a/b/c/": "/a/b/c", "/a.b/..c/": "/a.b/..c", "/%20": "/%20",
		"": "", "api": "", "api/": "", "//": "", "/a//b": "", "/a/./b": "", "/..": "", "/a/..": "",
		"/a?b": "", "/a#b": "", "/a b": "", "/a\tb": "",
	} {
		got, err := NormalizeMount(in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("NormalizeMount(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1": "127.0.0.1/32", "::1": "::1/128", "10.1.2.3/8": "10.0.0.0/8", "fd00::/8": "fd00::/8",
		"0.0.0.0/0": "0.0.0.0/0", "localhost": "", "10.0.0.0/33": "", "fe80::1%eth0": "", "": "", "1.2.3.4/": "",
	} {
		got, err := ParsePrefix(in)
		if want == "" {
			if err == nil {
				t.Errorf("ParsePrefix(%q) = %v, want an error", in, got)
			}
			continue
		}
		if err != nil || got != netip.MustParsePrefix(want) {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
}
