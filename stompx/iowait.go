package stompx

import (
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// go-stomp runs two goroutines under each connection, a reader and an I/O
// loop, and offers no way to wait for them: they end on their own once the
// socket is closed or has failed. The reader ends after its last Read
// fails, once it has assembled what it had buffered of the frame it was
// reading (as much as a frame's limit: 16 MB copied, which takes a while
// on a loaded machine); the I/O loop ends after it has told the
// subscriptions, closing the connection as it goes (MustDisconnect, or
// the close after an ERROR frame; Disconnect closes it too). Close waits
// for both, so that once it returns nothing of the transport's runs on:
// the watchedConn under each go-stomp connection sees both ends, its last
// Read's error and go-stomp's Close of it. The transport itself never
// closes a socket through it (shut).

// ioGrace bounds Close's wait for go-stomp's goroutines. They end soon
// after their socket closes, unless go-stomp is stuck (its reader blocked
// handing a frame to an I/O loop that has ended): that connection is
// logged and left behind.
const ioGrace = 5 * time.Second

// ioSet holds the connections whose go-stomp goroutines may still run.
type ioSet struct {
	mu   sync.Mutex
	live map[*watchedConn]struct{}
}

func (s *ioSet) add(wc *watchedConn) {
	s.mu.Lock()
	if s.live == nil {
		s.live = make(map[*watchedConn]struct{})
	}
	s.live[wc] = struct{}{}
	s.mu.Unlock()
}

func (s *ioSet) remove(wc *watchedConn) {
	s.mu.Lock()
	delete(s.live, wc)
	s.mu.Unlock()
}

func (s *ioSet) list() []*watchedConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*watchedConn, 0, len(s.live))
	for wc := range s.live {
		out = append(out, wc)
	}
	return out
}

// watch wraps a freshly dialed socket for go-stomp (guard, failure and
// end of its goroutines), tracked until those goroutines end.
func (t *Transport) watch(raw net.Conn) *watchedConn {
	wc := &watchedConn{Conn: raw, guard: newFrameGuard(t.opts.frameLimits), ioEnded: make(chan struct{}), closeHook: t.opts.ioEndHook}
	wc.guard.onError = func(f *frame.Frame) { wc.errFrame.CompareAndSwap(nil, f) }
	wc.onIOEnd = func() { t.io.remove(wc) }
	t.io.add(wc)
	return wc
}

// waitIO waits, ioGrace at most, until go-stomp's goroutines of every
// connection the transport opened have ended. Close calls it once every
// connection is closed and the transport's own goroutines have ended.
func (t *Transport) waitIO() {
	live := t.io.list()
	if len(live) == 0 {
		return
	}
	t.log.Debug("stompx: waiting for go-stomp's connection goroutines", slog.Int("connections", len(live)))
	tm := time.NewTimer(ioGrace)
	defer tm.Stop()
	for _, wc := range live {
		select {
		case <-wc.ioEnded:
		case <-tm.C:
			t.log.Warn("stompx: go-stomp's connection goroutines did not end; left behind",
				slog.Int("connections", len(t.io.list())))
			return
		}
	}
}

// Close is go-stomp's close of the connection: the last thing its I/O
// loop does (or Disconnect's). The transport closes it with shut.
func (c *watchedConn) Close() error {
	if c.closeHook != nil {
		c.closeHook()
	}
	err := c.Conn.Close()
	c.mu.Lock()
	c.stompClosed = true
	c.mu.Unlock()
	c.checkIOEnd()
	return err
}

// shut closes the socket (for the transport: go-stomp's goroutines then
// end on their own).
func (c *watchedConn) shut() error { return c.Conn.Close() }

// checkIOEnd closes ioEnded once go-stomp's reader has failed and go-stomp
// has closed the connection.
func (c *watchedConn) checkIOEnd() {
	c.mu.Lock()
	end := c.stompClosed && c.err != nil && c.onIOEnd != nil
	f := c.onIOEnd
	if end {
		c.onIOEnd = nil
	}
	c.mu.Unlock()
	if end {
		close(c.ioEnded)
		f()
	}
}
