package integration

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
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
