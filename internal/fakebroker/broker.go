package fakebroker

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// Broker is the embedded broker; New makes one.
//
// It speaks STOMP 1.0-1.2 with go-stomp's frame package (the same frame
// reader and writer go-stomp's client and server use), but it does not use
// go-stomp's server package, for three measured reasons (see the package
// notes in doc.go):
//
//   - go-stomp's server routes every frame on one goroutine that blocks
//     writing to a client's 16-slot channel; when that client's reader is in
//     turn blocked handing the server a SEND, both wait for ever (trap 1: a
//     client pipelining more than about 144 requests on one connection).
//   - The same blocking write wedges the server when a topic subscriber
//     disconnects while its topic is being published (trap 3).
//   - server.Serve never returns: its routing goroutine keeps waiting on its
//     request channel after the listener is closed, so it cannot be stopped
//     without leaking a goroutine.
//
// Here no goroutine ever waits on a client. Each connection has a reader
// goroutine, which routes a frame under the broker's lock by appending it to
// the outbound queue of each receiving connection, and a writer goroutine
// that drains that queue to the socket. A connection whose queue grows beyond
// maxPendingBytes (a consumer that stopped reading) gets an ERROR frame and is
// closed. Plain (auto-ack) topic subscriptions match exactly, as in
// go-stomp's server: the platform publishes to the literal wildcard topic
// as well as to the agent's topic. Queues, acknowledgements and durable subscriptions follow
// RabbitMQ (broker_durable.go).
type Broker struct {
	log             *slog.Logger
	login, passcode string
	maxPendingBytes int

	ln     net.Listener
	mu     sync.Mutex // guards the fields below, every bconn.subs, .tag and .unacked, and the queues
	conns  map[*bconn]struct{}
	topics map[string][]*bsub   // plain topic subscriptions, by exact destination
	queues map[string]*bqueue   // by queue name
	bound  map[string]*bqueue   // the queues with bindings, by name
	exact  map[string][]*bqueue // plain client-ack subscriptions' queues, by exact destination
	closed bool
	seq    uint64           // the latest message's number
	now    func() time.Time // the clock of message and queue expiry

	maxBacklog, maxBacklogBytes int // MaxQueueBacklog, MaxQueueBacklogBytes; tests lower them

	wg        sync.WaitGroup
	overflows atomic.Int64 // messages dropped by MaxQueueBacklog
}

type bsub struct {
	c        *bconn
	id       string
	dest     string
	q        *bqueue // nil for a plain topic subscription
	ack      string  // frame.AckAuto, AckClient or AckClientIndividual
	prefetch int     // most unsettled deliveries; 0: no limit
	inflight int     // unsettled deliveries
}

type bconn struct {
	b  *Broker
	nc net.Conn

	subs    map[string]*bsub // by subscription id; guarded by b.mu
	session string
	tag     uint64               // the latest delivery tag; guarded by b.mu
	unacked map[uint64]*delivery // by delivery tag; guarded by b.mu
	owned   []*bqueue            // its exclusive queues; guarded by b.mu

	omu      sync.Mutex
	out      []*frame.Frame
	outBytes int
	closing  bool // write what is queued, then close
	overflow bool // slow consumer: send ERROR and close
	notify   chan struct{}
	done     chan struct{}
	once     sync.Once

	version string
	hbSend  time.Duration // how often the client wants a heart-beat from us
	hbRecv  time.Duration // how often the client promised to send one
	tx      map[string][]*frame.Frame
}

const (
	defaultMaxPendingBytes = 64 << 20
	connectTimeout         = 10 * time.Second
)

// New returns a broker that accepts the given login and passcode and logs
// to log; Listen starts it.
func New(log *slog.Logger, login, passcode string) *Broker {
	return &Broker{
		log:             log,
		login:           login,
		passcode:        passcode,
		maxPendingBytes: defaultMaxPendingBytes,
		conns:           make(map[*bconn]struct{}),
		topics:          make(map[string][]*bsub),
		queues:          make(map[string]*bqueue),
		bound:           make(map[string]*bqueue),
		exact:           make(map[string][]*bqueue),
		now:             time.Now,
		maxBacklog:      MaxQueueBacklog,
		maxBacklogBytes: MaxQueueBacklogBytes,
	}
}

// listen starts accepting connections on addr.
func (b *Broker) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	b.ln = ln
	b.wg.Add(1)
	go b.accept()
	return nil
}

func (b *Broker) addr() string { return b.ln.Addr().String() }

func (b *Broker) accept() {
	defer b.wg.Done()
	var delay time.Duration
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if delay == 0 {
					delay = 5 * time.Millisecond
				} else if delay *= 2; delay > time.Second {
					delay = time.Second
				}
				time.Sleep(delay)
				continue
			}
			return // the listener was closed
		}
		delay = 0
		c := &bconn{
			b:       b,
			nc:      nc,
			subs:    make(map[string]*bsub),
			session: newSessionID(),
			unacked: make(map[uint64]*delivery),
			notify:  make(chan struct{}, 1),
			done:    make(chan struct{}),
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			nc.Close()
			return
		}
		b.conns[c] = struct{}{}
		b.wg.Add(1)
		b.mu.Unlock()
		go c.serve()
	}
}

// close stops the listener, closes every connection and waits until every
// goroutine of the broker has returned.
func (b *Broker) close() {
	b.mu.Lock()
	b.closed = true
	conns := make([]*bconn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	if b.ln != nil {
		b.ln.Close()
	}
	for _, c := range conns {
		c.close()
	}
	b.wg.Wait()
}

// serve runs the connection: it reads and handles frames, with a writer
// goroutine of its own draining the outbound queue.
func (c *bconn) serve() {
	defer c.b.wg.Done()
	defer func() {
		// frame.Reader allocates whatever content-length a client
		// announces; a hostile length must cost this connection, not the
		// process.
		if r := recover(); r != nil {
			c.b.log.Warn("ivtest broker: connection dropped", "reason", fmt.Sprint(r))
			c.close()
		}
	}()
	r := frame.NewReader(c.nc)
	if !c.handshake(r) {
		c.close()
		return
	}
	graceful := false // the writer closes after its last frame
	defer func() {
		if !graceful {
			c.close()
		}
	}()
	c.b.wg.Add(1)
	go c.writeLoop()
	for {
		if c.hbRecv > 0 {
			c.nc.SetReadDeadline(time.Now().Add(3*c.hbRecv + time.Second))
		} else {
			c.nc.SetReadDeadline(time.Time{})
		}
		f, err := r.Read()
		if err != nil {
			return
		}
		if f == nil {
			continue // heart-beat
		}
		if !c.handle(f) {
			graceful = true
			return
		}
	}
}

// handshake reads CONNECT (or STOMP), authenticates, negotiates the version
// and heart-beats, and writes CONNECTED.
func (c *bconn) handshake(r *frame.Reader) bool {
	c.nc.SetReadDeadline(time.Now().Add(connectTimeout))
	var f *frame.Frame
	for f == nil {
		var err error
		if f, err = r.Read(); err != nil {
			return false
		}
	}
	w := frame.NewWriter(c.nc)
	fail := func(msg string) bool {
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_ = w.Write(frame.New(frame.ERROR, frame.Message, msg))
		return false
	}
	if f.Command != frame.CONNECT && f.Command != frame.STOMP {
		return fail("expected CONNECT")
	}
	if c.b.login != "" || c.b.passcode != "" {
		login, _ := f.Header.Contains(frame.Login)
		pass, _ := f.Header.Contains(frame.Passcode)
		if login != c.b.login || pass != c.b.passcode {
			return fail("authentication failed")
		}
	}
	version := "1.0"
	if av, ok := f.Header.Contains(frame.AcceptVersion); ok {
		version = ""
		for _, v := range strings.Split(av, ",") {
			switch v = strings.TrimSpace(v); v {
			case "1.0", "1.1", "1.2":
				if v > version {
					version = v
				}
			}
		}
		if version == "" {
			return fail("supported protocol versions are 1.0 1.1 1.2")
		}
	}
	if hb, ok := f.Header.Contains(frame.HeartBeat); ok && version != "1.0" {
		cx, cy, err := frame.ParseHeartBeat(hb)
		if err != nil {
			return fail("invalid heart-beat")
		}
		c.hbRecv, c.hbSend = min(cx, time.Hour), min(cy, time.Hour)
	}
	c.version = version
	// We send as often as the client asks and accept what it offers:
	// heart-beat "<cy>,<cx>" makes both effective periods the client's own.
	resp := frame.New(frame.CONNECTED,
		frame.Version, version,
		frame.Server, "ivtest/1",
		frame.Session, c.session)
	if version != "1.0" {
		resp.Header.Set(frame.HeartBeat, fmt.Sprintf("%d,%d", c.hbSend.Milliseconds(), c.hbRecv.Milliseconds()))
	}
	c.nc.SetWriteDeadline(time.Now().Add(connectTimeout))
	if err := w.Write(resp); err != nil {
		return false
	}
	c.nc.SetWriteDeadline(time.Time{})
	return true
}

// enqueue appends f (if not nil) to the outbound queue without ever
// blocking. last marks the final frame: the writer closes the connection
// once it has written everything queued.
func (c *bconn) enqueue(f *frame.Frame, last bool) {
	c.omu.Lock()
	if c.closing || c.overflow {
		c.omu.Unlock()
		return
	}
	if f != nil {
		c.out = append(c.out, f)
		c.outBytes += len(f.Body) + 64
		if c.outBytes > c.b.maxPendingBytes {
			// A consumer that stopped reading: its writer may be
			// blocked on a full socket, so give that write a second
			// to finish before the connection is dropped.
			c.overflow = true
			c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		}
	}
	if last {
		// The client has a few seconds to take the last frames.
		c.closing = true
		c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	}
	c.omu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *bconn) writeLoop() {
	defer c.b.wg.Done()
	defer c.close()
	w := frame.NewWriter(c.nc)
	var hb *time.Timer
	var hbC <-chan time.Time
	if c.hbSend > 0 {
		// Beat at half the period the client asked for, so that a
		// little scheduling delay never looks like a silent server.
		hb = time.NewTimer(c.beat())
		hbC = hb.C
		defer hb.Stop()
	}
	var batch []*frame.Frame
	for {
		c.omu.Lock()
		batch, c.out = c.out, batch[:0]
		c.outBytes = 0
		closing, overflow := c.closing, c.overflow
		c.omu.Unlock()
		if overflow {
			c.b.log.Warn("ivtest broker: closing a connection that stopped reading", "remote", c.nc.RemoteAddr().String())
			c.nc.SetWriteDeadline(time.Now().Add(time.Second))
			_ = w.Write(frame.New(frame.ERROR, frame.Message, "slow consumer: too many frames pending"))
			return
		}
		for i, f := range batch {
			if err := w.Write(f); err != nil {
				return
			}
			batch[i] = nil
		}
		if len(batch) > 0 && hb != nil {
			if !hb.Stop() {
				select {
				case <-hb.C:
				default:
				}
			}
			hb.Reset(c.beat())
		}
		if closing && len(batch) == 0 {
			return
		}
		if len(batch) > 0 {
			continue // look again before sleeping
		}
		select {
		case <-c.notify:
		case <-c.done:
			return
		case <-hbC:
			if err := w.Write(nil); err != nil {
				return
			}
			hb.Reset(c.beat())
		}
	}
}

// beat is the heart-beat interval: half the period the client asked for.
func (c *bconn) beat() time.Duration { return max(c.hbSend/2, 5*time.Millisecond) }

// close closes the socket, stops the writer and drops the subscriptions.
// It is safe to call more than once and from any goroutine that holds no
// broker lock.
func (c *bconn) close() {
	c.once.Do(func() {
		// What c held is back in its queues before the client can see
		// the close.
		b := c.b
		b.mu.Lock()
		b.detach(c)
		delete(b.conns, c)
		b.mu.Unlock()
		c.nc.Close()
		close(c.done)
	})
}

// newSessionID returns a session id, unique across brokers, in RabbitMQ's
// shape ("session-" and random text).
func newSessionID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// Not on any supported system; the time still tells sessions apart.
		return "session-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return "session-" + base64.RawURLEncoding.EncodeToString(b[:])
}
