package stompx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	"github.com/go-stomp/stomp/v3/server"

	"github.com/instantvoice/instantvoice-go/internal/wire"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/stompx"
)

const (
	testLogin    = "instantvoice"
	testPasscode = "sT0MpM3"
)

// nopLogger silences go-stomp's server and the test clients.
type nopLogger struct{}

func (nopLogger) Debugf(string, ...interface{})   {}
func (nopLogger) Infof(string, ...interface{})    {}
func (nopLogger) Warningf(string, ...interface{}) {}
func (nopLogger) Errorf(string, ...interface{})   {}
func (nopLogger) Debug(string)                    {}
func (nopLogger) Info(string)                     {}
func (nopLogger) Warning(string)                  {}
func (nopLogger) Error(string)                    {}

type auth struct{ login, passcode string }

func (a auth) Authenticate(login, passcode string) bool {
	return login == a.login && passcode == a.passcode
}

// testBroker is go-stomp's own embedded server on loopback with a request
// responder attached: the platform reduced to what the transport needs.
type testBroker struct {
	addr string
	ln   net.Listener
	resp *responder
}

func newTestBroker(tb testing.TB, heartBeat ...time.Duration) *testBroker {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &server.Server{Authenticator: auth{testLogin, testPasscode}, Log: nopLogger{}}
	if len(heartBeat) > 0 {
		srv.HeartBeat = heartBeat[0]
	}
	go func() { _ = srv.Serve(ln) }()
	b := &testBroker{addr: ln.Addr().String(), ln: ln}
	b.resp = startResponder(tb, b.addr)
	tb.Cleanup(func() {
		b.resp.close()
		_ = ln.Close()
	})
	return b
}

// publish sends body to dest from a connection of its own and waits for
// the broker's receipt.
func (b *testBroker) publish(tb testing.TB, dest string, bodies ...[]byte) {
	tb.Helper()
	b.resp.publish(tb, dest, bodies...)
}

// replyFunc decides what the responder publishes on the reply topic for
// one request; reply is the normal reply.
type replyFunc func(req wire.IncomingRequest, reply []byte) [][]byte

// responder plays the platform: it reads /queue/config on one connection
// and publishes replies on another (never sending from the reading
// goroutine, never sending on the connection it reads).
type responder struct {
	sub, pub       *stomp.Conn
	subRaw, pubRaw net.Conn
	ss             *stomp.Subscription

	fn       atomic.Pointer[replyFunc]
	drop     atomic.Int64 // replies still to withhold
	received atomic.Uint64
	holds    atomic.Uint64 // requests of method Hold received

	mu    sync.Mutex
	queue []outMsg
	wake  chan struct{}
	stop  chan struct{}
	wg    sync.WaitGroup
}

type outMsg struct {
	dest    string
	body    []byte
	receipt chan error
}

// dialRaw connects a plain go-stomp client, for the test's own use; the
// test closes the returned socket (or disconnects) when done. Its cleanup
// closes the socket and waits until go-stomp's goroutines under the client
// have ended, so that goleak never sees them on their way out.
func dialRaw(tb testing.TB, addr string) (*stomp.Conn, net.Conn) {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	ec := &endConn{Conn: nc, ended: make(chan struct{})}
	c, err := stomp.Connect(ec, stomp.ConnOpt.Login(testLogin, testPasscode), stomp.ConnOpt.Host("/"),
		stomp.ConnOpt.Logger(nopLogger{}), stomp.ConnOpt.HeartBeat(10*time.Second, 10*time.Second))
	if err != nil {
		_ = nc.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = nc.Close()
		select {
		case <-ec.ended:
		case <-time.After(10 * time.Second):
			tb.Error("go-stomp's goroutines of a test client did not end")
		}
	})
	return c, nc
}

// endConn is the socket under a test's go-stomp client, as go-stomp sees
// it: ended closes once go-stomp's reader has seen its last Read fail and
// go-stomp has closed it (the last thing its I/O goroutine does, or
// Disconnect's), that is once both its goroutines are done.
type endConn struct {
	net.Conn
	mu                 sync.Mutex
	readFailed, closed bool
	ended              chan struct{}
}

func (c *endConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.mark(&c.readFailed)
	}
	return n, err
}

func (c *endConn) Close() error {
	err := c.Conn.Close()
	c.mark(&c.closed)
	return err
}

func (c *endConn) mark(flag *bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.readFailed && c.closed
	*flag = true
	if !was && c.readFailed && c.closed {
		close(c.ended)
	}
}

func startResponder(tb testing.TB, addr string) *responder {
	tb.Helper()
	r := &responder{wake: make(chan struct{}, 1), stop: make(chan struct{})}
	r.sub, r.subRaw = dialRaw(tb, addr)
	r.pub, r.pubRaw = dialRaw(tb, addr)
	ss, err := r.sub.Subscribe("/queue/config", stomp.AckAuto)
	if err != nil {
		tb.Fatal(err)
	}
	r.ss = ss
	// The queue subscription must be in place before the first request.
	if err := r.sub.Send("/topic/responder.sync", "", nil, stomp.SendOpt.Receipt); err != nil {
		tb.Fatal(err)
	}
	r.wg.Add(2)
	go r.read()
	go r.write()
	return r
}

func (r *responder) setReply(f replyFunc) {
	if f == nil {
		r.fn.Store(nil)
		return
	}
	r.fn.Store(&f)
}

func (r *responder) read() {
	defer r.wg.Done()
	for m := range r.ss.C {
		if m.Err != nil {
			continue
		}
		r.received.Add(1)
		req, err := wire.ParseRequest(m.Body)
		if err != nil {
			continue
		}
		if req.Method == "Hold" {
			r.holds.Add(1)
		}
		if r.drop.Load() > 0 && r.drop.Add(-1) >= 0 {
			continue
		}
		var payload any = "Successful " + req.Method
		code := 0
		switch req.Method {
		case "Echo":
			payload = req.Args
		case "Fail":
			code = 3
			payload = "not found"
		case "List":
			payload = []any{"1001", "1002"}
		}
		reply, err := wire.AppendReply(nil, code, payload, req.ID)
		if err != nil {
			continue
		}
		bodies := [][]byte{reply}
		if fp := r.fn.Load(); fp != nil {
			bodies = (*fp)(req, reply)
		}
		r.mu.Lock()
		for _, b := range bodies {
			r.queue = append(r.queue, outMsg{dest: "/topic/" + req.Key, body: b})
		}
		r.mu.Unlock()
		r.signal()
	}
}

func (r *responder) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *responder) write() {
	defer r.wg.Done()
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
		}
		for {
			r.mu.Lock()
			q := r.queue
			r.queue = nil
			r.mu.Unlock()
			if len(q) == 0 {
				break
			}
			for _, m := range q {
				var err error
				if m.receipt != nil {
					err = r.pub.Send(m.dest, "", m.body, stomp.SendOpt.Receipt)
					m.receipt <- err
				} else {
					err = r.pub.Send(m.dest, "", m.body)
				}
				if err != nil && !errors.Is(err, stomp.ErrMsgSendTimeout) {
					return
				}
			}
		}
	}
}

// publish queues bodies behind every reply already queued and waits until
// the broker has them.
func (r *responder) publish(tb testing.TB, dest string, bodies ...[]byte) {
	tb.Helper()
	done := make(chan error, 1)
	r.mu.Lock()
	for i, b := range bodies {
		m := outMsg{dest: dest, body: b}
		if i == len(bodies)-1 {
			m.receipt = done
		}
		r.queue = append(r.queue, m)
	}
	r.mu.Unlock()
	r.signal()
	select {
	case err := <-done:
		if err != nil {
			tb.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		tb.Fatal("publish: no receipt")
	}
}

// enqueue queues one publication without waiting for it.
func (r *responder) enqueue(dest string, body []byte) {
	r.mu.Lock()
	r.queue = append(r.queue, outMsg{dest: dest, body: body})
	r.mu.Unlock()
	r.signal()
}

func (r *responder) close() {
	close(r.stop)
	_ = r.subRaw.Close()
	_ = r.pubRaw.Close()
	r.wg.Wait()
}

// proxy forwards loopback TCP connections to target; the test can cut them
// all, refuse new ones, or inject bytes towards the clients.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	pairs  []*pair
	refuse bool
	closed bool
	wg     sync.WaitGroup

	muteNew  atomic.Bool  // new connections get the broker's first bytes (CONNECTED), then nothing
	lag      atomic.Int64 // a slow link: each chunk from the broker (2 KiB at most) waits this long (ns) before it is forwarded
	accepted atomic.Int64 // connections accepted, refused ones included
}

type pair struct {
	client, upstream net.Conn
	wmu              sync.Mutex // serialises writes to client (forwarding and injection)
	frozen           atomic.Bool
}

func newProxy(tb testing.TB, target string) *proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		p.mu.Lock()
		if p.refuse || p.closed {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.mu.Unlock()
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		pr := &pair{client: c, upstream: u}
		mute := p.muteNew.Load()
		p.mu.Lock()
		p.pairs = append(p.pairs, pr)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(u, c)
			_ = u.Close()
			_ = c.Close()
		}()
		go func() {
			defer p.wg.Done()
			buf := make([]byte, 32<<10)
			for {
				lag := time.Duration(p.lag.Load())
				chunk := buf
				if lag > 0 {
					chunk = buf[:2<<10]
				}
				n, err := u.Read(chunk)
				if n > 0 && lag > 0 {
					time.Sleep(lag)
				}
				if n > 0 && !pr.frozen.Load() {
					pr.wmu.Lock()
					_, werr := c.Write(buf[:n])
					pr.wmu.Unlock()
					if werr != nil {
						break
					}
					if mute {
						pr.frozen.Store(true)
					}
				}
				if err != nil {
					break
				}
			}
			_ = u.Close()
			_ = c.Close()
		}()
	}
}

// kill cuts every current connection, both ways.
func (p *proxy) kill() int {
	p.mu.Lock()
	pairs := p.pairs
	p.pairs = nil
	p.mu.Unlock()
	for _, pr := range pairs {
		_ = pr.client.Close()
		_ = pr.upstream.Close()
	}
	return len(pairs)
}

// conns returns how many connections the proxy holds (made since the last
// kill).
func (p *proxy) conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

// freeze stops forwarding anything from the broker to the current
// clients, leaving the connections open: a broker gone silent.
func (p *proxy) freeze() {
	p.mu.Lock()
	for _, pr := range p.pairs {
		pr.frozen.Store(true)
	}
	p.mu.Unlock()
}

func (p *proxy) setRefuse(r bool) {
	p.mu.Lock()
	p.refuse = r
	p.mu.Unlock()
}

// inject writes b to every client, between forwarded chunks.
func (p *proxy) inject(b []byte) {
	p.mu.Lock()
	pairs := append([]*pair(nil), p.pairs...)
	p.mu.Unlock()
	for _, pr := range pairs {
		pr.wmu.Lock()
		_, _ = pr.client.Write(b)
		pr.wmu.Unlock()
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	_ = p.ln.Close()
	p.kill()
	p.wg.Wait()
}

// tcpFake is the loopback listener under the tests' hand-written brokers:
// it accepts until closed and runs serve on each connection in a goroutine
// of wg. Cleanup closes the listener and every connection (serve sees its
// reads fail), then waits for wg, so a test leaves no goroutine behind.
// A broker that starts goroutines of its own adds them to wg too.
type tcpFake struct {
	ln     net.Listener
	wg     sync.WaitGroup
	connMu sync.Mutex
	conns  []net.Conn
}

func startTCPFake(tb testing.TB, serve func(net.Conn)) *tcpFake {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	f := &tcpFake{ln: ln}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.connMu.Lock()
			f.conns = append(f.conns, c)
			f.connMu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		f.connMu.Lock()
		for _, c := range f.conns {
			_ = c.Close()
		}
		f.connMu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *tcpFake) addr() string { return f.ln.Addr().String() }

// silentServer accepts TCP connections and never answers.
func silentServer(tb testing.TB) string {
	tb.Helper()
	return startTCPFake(tb, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }).addr()
}

// fakeBroker is the raw STOMP server of the tests, for what go-stomp's
// server and ivtest's broker cannot show: its CONNECTED frame is
// configurable (server and heart-beat headers), it records the heart-beat
// header of every CONNECT and the headers of every SEND to the request
// queue, it answers receipts, and it routes a connection's SENDs to that
// connection's own subscriptions only (connRoutes): calls get no reply.
// onFrame, when set, sees every frame after CONNECT first (the hostile
// broker floods from there); muteDisconnect leaves DISCONNECT unanswered.
type fakeBroker struct {
	*tcpFake
	fakeConfig
	mu       sync.Mutex
	connects []string        // heart-beat headers of the CONNECT frames
	sends    []*frame.Header // headers of the SENDs to the request queue
	sent     chan struct{}
}

// fakeConfig is what a fakeBroker does besides the common part.
type fakeConfig struct {
	server         string // CONNECTED's server header; none when ""
	hb             string // CONNECTED's heart-beat header; "0,0" when ""
	muteDisconnect bool
	onFrame        func(c net.Conn, f *frame.Frame)
}

// connRoutes is the subscriptions of one connection of a hand-written
// broker (id -> destination): enough to answer the transport's
// confirmations, a SEND to a topic of the connection's own.
type connRoutes map[string]string

// handle records a SUBSCRIBE or an UNSUBSCRIBE, and delivers a SEND to
// each subscription of its destination on w.
func (r connRoutes) handle(w *frame.Writer, f *frame.Frame) error {
	dest := f.Header.Get(frame.Destination)
	switch f.Command {
	case frame.SUBSCRIBE:
		r[f.Header.Get(frame.Id)] = dest
	case frame.UNSUBSCRIBE:
		delete(r, f.Header.Get(frame.Id))
	case frame.SEND:
		for id, d := range r {
			if d != dest {
				continue
			}
			m := frame.New(frame.MESSAGE, frame.Destination, dest, frame.Subscription, id, frame.MessageId, id+"-"+dest)
			m.Body = f.Body
			if err := w.Write(m); err != nil {
				return err
			}
		}
	}
	return nil
}

func newFakeBroker(tb testing.TB, cfg fakeConfig) *fakeBroker {
	tb.Helper()
	if cfg.hb == "" {
		cfg.hb = "0,0"
	}
	b := &fakeBroker{fakeConfig: cfg, sent: make(chan struct{}, 64)}
	b.tcpFake = startTCPFake(tb, b.serve)
	return b
}

func (b *fakeBroker) serve(c net.Conn) {
	r, w := frame.NewReader(c), frame.NewWriter(c)
	routes := connRoutes{}
	for {
		f, err := r.Read()
		if err != nil {
			return
		}
		if f == nil {
			continue
		}
		switch f.Command {
		case frame.CONNECT, frame.STOMP:
			b.mu.Lock()
			b.connects = append(b.connects, f.Header.Get(frame.HeartBeat))
			b.mu.Unlock()
			h := []string{frame.Version, "1.2", frame.HeartBeat, b.hb}
			if b.server != "" {
				h = append(h, frame.Server, b.server)
			}
			if w.Write(frame.New(frame.CONNECTED, h...)) != nil {
				return
			}
			continue
		case frame.SEND:
			if f.Header.Get(frame.Destination) == stompx.DefaultRequestQueue {
				b.mu.Lock()
				b.sends = append(b.sends, f.Header.Clone())
				b.mu.Unlock()
				select {
				case b.sent <- struct{}{}:
				default:
				}
			}
		case frame.DISCONNECT:
			if b.muteDisconnect {
				continue
			}
		}
		if b.onFrame != nil {
			b.onFrame(c, f)
		}
		if routes.handle(w, f) != nil {
			return
		}
		if id, ok := f.Header.Contains(frame.Receipt); ok {
			if w.Write(frame.New(frame.RECEIPT, frame.ReceiptId, id)) != nil {
				return
			}
		}
	}
}

func (b *fakeBroker) connectHeaders() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.connects...)
}

// lastSend waits for a request and returns the headers of the last one.
func (b *fakeBroker) lastSend(tb testing.TB) *frame.Header {
	tb.Helper()
	select {
	case <-b.sent:
	case <-time.After(10 * time.Second):
		tb.Fatal("no request reached the broker")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sends[len(b.sends)-1]
}

// echoArgs is the argument struct of the Echo method in tests.
type echoArgs struct {
	N string `json:"n"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// syncBuffer is a concurrency-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// stateLog records the state changes a transport reports.
type stateLog struct {
	mu  sync.Mutex
	log []stompx.StateChange
}

func (l *stateLog) add(c stompx.StateChange) {
	l.mu.Lock()
	l.log = append(l.log, c)
	l.mu.Unlock()
}

func (l *stateLog) states() []stompx.State {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s []stompx.State
	for _, c := range l.log {
		s = append(s, c.State)
	}
	return s
}

func (l *stateLog) changes() []stompx.StateChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]stompx.StateChange(nil), l.log...)
}

// waitFor waits (10s at most) until want appears, in order, as a
// subsequence of the reported states.
func (l *stateLog) waitFor(tb testing.TB, want ...stompx.State) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := l.states()
		i := 0
		for _, s := range got {
			if i < len(want) && s == want[i] {
				i++
			}
		}
		if i == len(want) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("states %v, want %v in order", got, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// echoAtOnce makes n echo calls on tr from n goroutines released together,
// so that all n are in flight at once, and fails t unless every one
// succeeded and tr matched exactly n more replies.
func echoAtOnce(t *testing.T, ctx context.Context, tr *stompx.Transport, key string, n int) {
	t.Helper()
	before := tr.Stats().RepliesMatched
	var start, wg sync.WaitGroup
	start.Add(1)
	var failed atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			start.Wait()
			if err := echo(ctx, tr, key, strconv.Itoa(i)); err != nil {
				failed.Add(1)
				t.Error(err)
			}
		}(i)
	}
	start.Done()
	wg.Wait()
	if st := tr.Stats(); failed.Load() != 0 || st.RepliesMatched-before != uint64(n) {
		t.Fatalf("%d of %d calls failed; %d replies matched (%d before); stats %+v", failed.Load(), n, st.RepliesMatched, before, st)
	}
}

// callLoad is calls kept in flight on a transport while a test breaks its
// connection: 4 goroutines call echo one after the other until finish.
// A call fails only with ErrConnectionLost (counted in lost) or, when the
// load allows it, with its deadline (timedOut); any other error fails the
// test.
type callLoad struct {
	stop               atomic.Bool
	ok, lost, timedOut atomic.Int64
	wg                 sync.WaitGroup
}

// startCallLoad starts the load: calls of key on tr, each within
// callTimeout.
func startCallLoad(t *testing.T, ctx context.Context, tr *stompx.Transport, key string, callTimeout time.Duration, allowTimeouts bool) *callLoad {
	l := &callLoad{}
	for g := 0; g < 4; g++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; !l.stop.Load(); i++ {
				cctx, cancel := context.WithTimeout(ctx, callTimeout)
				err := echo(cctx, tr, key, fmt.Sprintf("%d-%d", g, i))
				cancel()
				switch {
				case err == nil:
					l.ok.Add(1)
				case errors.Is(err, ivclient.ErrConnectionLost):
					l.lost.Add(1)
				case allowTimeouts && errors.Is(err, context.DeadlineExceeded):
					l.timedOut.Add(1)
				default:
					t.Errorf("call: %v", err)
					return
				}
			}
		}()
	}
	return l
}

// waitMore waits until n more calls than now have succeeded.
func (l *callLoad) waitMore(t *testing.T, n int64) {
	t.Helper()
	waitCount(t, &l.ok, l.ok.Load()+n)
}

// finish stops the load and waits for its goroutines.
func (l *callLoad) finish() {
	l.stop.Store(true)
	l.wg.Wait()
}
