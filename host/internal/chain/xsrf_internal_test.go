package chain

import (
	"crypto/sha256"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// readerSource is a BodySource over an io.Reader.
type readerSource struct{ r io.Reader }

func (s readerSource) ReadBody(p []byte) int32 {
	n, err := s.r.Read(p)
	if n == 0 && err != nil && err != io.EOF {
		return -1
	}
	return int32(n)
}

// repeated is n bytes of c, made as they are read: a large body that never
// sits in memory itself.
type repeated struct {
	c byte
	n int
}

func (r *repeated) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), r.n)]
	for i := range p {
		p[i] = r.c
	}
	r.n -= len(p)
	return len(p), nil
}

// largeForm is a urlencoded form of about size bytes whose _xsrf field
// comes last, as a form with a big text area before the token has it.
func largeForm(size int) io.Reader {
	return io.MultiReader(strings.NewReader("text="), &repeated{c: 'x', n: size}, strings.NewReader("&_xsrf=the-token"))
}

// The built-in xsrf reads a form as far as its _xsrf field and replays what
// it read to the plugin. What it read must not sit in memory: a 32 MiB form
// with the field at its end used to be held whole, per request, for as long
// as the plugin took (and max_body_size allows it).
func TestXSRFLargeFormDoesNotSitInMemory(t *testing.T) {
	const size = 32 << 20
	r, _ := http.NewRequest("POST", "/", nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req := &linkRequest{r: r, body: readerSource{largeForm(size)}}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	value, replay, err := formToken(req)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap held by the replay of a %d MiB form: %d KiB", size>>20, held>>10)
	if value != "the-token" {
		t.Fatalf("_xsrf field %q, want the-token", value)
	}
	if held > 4<<20 {
		t.Errorf("the replay of a %d MiB form holds %d KiB of heap; want it spilled to disk (under 4 MiB in memory)", size>>20, held>>10)
	}

	// The plugin still gets the whole body, byte for byte.
	want := sha256.New()
	io.Copy(want, largeForm(size))
	got := sha256.New()
	n, err := io.Copy(got, &bodyReader{src: replay})
	if err != nil || string(got.Sum(nil)) != string(want.Sum(nil)) {
		t.Errorf("replayed %d bytes (err %v), not the form as sent", n, err)
	}
	runtime.KeepAlive(replay)
	replay.(io.Closer).Close()
}

func TestXSRFTokens(t *testing.T) {
	tok := []byte("0123456789abcdef")
	a, b := maskXSRF(tok), maskXSRF(tok)
	if a == b {
		t.Errorf("two maskings of one token are equal: %q", a)
	}
	for _, m := range []string{a, b} {
		if got := unmaskXSRF(m); string(got) != string(tok) {
			t.Errorf("unmask(%q) = %q, want the token", m, got)
		}
	}
	for _, bad := range []string{"", "2|zz|00|1", "2|00|00|1", "3|" + a[2:], a[:len(a)-20]} {
		if got := unmaskXSRF(bad); got != nil {
			t.Errorf("unmask(%q) = %q, want nil", bad, got)
		}
	}
}
