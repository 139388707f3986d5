package realtime_test

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
	"github.com/wasmhost/wasmhost/host/internal/realtime/realtimetest"
	"github.com/wasmhost/wasmhost/internal/testutil"
)

// lines reads a curl's output line by line, failing the test when a line
// does not come in time.
type lines struct {
	t  *testing.T
	ch chan string
}

func (l lines) next() string {
	l.t.Helper()
	select {
	case s, ok := <-l.ch:
		if !ok {
			l.t.Fatal("the stream ended")
		}
		return s
	case <-time.After(5 * time.Second):
		l.t.Fatal("no line within 5s")
	}
	return ""
}

func (l lines) until(prefix string) {
	l.t.Helper()
	for !strings.HasPrefix(l.next(), prefix) {
	}
}

func curlStream(t *testing.T, url string, args ...string) (lines, *exec.Cmd) {
	t.Helper()
	curl := testutil.Need(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, curl, append([]string{"-sN", url}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ch := make(chan string, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return lines{t, ch}, cmd
}

// A published message arrives on an open stream through curl as an
// event, its lines as data: lines; keep-alive comments come between; the
// stream ends when the client goes; Last-Event-ID replays what followed.
func TestCurlEvents(t *testing.T) {
	hub, err := realtime.NewHub(nil, realtime.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	s := realtimetest.NewServerStreams(t, hub, nil, realtime.StreamOptions{KeepAlive: 200 * time.Millisecond})
	ctx := context.Background()
	l, cmd := curlStream(t, s.URL+"/events?topic=news&topic=sport")
	l.until(": stream open")

	s.Hub.Publish(ctx, "news", []byte("line1\nline2\r\nline3\r"))
	s.Hub.Publish(ctx, "weather", []byte("not subscribed"))
	s.Hub.Publish(ctx, "sport", []byte("goal"))
	var got []string
	for len(got) < 9 {
		if line := l.next(); !strings.HasPrefix(line, ":") && (len(got) > 0 || line != "") {
			got = append(got, line)
		}
	}
	first := strings.TrimPrefix(got[0], "id: ")
	want := []string{"id: " + first, "data: line1", "data: line2", "data: line3", "data: ", "", "id: ", "data: goal", ""}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) || (want[i] == "" && got[i] != "") {
			t.Fatalf("event lines %q, want %q", got, want)
		}
	}
	l.until(": keep-alive")
	if st := s.Hub.Stats(); st.Streams != 1 || st.EventsOut != 2 {
		t.Fatalf("stats %+v", st)
	}
	cmd.Process.Kill()
	waitFor(t, func() bool { return s.Hub.Stats().Streams == 0 }, "the stream to end when curl went")

	s.Hub.Publish(ctx, "news", []byte("missed"))
	replay, _ := exec.Command(testutil.Need(t, "curl"), "-sN", "--max-time", "1", "-H", "Last-Event-ID: "+first,
		s.URL+"/events?topic=news").Output()
	if r := string(replay); strings.Contains(r, "line1") || !strings.Contains(r, "data: missed\n") || strings.Contains(r, "goal") {
		t.Fatalf("replay after %s: %q", first, r)
	}
	lost, _ := exec.Command(testutil.Need(t, "curl"), "-sN", "--max-time", "1", "-H", "Last-Event-ID: nope-1",
		s.URL+"/events?topic=news").Output()
	if r := string(lost); !strings.Contains(r, "not in this server's history") || strings.Contains(r, "missed") {
		t.Fatalf("replay of an unknown id: %q", r)
	}
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
