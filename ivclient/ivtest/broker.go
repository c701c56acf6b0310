package ivtest

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

// The embedded broker.
//
// It speaks STOMP 1.0-1.2 with go-stomp's frame package (the same frame
// reader and writer go-stomp's client and server use), but it does not use
// go-stomp's server package, for three measured reasons (see
// ../shared/research/go-stomp-limits.md and the package notes in doc.go):
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
type broker struct {
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
	b  *broker
	nc net.Conn

	subs    map[string]*bsub // by subscription id; guarded by b.mu
	session string
	tag     uint64               // the latest delivery tag; guarded by b.mu
	unacked map[uint64]*delivery // by delivery tag; guarded by b.mu

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

func newBroker(log *slog.Logger, login, passcode string) *broker {
	return &broker{
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
func (b *broker) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	b.ln = ln
	b.wg.Add(1)
	go b.accept()
	return nil
}

func (b *broker) addr() string { return b.ln.Addr().String() }

func (b *broker) accept() {
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
func (b *broker) close() {
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

// handle processes one client frame; false ends the connection's reading.
func (c *bconn) handle(f *frame.Frame) bool {
	if tx, ok := f.Header.Contains(frame.Transaction); ok && (f.Command == frame.SEND || f.Command == frame.ACK || f.Command == frame.NACK) {
		if _, open := c.tx[tx]; !open {
			return c.fail("unknown transaction", f)
		}
		f.Header.Del(frame.Transaction)
		c.receipt(f)
		f.Header.Del(frame.Receipt)
		c.tx[tx] = append(c.tx[tx], f)
		return true
	}
	switch f.Command {
	case frame.SEND:
		dest, ok := f.Header.Contains(frame.Destination)
		if !ok || dest == "" {
			return c.fail("SEND without destination", f)
		}
		c.b.route(dest, f)
	case frame.SUBSCRIBE:
		dest, ok := f.Header.Contains(frame.Destination)
		id, ok2 := f.Header.Contains(frame.Id)
		if !ok || dest == "" {
			return c.fail("SUBSCRIBE without destination", f)
		}
		if !ok2 {
			if c.version != "1.0" {
				return c.fail("SUBSCRIBE without id", f)
			}
			id = dest
		}
		return c.subscribe(id, dest, f)
	case frame.UNSUBSCRIBE:
		id, ok := f.Header.Contains(frame.Id)
		if !ok {
			id, ok = f.Header.Contains(frame.Destination)
		}
		if !ok {
			return c.fail("UNSUBSCRIBE without id", f)
		}
		name, named := f.Header.Contains("x-queue-name")
		if named && (f.Header.Get("durable") == "true" || f.Header.Get("persistent") == "true") {
			c.b.mu.Lock()
			found := c.b.deleteDurable(c, id, name)
			c.b.mu.Unlock()
			if !found {
				c.sendError("No subscription found", "UNSUBSCRIBE must refer to an existing subscription.\n"+
					"Subscription to \"id='"+id+"'\" not found.\n")
			}
		} else {
			c.b.unsubscribe(c, id)
		}
	case frame.ACK, frame.NACK:
		return c.ackFrame(f)
	case frame.BEGIN, frame.COMMIT, frame.ABORT:
		tx, ok := f.Header.Contains(frame.Transaction)
		if !ok {
			return c.fail(f.Command+" without transaction", f)
		}
		if c.tx == nil {
			c.tx = make(map[string][]*frame.Frame)
		}
		frames, open := c.tx[tx]
		switch {
		case f.Command == frame.BEGIN && open:
			return c.fail("transaction already begun", f)
		case f.Command == frame.BEGIN:
			c.tx[tx] = nil
		case !open:
			return c.fail("unknown transaction", f)
		default:
			delete(c.tx, tx)
			if f.Command == frame.COMMIT {
				for _, g := range frames {
					if g.Command == frame.SEND {
						c.b.route(g.Header.Get(frame.Destination), g)
					} else if !c.ackFrame(g) {
						return false
					}
				}
			}
		}
	case frame.DISCONNECT:
		// Its RECEIPT proves that nothing more is delivered to it.
		c.b.mu.Lock()
		c.b.detach(c)
		c.b.mu.Unlock()
		c.receipt(f)
		c.enqueue(nil, true)
		return false
	default:
		return c.fail("unexpected command "+f.Command, f)
	}
	c.receipt(f)
	return true
}

// receipt queues a RECEIPT when f asked for one. Frames of one connection are
// handled in order and routed before their receipt is queued, so a receipt
// proves the broker has acted on every earlier frame of the connection.
func (c *bconn) receipt(f *frame.Frame) {
	if id, ok := f.Header.Contains(frame.Receipt); ok {
		c.enqueue(frame.New(frame.RECEIPT, frame.ReceiptId, id), false)
	}
}

// fail queues an ERROR frame, after which the connection is closed.
func (c *bconn) fail(msg string, f *frame.Frame) bool {
	e := frame.New(frame.ERROR, frame.Message, msg)
	if f != nil {
		if id, ok := f.Header.Contains(frame.Receipt); ok {
			e.Header.Set(frame.ReceiptId, id)
		}
	}
	c.enqueue(e, true)
	return false
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
		c.nc.Close()
		close(c.done)
		b := c.b
		b.mu.Lock()
		b.detach(c)
		delete(b.conns, c)
		b.mu.Unlock()
	})
}

// subscribe handles SUBSCRIBE; false ends the connection.
func (c *bconn) subscribe(id, dest string, f *frame.Frame) bool {
	ack := frame.AckAuto
	if v, ok := f.Header.Contains(frame.Ack); ok {
		switch v {
		case frame.AckAuto, frame.AckClient, frame.AckClientIndividual:
			ack = v
		default:
			return c.fail("invalid ack header "+strconv.Quote(v), f)
		}
	}
	prefetch := 0
	if v, ok := f.Header.Contains("prefetch-count"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c.fail("invalid prefetch-count "+strconv.Quote(v), f)
		}
		prefetch = n
	}
	_, named := f.Header.Contains("x-queue-name")
	durable := f.Header.Get("durable") == "true" || f.Header.Get("persistent") == "true"
	b := c.b
	b.mu.Lock()
	if c.subs == nil { // closing
		b.mu.Unlock()
		return true
	}
	if _, dup := c.subs[id]; dup {
		b.mu.Unlock()
		return c.fail("subscription id already in use", f)
	}
	s := &bsub{c: c, id: id, dest: dest, ack: ack, prefetch: prefetch}
	// A topic subscription with client acks is, as on RabbitMQ, a queue of
	// its own (exclusive, deleted with the subscription), so that its
	// prefetch-count bounds what it holds unsettled and a NACK requeues.
	if isQueue(dest) || (strings.HasPrefix(dest, "/topic/") && (named || durable || ack != frame.AckAuto)) {
		if message, body := b.subscribeQueue(c, s, f); message != "" {
			b.mu.Unlock()
			// RabbitMQ: the ERROR, then the SUBSCRIBE's RECEIPT, then
			// the connection closes.
			e := frame.New(frame.ERROR, frame.Message, message, frame.ContentType, "text/plain")
			e.Body = []byte(body)
			c.enqueue(e, false)
			c.receipt(f)
			c.enqueue(nil, true)
			return false
		}
	} else {
		c.subs[id] = s
		b.topics[dest] = append(b.topics[dest], s)
	}
	// The RECEIPT goes before the messages that were waiting.
	c.receipt(f)
	if s.q != nil {
		b.dispatch(s.q)
	}
	b.mu.Unlock()
	return true
}

// detach ends c's subscriptions; what c had not settled goes back to its
// queues, for the next consumer, marked redelivered. b.mu is held.
func (b *broker) detach(c *bconn) {
	for _, s := range c.subs {
		b.removeSub(s)
	}
	c.subs = nil
	ds := make([]*delivery, 0, len(c.unacked))
	for _, d := range c.unacked {
		ds = append(ds, d)
	}
	b.settle(c, ds, true)
}

func (b *broker) unsubscribe(c *bconn, id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := c.subs[id]; ok {
		delete(c.subs, id)
		b.removeSub(s)
	}
}

// removeSub forgets s; its unsettled deliveries stay the connection's
// (they can still be acknowledged) until it closes. b.mu is held.
func (b *broker) removeSub(s *bsub) {
	if q := s.q; q != nil {
		q.subs = without(q.subs, s)
		if len(q.subs) == 0 && !q.deleted {
			q.idleSince = b.now()
			if q.declared && q.args.autoDelete {
				b.deleteQueue(q)
				return
			}
		}
		b.dispatch(q) // what s could not take may suit another consumer
		b.maybeForget(q)
		return
	}
	subs := without(b.topics[s.dest], s)
	if len(subs) == 0 {
		delete(b.topics, s.dest)
	} else {
		b.topics[s.dest] = subs
	}
}

func without(list []*bsub, s *bsub) []*bsub {
	for i, x := range list {
		if x == s {
			out := make([]*bsub, 0, len(list)-1)
			out = append(out, list[:i]...)
			return append(out, list[i+1:]...)
		}
	}
	return list
}

func isQueue(dest string) bool { return strings.HasPrefix(dest, "/queue/") }

// route delivers a SEND to a queue, or to a topic's subscribers and to the
// queues bound to it.
func (b *broker) route(dest string, f *frame.Frame) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if isQueue(dest) {
		q := b.implicitQueue(queueName(dest))
		b.enqueue(q, dest, f, now)
		b.dispatch(q)
		return
	}
	for _, s := range b.topics[dest] {
		b.deliver(s, f, dest, false, 0)
	}
	for _, q := range b.exact[dest] {
		b.enqueue(q, dest, f, now)
		b.dispatch(q)
	}
	if len(b.bound) == 0 {
		return
	}
	key, ok := strings.CutPrefix(dest, "/topic/")
	if !ok || isPattern(key) {
		return // see the routing note in broker_durable.go
	}
	for name, q := range b.bound {
		if q = b.liveQueue(name, now); q == nil {
			continue
		}
		for _, p := range q.bindings {
			if topicMatch(p, key) {
				b.enqueue(q, dest, f, now) // once, however many bindings match
				b.dispatch(q)
				break
			}
		}
	}
}

// deliver turns the SEND f into a MESSAGE for s and returns its delivery
// tag; b.mu is held. The SEND's headers are kept, except those that belong
// to the SEND itself. count > 0 adds x-delivery-count (quorum queues).
func (b *broker) deliver(s *bsub, f *frame.Frame, dest string, redelivered bool, count int) uint64 {
	c := s.c
	c.tag++
	id := "T_" + s.id + "@@" + c.session + "@@" + strconv.FormatUint(c.tag, 10)
	m := frame.New(frame.MESSAGE)
	for i := 0; i < f.Header.Len(); i++ {
		k, v := f.Header.GetAt(i)
		switch k {
		case frame.Receipt, frame.Transaction, frame.ContentLength, frame.Destination,
			frame.MessageId, frame.Subscription, frame.Ack, "redelivered", "x-delivery-count":
			continue
		}
		m.Header.Add(k, v)
	}
	m.Header.Set(frame.Subscription, s.id)
	m.Header.Set(frame.Destination, dest)
	m.Header.Set(frame.MessageId, id)
	m.Header.Set("redelivered", strconv.FormatBool(redelivered))
	if s.ack != frame.AckAuto {
		m.Header.Set(frame.Ack, id)
	}
	if count > 0 {
		m.Header.Set("x-delivery-count", strconv.Itoa(count))
	}
	m.Header.Set(frame.ContentLength, strconv.Itoa(len(f.Body)))
	m.Body = f.Body // read-only from here on, shared by every copy
	c.enqueue(m, false)
	return c.tag
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
