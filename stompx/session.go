package stompx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
)

// A session is one generation of the transport's connection: two STOMP
// connections to the same broker, opened and lost together.
//
//   - sub holds every subscription (the reply topic of each key and every
//     event topic). Each go-stomp subscription is drained by a pump
//     goroutine that never blocks on anything but the partner's own
//     WithBlockingEvents choice, so go-stomp's single I/O goroutine always
//     gets its messages taken, and the broker can always deliver to us.
//   - pub only sends requests, from one writer goroutine.
//
// Keeping requests off the connection that receives the replies is what
// rules out the embedded broker's deadlock (its one processing goroutine
// blocked writing a reply to a connection whose reader is blocked pushing
// that same connection's SENDs into the processor's full queue): the
// connection that receives never sends more than a few small frames, and
// the connection that sends never needs the processor to make progress
// for its own reads.
//
// DESIGN: two connections, re-measured (issue 11, item 12) with readers
// that never send. TestConnectionExperiment (IV_CONN_EXPERIMENT=1) runs
// the transport with one connection (WithOneConnection, tests only) and
// with two, alternately, at 1, 128 and 1,024 calls in flight, with and
// without an unthrottled event flood on a subscribed topic, a fresh
// embedded broker per run, on a busy 2-core machine (2026-12-01):
//   - go-stomp's server: one connection hung (no call completed for 20s,
//     the broker wedged for good) in 4 of 4 runs at 1,024 in flight and in
//     6 of 6 runs under the flood (at 1, 128 and 1,024; 5 of 6 in a re-run
//     on 2026-12-02); two connections
//     never hung (4,508-6,846 calls/s at 1,024). The cycle is inside the
//     server, whatever the client's readers do.
//   - RabbitMQ 3.10: never hung; without the flood the same within noise
//     (1,528/836 against 1,278/661 calls/s at 1,024), under the flood one
//     connection was slower (329/466 against 795/1,164 at 1,024).
//   - ivtest's broker: never hung, one connection as fast or faster
//     (4,229/6,987 against 4,078/4,300 at 1,024).
//
// One connection can hang on a broker partners test with, and is slower
// on RabbitMQ under load: the transport keeps two.
type session struct {
	t    *Transport
	id   uint64
	addr string

	sub, pub       *stomp.Conn
	subRaw, pubRaw *watchedConn

	done     chan struct{} // closed by kill, after cause is set and pending swept
	killOnce sync.Once
	cause    string // why the session ended, redacted
	causeErr error  // the error calls in flight got: lostError(cause) or a typed variant

	mu      sync.Mutex
	pending map[string]*call
	dead    bool

	broker brokerKind // from pub's CONNECTED frame: the expiry header

	keys   sync.Map   // key -> *keySub
	sendMu sync.Mutex // held around every Send on pub; callers only TryLock it (trySend), so no caller ever waits behind go-stomp's write queue
	sendq  chan outgoing
	syncq  chan syncReq
}

// syncReq is work for the sync goroutine, the only one that calls go-stomp
// on the sub connection (except Unsubscribe): prep (a SUBSCRIBE, say) runs
// first, then done gets the outcome of the broker round trip that follows.
type syncReq struct {
	prep func() error
	done func(error)
}

// writeChanCap is the capacity of go-stomp's write queue on our
// connections; a direct send is only tried while it has room, so that
// go-stomp's Send cannot block the caller.
const writeChanCap = 64

type outgoing struct {
	id       string
	body     []byte
	deadline time.Time // the call's; zero when none
}

// syncDestination receives the empty SEND whose RECEIPT confirms that the
// broker has processed every SUBSCRIBE sent before it on the same
// connection. Nobody subscribes to it; brokers drop what is sent there.
const syncDestination = "/topic/instantvoice-go.sync"

// syncTimeout bounds the wait for a RECEIPT; a broker that takes longer is
// taken as wedged and the session is dropped (and reconnected).
const syncTimeout = 30 * time.Second

// disconnectGrace bounds the graceful DISCONNECT at Close.
const disconnectGrace = 2 * time.Second

// connectSession dials both connections, restores every subscription
// (reply topics first, then event topics), waits for the broker to confirm
// them, and makes the session current.
func (t *Transport) connectSession(ctx context.Context, addr string, idx int) (*session, error) {
	s := &session{
		t:       t,
		id:      t.sessionIDs.Add(1),
		addr:    addr,
		done:    make(chan struct{}),
		pending: make(map[string]*call),
		sendq:   make(chan outgoing, 256),
		syncq:   make(chan syncReq, 64),
	}
	sub, subRaw, err := t.dialConn(ctx, addr)
	if err != nil {
		return nil, err
	}
	pub, pubRaw := sub, subRaw
	if !t.opts.oneConn {
		pub, pubRaw, err = t.dialConn(ctx, addr)
		if err != nil {
			_ = subRaw.Close()
			return nil, err
		}
	}
	s.sub, s.subRaw, s.pub, s.pubRaw = sub, subRaw, pub, pubRaw
	s.broker = detectBroker(pub.Server())
	subRaw.arm(s.lost)
	pubRaw.arm(s.lost)
	if !t.spawn(s.writer) || !t.spawn(s.syncLoop) {
		s.kill("transport closed", errClosed, false)
		return nil, errClosed
	}

	t.mu.Lock()
	keys := make([]string, 0, len(t.keys))
	for k := range t.keys {
		keys = append(keys, k)
	}
	subs := make([]*eventSub, 0, len(t.subs))
	for es := range t.subs {
		subs = append(subs, es)
	}
	t.mu.Unlock()

	// Reply topics first, then event topics; one RECEIPT confirms them all.
	for _, k := range keys {
		s.subscribeKey(k)
	}
	for _, es := range subs {
		es := es
		s.requestSync(syncReq{prep: func() error { return es.attach(s) }})
	}
	done := make(chan error, 1)
	s.requestSync(syncReq{done: func(err error) { done <- err }})
	select {
	case err = <-done:
	case <-s.done:
		err = errors.New(s.cause)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		s.kill(t.red.redact(err.Error()), lostError(""), false)
		return nil, fmt.Errorf("stompx: connect %s: restoring subscriptions: %w", addr, err)
	}

	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		s.kill("transport closed", errClosed, false)
		return nil, errClosed
	}
	t.lastAddr = idx
	if t.connected {
		t.stats.reconnects.Add(1)
	}
	t.connected = true
	t.cur.Store(s)
	close(t.readyCh)
	t.setState(Connected, nil, addr)
	var released []string
	for _, k := range keys {
		if _, ok := t.keys[k]; !ok {
			released = append(released, k) // released while s was connecting
		}
	}
	t.mu.Unlock()
	for _, k := range released {
		s.releaseKey(k)
	}
	t.log.Info("stompx: connected", slog.String("addr", addr), slog.Int("keys", len(keys)), slog.Int("subscriptions", len(subs)))
	return s, nil
}

// dialConn opens one STOMP connection. ctx bounds the TCP dial, the TLS
// handshake and the CONNECT exchange (through a deadline on the net.Conn).
func (t *Transport) dialConn(ctx context.Context, addr string) (*stomp.Conn, *watchedConn, error) {
	o := t.opts
	recv := o.hbRecv
	for attempt := 0; ; attempt++ {
		var raw net.Conn
		var err error
		if o.tls != nil {
			d := &tls.Dialer{Config: o.tls}
			raw, err = d.DialContext(ctx, "tcp", addr)
		} else {
			var d net.Dialer
			raw, err = d.DialContext(ctx, "tcp", addr)
		}
		if err != nil {
			if cerr := ctxErr(ctx); cerr != nil {
				return nil, nil, fmt.Errorf("stompx: connect %s: %w", addr, cerr)
			}
			// A dial or TLS error names only addresses: keep it, so that
			// errors.Is(err, syscall.ECONNREFUSED) and errors.As with
			// *tls.CertificateVerificationError work.
			return nil, nil, fmt.Errorf("stompx: connect %s: %w", addr, err)
		}
		wc := &watchedConn{Conn: raw, guard: newFrameGuard(o.frameLimits)}
		wc.guard.onError = func(f *frame.Frame) { wc.errFrame.CompareAndSwap(nil, f) }
		if dl, ok := ctx.Deadline(); ok {
			_ = raw.SetDeadline(dl)
		}
		stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
		serverSends := time.Duration(-1)
		conn, err := stomp.Connect(wc, t.connOptions(recv, func(h *frame.Header) {
			if v, ok := h.Contains(frame.HeartBeat); ok {
				if sx, _, err := frame.ParseHeartBeat(v); err == nil {
					serverSends = sx
				}
			}
		})...)
		interrupted := !stop()
		if err != nil {
			_ = raw.Close()
			if cerr := ctxErr(ctx); cerr != nil {
				return nil, nil, fmt.Errorf("stompx: connect %s: STOMP handshake: %w", addr, cerr)
			}
			var se stomp.Error
			if errors.As(err, &se) && se.Frame != nil && se.Frame.Command == frame.ERROR {
				msg := se.Message
				if b := string(se.Frame.Body); b != "" {
					if len(b) > 200 {
						b = b[:200]
					}
					msg += ": " + b
				}
				return nil, nil, fmt.Errorf("%w: %s: %s", ErrConnectRefused, addr, t.red.redact(msg))
			}
			if errors.Is(err, ErrFrameTooLarge) {
				return nil, nil, fmt.Errorf("stompx: connect %s: STOMP handshake: %w", addr, err)
			}
			return nil, nil, fmt.Errorf("stompx: connect %s: STOMP handshake: %s", addr, t.red.redact(err.Error()))
		}
		if interrupted {
			_ = raw.Close()
			return nil, nil, fmt.Errorf("stompx: connect %s: STOMP handshake: %w", addr, ctxErr(ctx))
		}
		_ = raw.SetDeadline(time.Time{})
		if recv > 0 && serverSends == 0 && attempt == 0 {
			// go-stomp would expect the broker's heart-beats anyway (it
			// takes max(broker's, ours) as its read timeout) and drop an
			// idle connection: connect again without asking for them.
			t.log.Info("stompx: broker sends no heart-beats; reconnecting without expecting them", slog.String("addr", addr))
			_ = raw.Close()
			recv = 0
			continue
		}
		return conn, wc, nil
	}
}

// ctxErr is ctx.Err(), also when the deadline has passed but the context's
// timer has not fired yet (a net.Conn deadline set from it can expire first).
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

func (t *Transport) connOptions(recv time.Duration, onConnected func(*frame.Header)) []func(*stomp.Conn) error {
	o := t.opts
	margin := stomp.DefaultHeartBeatError
	if recv > 0 && recv/2 < margin {
		margin = recv / 2
	}
	if o.hbSend > 0 && o.hbSend/2 < margin {
		margin = o.hbSend / 2
	}
	return []func(*stomp.Conn) error{
		stomp.ConnOpt.Login(o.login, o.passcode),
		stomp.ConnOpt.Host(o.vhost),
		stomp.ConnOpt.HeartBeat(o.hbSend, recv),
		stomp.ConnOpt.HeartBeatError(margin),
		stomp.ConnOpt.HeartBeatGracePeriodMultiplier(1.5),
		// Bounded waits for go-stomp's write queue: the writer retries, a
		// subscription that cannot be queued drops the session.
		stomp.ConnOpt.MsgSendTimeout(time.Second),
		// Receipts are awaited until they come or the connection dies: a
		// late RECEIPT for a waiter that gave up would block go-stomp's I/O
		// goroutine for good. Our own watchdog bounds the wait instead.
		stomp.ConnOpt.RcvReceiptTimeout(0),
		stomp.ConnOpt.UnsubscribeReceiptTimeout(0),
		stomp.ConnOpt.DisconnectReceiptTimeout(5 * disconnectGrace),
		stomp.ConnOpt.ReadChannelCapacity(64),
		stomp.ConnOpt.WriteChannelCapacity(writeChanCap),
		stomp.ConnOpt.Logger(stompLogger{l: t.log, r: t.red}),
		stomp.ConnOpt.ResponseHeaders(onConnected),
	}
}

// watchedConn tells the session when go-stomp's reader sees the connection
// fail: EOF, reset, or the close that follows a missed heart-beat or an
// ERROR frame. go-stomp has no callback for that. Its guard bounds every
// frame the broker sends before go-stomp reads it (see frameGuard): a
// frame past the limits closes the connection, and the reader gets an
// error wrapping ErrFrameTooLarge instead of the bytes.
type watchedConn struct {
	net.Conn
	guard    *frameGuard // used by go-stomp's one reader goroutine only
	errFrame atomic.Pointer[frame.Frame]
	mu       sync.Mutex
	err      error
	onDead   func(error)
}

// brokerError returns the first ERROR frame the broker sent on the
// connection, as the guard saw it pass, whether or not go-stomp handed it
// on; nil if none.
func (c *watchedConn) brokerError() *frame.Frame { return c.errFrame.Load() }

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.guard != nil {
		if gerr := c.guard.feed(p[:n]); gerr != nil {
			c.guard = nil
			_ = c.Conn.Close()
			n, err = 0, gerr
		}
	}
	if err != nil {
		c.mu.Lock()
		first := c.err == nil
		if first {
			c.err = err
		}
		err = c.err // a rejected frame stays the reason
		f := c.onDead
		c.mu.Unlock()
		if first && f != nil {
			f(err)
		}
	}
	return n, err
}

// arm sets the function called on failure, calling it at once if the
// connection already failed.
func (c *watchedConn) arm(f func(error)) {
	c.mu.Lock()
	c.onDead = f
	err := c.err
	c.mu.Unlock()
	if err != nil {
		f(err)
	}
}

// causeText returns why the session ended, once it has ended.
func (s *session) causeText() string {
	select {
	case <-s.done:
		return s.cause
	default:
		return ""
	}
}

// lost ends the session because of err: a connection that failed (seen
// by watchedConn) or a go-stomp call that failed. Calls in flight get an
// error wrapping ivclient.ErrConnectionLost and err's typed reason, if any.
func (s *session) lost(err error) {
	cause := s.t.red.redact(err.Error())
	s.kill(cause, lostErrorFor(cause, err), false)
}

// kill ends the session once: every pending call gets callErr (by default
// an ErrConnectionLost error), the session stops being current, and the
// connections are closed, after a bounded DISCONNECT when graceful. The
// session stops being current before done closes, so whoever sees done
// closed and asks for the current session gets another one (or waits).
func (s *session) kill(cause string, callErr error, graceful bool) {
	s.killOnce.Do(func() {
		t := s.t
		if callErr == nil {
			callErr = lostError(cause)
		}
		s.cause, s.causeErr = cause, callErr
		s.mu.Lock()
		s.dead = true
		pending := s.pending
		s.pending = nil
		s.mu.Unlock()
		// Each call removed from pending gets exactly one result, from
		// here; its owner waits for it before it reuses the call.
		for _, c := range pending {
			c.ch <- result{err: callErr}
		}

		t.mu.Lock()
		if t.cur.CompareAndSwap(s, nil) {
			t.readyCh = make(chan struct{})
		}
		t.mu.Unlock()
		close(s.done)

		if s.sub == nil {
			return
		}
		if graceful {
			s.disconnect()
		}
		_ = s.subRaw.Close()
		_ = s.pubRaw.Close()
	})
}

// disconnect sends DISCONNECT on both connections and waits for the
// receipts, for disconnectGrace at most; kill then closes the sockets. It
// runs only within Close, whose wait group owns the two goroutines: each
// stays in go-stomp's Disconnect until the receipt comes or, once the
// socket is closed, go-stomp's I/O goroutine hands it the failure (it
// must be there to take it: go-stomp blocks its I/O goroutine on that
// hand-off, so DisconnectReceiptTimeout is longer than disconnectGrace).
func (s *session) disconnect() {
	done := make(chan struct{}, 2)
	for _, c := range []*stomp.Conn{s.pub, s.sub} {
		s.t.wg.Add(1)
		go func() {
			defer s.t.wg.Done()
			_ = c.Disconnect()
			done <- struct{}{}
		}()
	}
	tm := time.NewTimer(disconnectGrace)
	defer tm.Stop()
	for i := 0; i < 2; i++ {
		select {
		case <-done:
		case <-tm.C:
			return
		}
	}
}

// unregister removes a pending call whose caller gives up; false means a
// dispatcher took it first and its result is on the call's channel.
func (s *session) unregister(id string) bool {
	s.mu.Lock()
	_, ok := s.pending[id]
	if ok {
		delete(s.pending, id)
	}
	s.mu.Unlock()
	return ok
}

func (s *session) isPending(id string) bool {
	s.mu.Lock()
	_, ok := s.pending[id]
	s.mu.Unlock()
	return ok
}

// trySend sends body at once from the caller's goroutine when nobody else
// is sending and go-stomp's write queue has room, so that Send cannot block
// (the common case: no hand-off to the writer). It reports whether the
// request was dealt with; a failure ends the session, whose sweep gives
// the call its error.
//
// A request whose deadline has passed is not sent (and counts as dealt
// with: the caller's context ends it); the others carry the broker's
// expiry header, computed now.
func (s *session) trySend(body []byte, deadline time.Time) bool {
	if !s.sendMu.TryLock() {
		return false
	}
	defer s.sendMu.Unlock()
	if s.pub.Stats().CurrentWriteChanSize >= writeChanCap-1 {
		return false
	}
	exp, ok := s.t.expiryHeader(s.broker, deadline)
	if !ok {
		return true
	}
	err := s.pub.Send(s.t.opts.requestQueue, "", body, exp)
	switch {
	case err == nil:
		s.t.stats.sent.Add(1)
		return true
	case err == stomp.ErrMsgSendTimeout:
		return false
	default:
		s.lost(err)
		return true
	}
}

// writer sends the requests that could not be sent directly, on the pub
// connection. A request whose caller already gave up is not sent.
func (s *session) writer() {
	dest := s.t.opts.requestQueue
	for {
		select {
		case <-s.done:
			return
		case m := <-s.sendq:
			if !s.isPending(m.id) {
				continue
			}
			for {
				s.sendMu.Lock()
				exp, ok := s.t.expiryHeader(s.broker, m.deadline)
				if !ok {
					// Too late: send nothing; the caller's context ends the call.
					s.sendMu.Unlock()
					break
				}
				err := s.pub.Send(dest, "", m.body, exp)
				s.sendMu.Unlock()
				if err == nil {
					s.t.stats.sent.Add(1)
					break
				}
				if err == stomp.ErrMsgSendTimeout {
					select {
					case <-s.done:
						return
					default:
						continue
					}
				}
				s.lost(err)
				return
			}
		}
	}
}

// requestSync queues r for the sync goroutine. If the session is gone,
// r.done gets errRetry at once.
func (s *session) requestSync(r syncReq) {
	select {
	case s.syncq <- r:
	case <-s.done:
		if r.done != nil {
			r.done(errRetry)
		}
	}
}

// syncLoop runs the SUBSCRIBEs and confirms them: after a batch of them, an
// empty SEND with a receipt header on the same connection. Brokers process
// a connection's frames in order (go-stomp's server hands each SUBSCRIBE to
// its router before it handles the next frame; RabbitMQ binds the queue
// synchronously), so the RECEIPT proves the subscriptions are in place. A
// SUBSCRIBE with its own receipt header cannot be used: go-stomp then
// closes the subscription when the RECEIPT arrives (go-stomp#40). Requests
// that arrive while a round trip is in flight share the next one. Callers
// only wait for done, with their context: none of them is ever stuck in
// go-stomp.
func (s *session) syncLoop() {
	for {
		var batch []syncReq
		select {
		case r := <-s.syncq:
			batch = append(batch, r)
		case <-s.done:
			s.drainSync()
			return
		}
	more:
		for len(batch) < 256 {
			select {
			case r := <-s.syncq:
				batch = append(batch, r)
			default:
				break more
			}
		}
		errs := make([]error, len(batch))
		for i, r := range batch {
			if r.prep != nil {
				errs[i] = r.prep()
			}
		}
		err := s.syncOnce()
		if err != nil {
			// End the session before telling the waiters, so that a waiter
			// that retries finds it no longer current.
			s.lost(err)
		}
		for i, r := range batch {
			if r.done == nil {
				continue
			}
			if errs[i] != nil {
				r.done(errs[i])
			} else {
				r.done(err)
			}
		}
		if err != nil {
			s.drainSync()
			return
		}
	}
}

func (s *session) drainSync() {
	for {
		select {
		case r := <-s.syncq:
			if r.done != nil {
				r.done(errRetry)
			}
		default:
			return
		}
	}
}

func (s *session) syncOnce() error {
	wd := time.AfterFunc(syncTimeout, func() {
		s.kill(fmt.Sprintf("broker sent no RECEIPT within %v", syncTimeout), nil, false)
	})
	err := s.sub.Send(syncDestination, "", nil, stomp.SendOpt.Receipt)
	wd.Stop()
	if err != nil {
		select {
		case <-s.done:
			return errRetry
		default:
		}
	}
	return err
}

// replyPump drains the reply subscription of one key into the pending
// calls. It never sends and never blocks.
func (s *session) replyPump(key string, ss *stomp.Subscription) {
	for m := range ss.C {
		if m.Err != nil {
			s.lost(m.Err)
			continue
		}
		s.dispatch(key, m.Body)
	}
}

// dispatch hands one reply to the call whose identifier it carries, if
// that call is pending on this session for this key; anything else is
// counted and dropped.
func (s *session) dispatch(key string, body []byte) {
	st := &s.t.stats
	if len(body) > maxReplyBody {
		st.malformed.Add(1)
		return
	}
	r, ok := parseReply(body)
	if !ok {
		st.malformed.Add(1)
		if s.t.log.Enabled(context.Background(), slog.LevelDebug) {
			s.t.log.Debug("stompx: malformed reply dropped", slog.Int("bytes", len(body)))
		}
		return
	}
	id, payload := r.id, r.payload
	s.mu.Lock()
	c, found := s.pending[id]
	if !found && id == "" && r.altID != "" {
		id, payload = r.altID, nil
		c, found = s.pending[id]
	}
	if !found || c.key != key {
		s.mu.Unlock()
		st.unknown.Add(1)
		return
	}
	delete(s.pending, id)
	s.mu.Unlock()
	// Removing the call from pending made this the one send its owner
	// waits for (buffer 1: it never blocks).
	st.matched.Add(1)
	c.ch <- result{code: r.code, payload: payload}
}
