package front

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmhost/wasmhost/host/internal/gateway"
)

// spoolMemory is how much unread request body a spool keeps in memory
// before it spills the rest to a temporary file.
const spoolMemory = 1 << 20

// spoolChunk is the size of one read from the client once a body shows it
// is large; firstChunk is the size before that. A client that trickles its
// body keeps a read pending all the while, so the buffer of that read is
// memory each slow client holds: 4 KiB each, rather than 32, for a thousand
// of them.
const (
	spoolChunk = 32 << 10
	firstChunk = 4 << 10
)

// drainAfterLimit is how much of a body that passed max_body_size is still
// read and thrown away before the 413 goes out: a client that sends its
// whole body before it reads (Python's http.client, most of them) would
// otherwise meet a reset connection instead of the answer.
const drainAfterLimit = 4 << 20

var (
	chunkPool      = sync.Pool{New: func() any { b := make([]byte, spoolChunk); return &b }}
	firstChunkPool = sync.Pool{New: func() any { b := make([]byte, firstChunk); return &b }}
)

// spool reads a request body ahead of the guest. A goroutine (the filler)
// copies the body from the client as fast as the client sends it, into
// memory up to spoolMemory of unread data and into an unlinked temporary
// file beyond that, never past max_body_size; the guest reads from the
// spool at its own pace.
//
// Why read ahead: most HTTP clients (Python's http.client and requests,
// Java's HttpURLConnection) send the whole request body before they read
// any of the response. A guest that answers as it reads (echo, a
// transformer) fills the socket towards such a client and blocks, stops
// reading, and the client blocks sending: both wait forever. With the body
// read ahead the client always finishes sending; a client that reads while
// it sends (curl, browsers with fetch streams) still sees its data stream
// through, since the guest gets each piece as soon as it arrives.
//
// The spool also enforces the minimum data rate (min_body_rate): a timer
// checks, after the grace period and then whenever the body is due to have
// grown, that it has at least rate × elapsed bytes, and cuts the read when
// it has not.
type spool struct {
	src  io.Reader // the body, limited to max_body_size
	body io.Closer // the request body itself, closed after the filler stops
	raw  io.Reader // the request body without the limit, for draining

	// The rate minimum: interrupt makes the filler's pending read fail.
	start       time.Time
	minRate     int64 // bytes per second; 0 = none
	grace       time.Duration
	interrupt   func()
	interrupted atomic.Bool // the request's end cut the body, not its rate

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced whenever the state below changes
	mem       []byte        // unread data, when file is nil or before file data
	memOff    int           // mem[:memOff] was read already
	file      *os.File      // spilled data, once mem held spoolMemory unread
	fileW     int64         // bytes written to file
	fileR     int64         // bytes of file handed to the guest
	size      int64         // bytes received in all
	err       error         // why filling stopped: io.EOF when the body is complete
	limit     bool          // the body passed max_body_size
	slow      bool          // the body arrived below min_body_rate
	rateTimer *time.Timer   // checks the rate; nil until the body outlasts its first read
	stopped   bool          // the filler exited

	done chan struct{} // closed when the filler exits
}

// bodyLimits is what a spool enforces while it reads.
type bodyLimits struct {
	max     int64         // max_body_size
	minRate int64         // min_body_rate, bytes per second; 0 = none
	grace   time.Duration // min_body_rate_grace
	// interrupt makes a pending read of the body fail at once (it moves the
	// connection's read deadline to now).
	interrupt func()
}

// newSpool starts reading body in the background, within lim.
func newSpool(body io.ReadCloser, lim bodyLimits) *spool {
	s := &spool{
		src:       &limitedBody{r: body, left: lim.max, max: lim.max},
		body:      body,
		raw:       body,
		start:     time.Now(),
		minRate:   lim.minRate,
		grace:     lim.grace,
		interrupt: lim.interrupt,
		changed:   make(chan struct{}),
		done:      make(chan struct{}),
	}
	go s.fill()
	return s
}

// limitedBody is http.MaxBytesReader without its ResponseWriter: that one
// marks the response (a Connection: close header) from the reading
// goroutine, which is the filler here, while the handler may be writing
// the same header map. The handler says Connection: close itself.
type limitedBody struct {
	r    io.Reader
	left int64 // bytes still allowed
	max  int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, &http.MaxBytesError{Limit: l.max}
	}
	// One byte more than allowed tells a body at the limit from one past it.
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if int64(n) <= l.left {
		l.left -= int64(n)
		return n, err
	}
	n, l.left = int(l.left), -1
	return n, &http.MaxBytesError{Limit: l.max}
}

// watchRate starts the rate timer, when there is a minimum.
func (s *spool) watchRate() {
	if s.minRate <= 0 || s.interrupt == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateTimer = time.AfterFunc(max(0, s.grace-time.Since(s.start)), s.checkRate)
}

// stopRate stops the rate timer, if it runs.
func (s *spool) stopRate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rateTimer != nil {
		s.rateTimer.Stop()
	}
}

// checkRate runs on the rate timer: it cuts the body if it has fewer bytes
// than the rate asks for by now, and otherwise sets the timer for when it
// will next fall short, if nothing more arrives.
func (s *spool) checkRate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	due := s.start.Add(time.Duration(float64(s.size) / float64(s.minRate) * float64(time.Second)))
	if wait := time.Until(due); wait > 0 {
		s.rateTimer.Reset(wait)
		return
	}
	// Under the lock, so the filler cannot have finished in between: a
	// deadline moved to now after the body was complete would fail
	// net/http's background read of the next request instead.
	s.slow = true
	s.interrupt()
}

func (s *spool) fill() {
	defer close(s.done)
	fp := firstChunkPool.Get().(*[]byte)
	defer firstChunkPool.Put(fp)
	buf := *fp
	for reads := 0; ; reads++ {
		if reads == 1 {
			// Most bodies come with their headers, in the first read:
			// only one that outlasts it needs its rate watched.
			s.watchRate()
		}
		n, err := s.src.Read(buf)
		if n == len(buf) && len(buf) < spoolChunk {
			// A full read: more is likely waiting, so read in large pieces.
			bp := chunkPool.Get().(*[]byte)
			defer chunkPool.Put(bp)
			copy(*bp, buf[:n])
			buf = *bp
		}
		if n > 0 {
			if werr := s.store(buf[:n]); werr != nil {
				s.finish(werr, false)
				return
			}
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			limit := errors.As(err, &tooBig)
			if limit {
				s.drain(buf)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && !s.interrupted.Load() {
				// read_timeout ended the body: as slow as a body gets.
				s.mu.Lock()
				s.slow = true
				s.mu.Unlock()
			}
			s.finish(err, limit)
			return
		}
	}
}

// drain reads and discards what follows a body that passed the limit, so
// that a client still sending can finish and read its 413.
func (s *spool) drain(buf []byte) {
	for left := drainAfterLimit; left > 0; {
		n, err := s.raw.Read(buf)
		left -= n
		if err != nil {
			return
		}
	}
}

func (s *spool) store(p []byte) error {
	s.mu.Lock()
	spill := s.file == nil && len(s.mem)-s.memOff+len(p) > spoolMemory
	s.mu.Unlock()
	if spill {
		f, err := gateway.TempFile()
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.file = f
		s.mu.Unlock()
	}
	s.mu.Lock()
	f := s.file
	s.mu.Unlock()
	if f != nil {
		// Only the filler writes, at the end; readers read below fileW.
		if _, err := f.WriteAt(p, s.fileWritten()); err != nil {
			return err
		}
		s.mu.Lock()
		s.fileW += int64(len(p))
	} else {
		s.mu.Lock()
		if s.memOff > 0 && s.memOff >= len(s.mem)/2 {
			n := copy(s.mem, s.mem[s.memOff:])
			s.mem, s.memOff = s.mem[:n], 0
		}
		s.mem = append(s.mem, p...)
	}
	s.size += int64(len(p))
	s.signalLocked()
	s.mu.Unlock()
	return nil
}

func (s *spool) fileWritten() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fileW
}

func (s *spool) finish(err error, limit bool) {
	s.stopRate()
	s.mu.Lock()
	s.err, s.limit, s.stopped = err, limit, true
	s.signalLocked()
	s.mu.Unlock()
}

func (s *spool) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Read gives the guest the next piece of the body, waiting for the client
// no longer than ctx allows. It returns io.EOF at the end of the body, a
// *http.MaxBytesError past max_body_size, or ctx's error.
func (s *spool) Read(ctx context.Context, p []byte) (int, error) {
	for {
		s.mu.Lock()
		if s.memOff < len(s.mem) {
			n := copy(p, s.mem[s.memOff:])
			s.memOff += n
			s.mu.Unlock()
			return n, nil
		}
		if s.file != nil && s.fileR < s.fileW {
			f, off := s.file, s.fileR
			want := min(int64(len(p)), s.fileW-off)
			s.mu.Unlock()
			n, err := f.ReadAt(p[:want], off)
			s.mu.Lock()
			s.fileR += int64(n)
			s.mu.Unlock()
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if s.stopped {
			err := s.err
			s.mu.Unlock()
			return 0, err
		}
		wait := s.changed
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// complete waits, within ctx, for the client to finish sending the body.
// When ctx ends first, interrupt makes the filler's pending read fail. It
// then closes the request body: after that nothing reads it, so net/http
// may take the connection back (the order avoids the full-duplex panic of
// golang/go#68560). It reports whether the body arrived whole (or stopped
// at the limit, which answers the request all the same).
func (s *spool) complete(ctx context.Context, interrupt func()) bool {
	select {
	case <-s.done:
	case <-ctx.Done():
		s.interrupted.Store(true)
		interrupt()
		<-s.done
	}
	s.body.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err == io.EOF || s.limit
}

// await waits, within ctx, until the body is complete or has at least
// bound bytes. It reports whether it got that far: false when the body
// stopped short (too slow, too large, the client went away) or ctx ended.
// A body of bound bytes or fewer is then entirely in the spool.
func (s *spool) await(ctx context.Context, bound int64) bool {
	for {
		s.mu.Lock()
		ok := !s.limit && !s.slow && (s.size >= bound || s.err == io.EOF)
		stopped, wait := s.stopped, s.changed
		s.mu.Unlock()
		if ok || stopped {
			return ok
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return false
		}
	}
}

// received is the body's size when it is complete, else -1.
func (s *spool) received() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != io.EOF {
		return -1
	}
	return s.size
}

// tooSlow reports whether the body arrived below min_body_rate, or not
// within read_timeout.
func (s *spool) tooSlow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slow
}

// tooLarge reports whether the body passed max_body_size.
func (s *spool) tooLarge() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit
}

// release frees the spool's memory and file once the filler has stopped.
func (s *spool) release() {
	s.stopRate()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
	s.mem = nil
}
