// Package relay joins the hubs of the worker processes of one host: the
// master serves a unix socket, each worker's hub connects to it, and the
// master passes every published message on to the other workers and
// every message for one connection to the worker holding it. This is the
// "local" pubsub backend under prefork; with one process a hub needs no
// backend at all.
//
// Frames are a 4-byte big-endian length and an encoded Envelope. A
// worker's first frame is a hello naming its hub. The master keeps a
// bounded queue per worker: a worker that stops reading is dropped (and
// reconnects) rather than holding the master's memory.
package relay

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"github.com/wasmhost/wasmhost/host/internal/realtime"
)

// MaxFrame bounds one frame, a published message and its names.
const MaxFrame = 16 << 20

const peerQueue = 4096

var errFrame = errors.New("relay: frame too large")

func writeFrame(w io.Writer, b []byte) error {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

func readFrame(r *bufio.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return nil, errFrame
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// Server is the master's side: it relays frames between the workers'
// hubs.
type Server struct {
	ln net.Listener

	mu    sync.Mutex
	peers map[*peer]struct{}
	byHub map[string]*peer
	done  bool
	wg    sync.WaitGroup
}

type peer struct {
	conn net.Conn
	hub  string
	out  chan []byte
	once sync.Once
}

func (p *peer) drop() { p.once.Do(func() { p.conn.Close() }) }

// Listen serves the relay on a unix socket at path (replacing a stale
// one), readable by this user only.
func Listen(path string) (*Server, error) {
	ln, err := listenUnix(path)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, peers: map[*peer]struct{}{}, byHub: map[string]*peer{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Peers is the number of hubs connected now.
func (s *Server) Peers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byHub)
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		p := &peer{conn: c, out: make(chan []byte, peerQueue)}
		s.mu.Lock()
		if s.done {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.peers[p] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(2)
		go s.read(p)
		go s.write(p)
	}
}

// read takes the peer's frames and routes them.
func (s *Server) read(p *peer) {
	defer s.wg.Done()
	defer s.remove(p)
	r := bufio.NewReader(p.conn)
	for {
		b, err := readFrame(r)
		if err != nil {
			return
		}
		var e realtime.Envelope
		if e.UnmarshalBinary(b) != nil {
			return
		}
		switch e.Kind {
		case realtime.KindHello:
			s.mu.Lock()
			p.hub = e.Origin
			s.byHub[e.Origin] = p
			s.mu.Unlock()
		case realtime.KindPublish:
			s.broadcast(p, b)
		case realtime.KindSendTo:
			s.mu.Lock() // held while queueing: remove closes the queue after deleting
			if to := s.byHub[realtime.HubOf(e.Target)]; to != nil {
				s.send(to, b)
			}
			s.mu.Unlock()
		}
	}
}

func (s *Server) broadcast(from *peer, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.peers {
		if p != from {
			s.send(p, b)
		}
	}
}

// send queues b for p, dropping a peer whose queue is full.
func (s *Server) send(p *peer, b []byte) {
	select {
	case p.out <- b:
	default:
		p.drop()
	}
}

func (s *Server) write(p *peer) {
	defer s.wg.Done()
	w := bufio.NewWriter(p.conn)
	for b := range p.out {
		err := writeFrame(w, b)
		if err == nil && len(p.out) == 0 {
			err = w.Flush()
		}
		if err != nil {
			p.drop()
			for range p.out {
			}
			return
		}
	}
}

func (s *Server) remove(p *peer) {
	p.drop()
	s.mu.Lock()
	delete(s.peers, p)
	if s.byHub[p.hub] == p {
		delete(s.byHub, p.hub)
	}
	s.mu.Unlock()
	close(p.out)
}

// Close stops the relay and drops every worker.
func (s *Server) Close() error {
	s.mu.Lock()
	s.done = true
	for p := range s.peers {
		p.drop()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func listenUnix(path string) (net.Listener, error) {
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("relay: %s is in use", path)
	}
	os.Remove(path) // stale: nobody answered on it
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
