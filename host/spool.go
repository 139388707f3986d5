package host

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
)

// spoolMemory is how much unread request body a spool keeps in memory
// before it spills the rest to a temporary file.
const spoolMemory = 1 << 20

// spoolChunk is the size of one read from the client.
const spoolChunk = 32 << 10

// drainAfterLimit is how much of a body that passed max_body_size is still
// read and thrown away before the 413 goes out: a client that sends its
// whole body before it reads (Python's http.client, most of them) would
// otherwise meet a reset connection instead of the answer.
const drainAfterLimit = 4 << 20

var chunkPool = sync.Pool{New: func() any { b := make([]byte, spoolChunk); return &b }}

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
type spool struct {
	src  io.Reader // the body, limited to max_body_size
	body io.Closer // the request body itself, closed after the filler stops
	raw  io.Reader // the request body without the limit, for draining

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever the state below changes
	mem     []byte        // unread data, when file is nil or before file data
	memOff  int           // mem[:memOff] was read already
	file    *os.File      // spilled data, once mem held spoolMemory unread
	fileW   int64         // bytes written to file
	fileR   int64         // bytes of file handed to the guest
	size    int64         // bytes received in all
	err     error         // why filling stopped: io.EOF when the body is complete
	limit   bool          // the body passed max_body_size
	stopped bool          // the filler exited

	done chan struct{} // closed when the filler exits
}

// newSpool starts reading body (limited to max bytes) in the background.
func newSpool(w http.ResponseWriter, body io.ReadCloser, max int64) *spool {
	s := &spool{
		src:     http.MaxBytesReader(w, body, max),
		body:    body,
		raw:     body,
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.fill()
	return s
}

func (s *spool) fill() {
	defer close(s.done)
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	buf := *bp
	for {
		n, err := s.src.Read(buf)
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
		f, err := os.CreateTemp("", "wasmhost-body-*")
		if err != nil {
			return err
		}
		os.Remove(f.Name()) // nothing outlives the request, even after a crash
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
		interrupt()
		<-s.done
	}
	s.body.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err == io.EOF || s.limit
}

// tooLarge reports whether the body passed max_body_size.
func (s *spool) tooLarge() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit
}

// release frees the spool's memory and file once the filler has stopped.
func (s *spool) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
	s.mem = nil
}
