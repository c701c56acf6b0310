package integration

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// blackholeProxy forwards TCP connections to a target until blackhole is
// called; from then on it forwards nothing, either way, and closes nothing:
// a network cut as the two ends see it (no FIN, no RST, only silence). It
// accepts new connections all the same and forwards nothing on them.
type blackholeProxy struct {
	ln     net.Listener
	target string
	cut    atomic.Bool
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// startProxy listens on loopback and forwards to target; the test's cleanup
// closes it and every connection through it.
func startProxy(t *testing.T, target string) *blackholeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blackholeProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *blackholeProxy) addr() string { return p.ln.Addr().String() }

// blackhole cuts the network: nothing more passes, and nothing is closed.
func (p *blackholeProxy) blackhole() { p.cut.Store(true) }

func (p *blackholeProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

func (p *blackholeProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *blackholeProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		if p.cut.Load() {
			p.pipe(c, nil) // read and drop what the client sends
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !p.track(s) {
			continue
		}
		p.pipe(c, s)
		p.pipe(s, c)
	}
}

// pipe copies from src to dst (nil: nowhere) until src ends; once the
// network is cut it reads and drops. When src ends before the cut, both
// ends are closed, as a proxy does; after it, nothing is.
func (p *blackholeProxy) pipe(src, dst net.Conn) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 && dst != nil && !p.cut.Load() {
				if _, werr := dst.Write(buf[:n]); werr != nil && !p.cut.Load() {
					_ = src.Close()
					return
				}
			}
			if err != nil {
				if !p.cut.Load() {
					_ = src.Close()
					if dst != nil {
						_ = dst.Close()
					}
				}
				return
			}
		}
	}()
}

// TestBlackholeProxy: bytes pass both ways through the proxy until the
// cut; after it nothing passes, either way, and neither end sees its
// connection closed.
func TestBlackholeProxy(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	served := make(chan net.Conn, 1)
	go func() {
		c, err := echo.Accept()
		if err != nil {
			return
		}
		served <- c
		buf := make([]byte, 64)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			_, _ = c.Write(buf[:n])
		}
	}()
	p := startProxy(t, echo.Addr().String())
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	server := <-served
	defer server.Close()
	roundTrip := func(msg string, wait time.Duration) (string, error) {
		if _, err := c.Write([]byte(msg)); err != nil {
			return "", err
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		return string(buf[:n]), err
	}
	if got, err := roundTrip("ping", 5*time.Second); err != nil || got != "ping" {
		t.Fatalf("before the cut: %q, %v", got, err)
	}
	p.blackhole()
	got, err := roundTrip("lost", 300*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || got != "" {
		t.Fatalf("after the cut the client read %q, %v; want nothing until its deadline", got, err)
	}
	// The server side is still open: its write succeeds, and is dropped.
	if _, err := server.Write([]byte("late")); err != nil {
		t.Fatalf("the server's end was closed by the cut: %v", err)
	}
	got, err = roundTrip("again", 300*time.Millisecond)
	if !errors.As(err, &ne) || !ne.Timeout() || got != "" {
		t.Fatalf("after the cut the client read %q, %v", got, err)
	}
	// A new connection is accepted and gets nothing either.
	c2, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c2.Read(make([]byte, 8)); n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a connection after the cut read %d bytes, %v", n, err)
	}
}
