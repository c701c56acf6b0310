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
	"github.com/google/uuid"

	"github.com/instantvoice/instantvoice-go/ivclient"
)

// conn is one STOMP connection through its whole life: dialed through the
// frame guard (watchedConn), its goroutines started through the
// transport's spawn, and ended once, with one cause, in one of two ways:
//
//   - close: graceful, by the user (Close, a subscription's Close): a
//     DISCONNECT whose RECEIPT is awaited disconnectGrace at most, so that
//     the broker takes back unacknowledged deliveries at once, then the
//     socket is closed;
//   - abort: forced, with a cause: the socket is closed at once.
//
// A connection whose reader fails (EOF, reset, a missed heart-beat, an
// ERROR frame, a frame past the limits) is aborted by its reader, except
// that its socket is left to go-stomp, which hands the frames it read
// before (an ERROR frame, say) to the subscriptions in order and then
// closes it: closing it first could make go-stomp fail a write and drop
// that ERROR.
//
// The owner learns of the end through done (closed once err is set) and,
// if it gave one, onEnd (called once, after done closes, on the goroutine
// that ended the connection).
type conn struct {
	t      *Transport
	addr   string
	stomp  *stomp.Conn
	raw    *watchedConn
	broker brokerKind // from the CONNECTED frame's server header

	onEnd func(err error)

	// The confirmation round trip (confirm).
	syncTopic string
	synced    chan struct{}
	confirmMu sync.Mutex // held around each round trip, and what it confirms

	done  chan struct{}
	once  sync.Once
	cause string // why it ended, redacted; set before done closes
	err   error  // the error given for it: errClosed or a lost-connection error; set before done closes
}

// dial opens one STOMP connection to addr (see dialConn for ctx); onEnd,
// which may be nil, is called once when the connection ends.
func (t *Transport) dial(ctx context.Context, addr string, onEnd func(error)) (*conn, error) {
	sc, raw, err := t.dialConn(ctx, addr)
	if err != nil {
		return nil, err
	}
	c := &conn{t: t, addr: addr, stomp: sc, raw: raw, broker: detectBroker(sc.Server()), onEnd: onEnd, done: make(chan struct{})}
	raw.arm(func(err error) { c.stop(err) })
	return c, nil
}

// stop records the end of the connection once, without closing its
// socket, and tells the owner. It reports whether this call ended it.
func (c *conn) stop(err error) bool {
	first := false
	c.once.Do(func() {
		first = true
		if errors.Is(err, ivclient.ErrClosed) {
			c.cause, c.err = "closed", err
		} else {
			c.cause = c.t.red.redact(err.Error())
			c.err = lostErrorFor(c.cause, err)
		}
		close(c.done)
	})
	if first && c.onEnd != nil {
		c.onEnd(err)
	}
	return first
}

// abort ends the connection at once because of err (errClosed when the
// transport or the owner is closing) and closes its socket.
func (c *conn) abort(err error) {
	c.stop(err)
	_ = c.raw.Close()
}

// ended reports whether the connection has ended.
func (c *conn) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
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

// syncTimeout bounds the wait for a confirmation; a broker that takes
// longer is taken as wedged and the connection is aborted.
const syncTimeout = 30 * time.Second

// syncSubscribe subscribes the connection's confirmation topic (see
// confirm) and returns its pump, for the owner to start; onErr gets what
// the pump sees fail (an ERROR frame, the connection's end).
func (c *conn) syncSubscribe(onErr func(error)) (pump func(), err error) {
	c.syncTopic = "/topic/instantvoice-go.sync." + uuid.NewString()
	c.synced = make(chan struct{}, 1)
	ss, err := c.stomp.Subscribe(c.syncTopic, stomp.AckAuto)
	if err != nil {
		return nil, err
	}
	return func() {
		for m := range ss.C {
			if m.Err != nil {
				onErr(m.Err)
				continue
			}
			select {
			case c.synced <- struct{}{}:
			default:
			}
		}
	}, nil
}

// confirm makes a round trip through the broker on the connection: once
// it returns true, the broker has handled every frame sent before it
// (every SUBSCRIBE is in place, or refused with an ERROR). False means the
// connection ended first (or was aborted after syncTimeout).
//
// The round trip is a message to a topic of the connection's own,
// subscribed first (syncSubscribe): the broker handles a connection's
// frames in order, so once the message comes back, everything before it
// was handled. Not a RECEIPT: go-stomp's Send with a receipt holds the
// connection's lock while it waits and can wait for ever, whenever its I/O
// goroutine ends before it has taken the SEND (the connection dropped, or
// an ERROR came first, as RabbitMQ sends for a refused SUBSCRIBE); its
// I/O goroutine then waits for that lock for ever too.
func (c *conn) confirm() bool {
	c.confirmMu.Lock()
	defer c.confirmMu.Unlock()
	return c.confirmLocked()
}

// confirmLocked is confirm with c.confirmMu held.
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

// drain takes what ss delivers and drops it, handing failures to onErr:
// the pump of a subscription that carries nothing.
func drain(ss *stomp.Subscription, onErr func(error)) {
	for m := range ss.C {
		if m.Err != nil {
			onErr(m.Err)
		}
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
	done := make(chan struct{}, len(cs))
	n := 0
	for _, c := range cs {
		if c == nil || c.ended() {
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
		if c != nil {
			c.abort(errClosed)
		}
	}
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
