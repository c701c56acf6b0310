package stompx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	"github.com/google/uuid"

	"github.com/instantvoice/instantvoice-go/ivclient"
)

// ending records, once, how a connection or a session ended: the one
// place where an end gets its cause, its redaction and the error users
// see. done closes after the fields are set.
type ending struct {
	done   chan struct{}
	once   sync.Once
	reason error  // the error it ended with, as given (errClosed, a read error, a broker ERROR)
	cause  string // reason's text, redacted ("closed" for errClosed)
	err    error  // what users get: errClosed, or a lost-connection error carrying cause
}

func newEnding() ending { return ending{done: make(chan struct{})} }

// record ends e with reason, once; then, still once and before done
// closes, runs then (nil for nothing). It reports whether this call
// ended e.
func (e *ending) record(red *redactor, reason error, then func()) bool {
	first := false
	e.once.Do(func() {
		first = true
		e.reason = reason
		if errors.Is(reason, ivclient.ErrClosed) {
			e.cause, e.err = "closed", reason
		} else {
			e.cause = red.redact(reason.Error())
			e.err = lostErrorFor(e.cause, reason)
		}
		if then != nil {
			then()
		}
		close(e.done)
	})
	return first
}

// ended reports whether e has ended.
func (e *ending) ended() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// causeText returns why e ended, once it has ended ("" before).
func (e *ending) causeText() string {
	if e.ended() {
		return e.cause
	}
	return ""
}

// conn is one STOMP connection through its whole life: dialed through the
// frame guard (watchedConn), its goroutines started through the
// transport's spawn, and ended once (ending), with one cause, in one of
// two ways:
//
//   - close: graceful, by the owner (Close, a subscription's Close): a
//     DISCONNECT whose RECEIPT is awaited disconnectGrace at most, so that
//     the broker takes back unacknowledged deliveries at once, then the
//     socket is closed;
//   - abort: forced, with a cause: the socket is closed at once, unless
//     the connection's reader has failed.
//
// A connection whose reader fails (EOF, reset, a missed heart-beat, an
// ERROR frame, a frame past the limits) is aborted by its reader, and its
// socket is left to go-stomp (whoever aborts it after), which hands the
// frames it read before (an ERROR frame, say) to the subscriptions in
// order and then closes it: closing it first could make go-stomp fail a
// write and drop that ERROR. The cause is then the broker's ERROR frame,
// when one came (failure).
//
// The owner learns of the end through done and, once it has set it
// (setOnEnd), onEnd (called once, after done closes).
type conn struct {
	ending
	t      *Transport
	addr   string
	stomp  *stomp.Conn
	raw    *watchedConn
	broker brokerKind // from the CONNECTED frame's server header

	mu       sync.Mutex
	onEnd    func(reason error)
	notified bool // onEnd's turn has come: setOnEnd calls it itself

	// The confirmation round trip (confirm).
	syncTopic string
	synced    chan struct{}
	confirmMu sync.Mutex // held around each round trip, and what it confirms
}

// dial opens one STOMP connection to addr (see dialConn for ctx). Its
// owner sets onEnd (setOnEnd) once it holds the connection.
func (t *Transport) dial(ctx context.Context, addr string) (*conn, error) {
	sc, raw, err := t.dialConn(ctx, addr)
	if err != nil {
		return nil, err
	}
	c := &conn{ending: newEnding(), t: t, addr: addr, stomp: sc, raw: raw, broker: detectBroker(sc.Server())}
	raw.arm(func(err error) { c.abort(c.failure(err)) })
	return c, nil
}

// setOnEnd sets the function called once when the connection ends; if it
// has ended already, f is called at once.
func (c *conn) setOnEnd(f func(reason error)) {
	c.mu.Lock()
	c.onEnd = f
	late := c.notified
	c.mu.Unlock()
	if late {
		f(c.reason)
	}
}

// abort ends the connection because of err (errClosed when the transport
// or the owner is closing) and closes its socket, unless its reader has
// failed (see conn). The first abort tells the owner (onEnd).
func (c *conn) abort(err error) {
	if c.record(c.t.red, err, nil) {
		c.mu.Lock()
		f := c.onEnd
		c.notified = true
		c.mu.Unlock()
		if f != nil {
			f(c.reason)
		}
	}
	if !c.raw.failed() {
		_ = c.raw.shut()
	}
}

// failure returns the reason to end c with when its reader or one of its
// subscriptions saw err: the broker's ERROR frame, if one passed, rather
// than the EOF or the closed socket that follows it.
func (c *conn) failure(err error) error {
	if errors.Is(err, ErrFrameTooLarge) {
		return err
	}
	if f := c.raw.brokerError(); f != nil {
		return errors.New("broker ERROR: " + c.t.errorText(f))
	}
	return err
}

// maxErrorBody bounds the part of an ERROR frame's body an error carries.
const maxErrorBody = 300

// errorText is the text of an ERROR frame of the broker in errors and
// logs: its message and the start of its body, redacted.
func (t *Transport) errorText(f *frame.Frame) string {
	body := string(f.Body)
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	return t.red.redact(strings.TrimSpace(strings.TrimSuffix(f.Header.Get(frame.Message)+": "+body, ": ")))
}

// spawn runs f (a pump) on a goroutine of the transport's; when the
// transport refuses (it is closing), the connection is aborted.
func (c *conn) spawn(f func()) bool {
	if c.t.spawn(f) {
		return true
	}
	c.abort(errClosed)
	return false
}

// abortOnDone aborts c when ctx ends, with "<what>: " and ctx's error:
// closing the connection wakes every go-stomp call on it. The returned
// function stops the watch.
func (c *conn) abortOnDone(ctx context.Context, what string) (stop func() bool) {
	return context.AfterFunc(ctx, func() { c.abort(errors.New(what + ": " + ctxErr(ctx).Error())) })
}

// syncTimeout bounds the wait for a confirmation; a broker that takes
// longer is taken as wedged and the connection is aborted.
const syncTimeout = 30 * time.Second

// syncSubscribe subscribes the connection's confirmation topic (see
// confirm) and returns its pump, for the owner to start; onErr gets what
// the pump sees fail (an ERROR frame, the connection's end). It comes
// before any other SUBSCRIBE of the connection.
func (c *conn) syncSubscribe(onErr func(error)) (pump func(), err error) {
	c.syncTopic = "/topic/instantvoice-go.sync." + uuid.NewString()
	c.synced = make(chan struct{}, 1)
	ss, err := c.stomp.Subscribe(c.syncTopic, stomp.AckAuto)
	if err != nil {
		return nil, err
	}
	return func() {
		c.forEach(ss, func(m *stomp.Message) {
			if m.Err != nil {
				onErr(m.Err)
				return
			}
			select {
			case c.synced <- struct{}{}:
			default:
			}
		})
	}, nil
}

// drain takes what ss delivers and drops it, handing failures to onErr:
// the pump of a subscription that carries nothing. It ends as forEach.
func (c *conn) drain(ss *stomp.Subscription, onErr func(error)) {
	c.forEach(ss, func(m *stomp.Message) {
		if m.Err != nil {
			onErr(m.Err)
		}
	})
}

// letGoGrace is how long a pump waits, once its connection has ended, for
// go-stomp to hand on the rest of a subscription (forEach).
const letGoGrace = time.Second

// forEach hands every message of ss to f until go-stomp lets go of ss: ss.C
// closes, or the connection has ended and nothing came on ss for
// letGoGrace. go-stomp never ends a subscription whose SUBSCRIBE was still
// queued when its connection died (it registers it only as it writes it):
// a pump ranging over ss.C would wait for ever, and Close with it.
func (c *conn) forEach(ss *stomp.Subscription, f func(*stomp.Message)) {
	for ended := false; !ended; {
		select {
		case m, ok := <-ss.C:
			if !ok {
				return
			}
			f(m)
		case <-c.done:
			ended = true
		}
	}
	tm := time.NewTimer(letGoGrace)
	defer tm.Stop()
	for {
		select {
		case m, ok := <-ss.C:
			if !ok {
				return
			}
			f(m)
			tm.Reset(letGoGrace)
		case <-tm.C:
			return
		}
	}
}

// confirm makes a round trip through the broker on the connection (the
// one way the transport confirms subscriptions): once it returns true, the
// broker has handled every frame sent before it (every SUBSCRIBE is in
// place, or refused with an ERROR). False means the connection ended
// first (or was aborted after syncTimeout).
//
// The round trip is a message to a topic of the connection's own,
// subscribed first (syncSubscribe): the broker handles a connection's
// frames in order, so once the message comes back, everything before it
// was handled. Not a RECEIPT: go-stomp's Send with a receipt holds the
// connection's lock while it waits, and its I/O goroutine needs that lock
// to hand on an ERROR frame; if the ERROR (a refused SUBSCRIBE) comes
// before the SEND's receipt is registered, or the I/O goroutine ends
// before it took the SEND, both wait for ever, and closing the socket
// wakes neither.
func (c *conn) confirm() bool {
	c.confirmMu.Lock()
	defer c.confirmMu.Unlock()
	return c.confirmLocked()
}

// confirmLocked is confirm with c.confirmMu held (by an owner that holds
// it around what it confirms too).
func (c *conn) confirmLocked() bool {
	wd := time.AfterFunc(syncTimeout, func() {
		c.abort(fmt.Errorf("the broker did not answer within %v", syncTimeout))
	})
	defer wd.Stop()
	if err := c.stomp.Send(c.syncTopic, "", nil); err != nil {
		c.abort(err)
		return false
	}
	select {
	case <-c.synced:
		return true
	case <-c.done:
		return false
	}
}

// disconnectGrace bounds the graceful DISCONNECT of close.
const disconnectGrace = 2 * time.Second

// closeConns closes cs gracefully, together: a DISCONNECT on each, their
// RECEIPTs awaited disconnectGrace at most, then every socket is closed.
// Each DISCONNECT waits on a goroutine of the transport's (Close waits for
// it): it stays in go-stomp's Disconnect until the RECEIPT comes or, once
// the socket is closed, go-stomp's I/O goroutine hands it the failure. It
// must still be there to take it (go-stomp blocks its I/O goroutine on
// that hand-off), which is why DisconnectReceiptTimeout is longer than
// disconnectGrace (connOptions). Once the transport refuses goroutines
// (at the very end of Close), the connections are aborted instead.
func closeConns(cs ...*conn) {
	cs = uniqueConns(cs)
	done := make(chan struct{}, len(cs))
	n := 0
	for _, c := range cs {
		if c.ended() {
			continue
		}
		sc := c.stomp
		if c.t.spawn(func() { _ = sc.Disconnect(); done <- struct{}{} }) {
			n++
		}
	}
	if n > 0 {
		tm := time.NewTimer(disconnectGrace)
		defer tm.Stop()
	wait:
		for i := 0; i < n; i++ {
			select {
			case <-done:
			case <-tm.C:
				break wait
			}
		}
	}
	for _, c := range cs {
		c.abort(errClosed)
		_ = c.raw.shut() // closed by its owner: nothing more to hand on
	}
}

// uniqueConns returns cs without nils and duplicates (a session with one
// connection has it twice).
func uniqueConns(cs []*conn) []*conn {
	out := make([]*conn, 0, len(cs))
	for _, c := range cs {
		if c != nil && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// close closes c gracefully (see closeConns).
func (c *conn) close() { closeConns(c) }

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
		wc := t.watch(raw)
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
			t.io.remove(wc) // go-stomp started no goroutine
			_ = raw.Close()
			if cerr := ctxErr(ctx); cerr != nil {
				return nil, nil, fmt.Errorf("stompx: connect %s: STOMP handshake: %w", addr, cerr)
			}
			var se stomp.Error
			if errors.As(err, &se) && se.Frame != nil && se.Frame.Command == frame.ERROR {
				return nil, nil, fmt.Errorf("%w: %s: %s", ErrConnectRefused, addr, t.errorText(se.Frame))
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
		// Only DISCONNECT asks for a receipt (confirm is a round trip). A
		// receipt awaited with a timeout would block go-stomp's I/O
		// goroutine for good when it came late: none is.
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
// error wrapping ErrFrameTooLarge instead of the bytes. It also tells the
// transport when go-stomp's goroutines have ended (see waitIO): its Close
// is go-stomp's; the transport closes the socket with shut.
type watchedConn struct {
	net.Conn
	guard    *frameGuard // used by go-stomp's one reader goroutine only
	errFrame atomic.Pointer[frame.Frame]
	mu       sync.Mutex
	err      error
	onDead   func(error)

	stompClosed bool          // go-stomp has closed the connection (Close)
	ioEnded     chan struct{} // closed once err is set and stompClosed
	onIOEnd     func()        // called once, as ioEnded closes
	closeHook   func()        // tests only (WithIOEndHook)
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
		if first {
			c.checkIOEnd()
		}
	}
	return n, err
}

// failed reports whether the reader has failed.
func (c *watchedConn) failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err != nil
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

// unsubscribe sends an UNSUBSCRIBE of ss, with extra header lines
// ("name:value"), and does not wait: the frame is written whole, in one
// Write on the socket, which go-stomp's writer (whose frames on this
// connection and heart-beats are single Writes too) cannot interleave
// with. Not through go-stomp's Unsubscribe: it waits for a RECEIPT on a
// sync.Cond that the RECEIPT may signal before the wait begins (its state
// change and Broadcast are not under the Cond's lock), and then waits for
// ever. go-stomp still holds ss until the connection ends: its pump
// drains whatever the broker sent before the UNSUBSCRIBE.
func (c *conn) unsubscribe(ss *stomp.Subscription, headers ...string) error {
	f := "UNSUBSCRIBE\nid:" + ss.Id() + "\n"
	for _, h := range headers {
		f += h + "\n"
	}
	_, err := c.raw.Write([]byte(f + "\n\x00"))
	return err
}
