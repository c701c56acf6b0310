package stompx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// Transport is the STOMP transport: it carries requests to the platform,
// matches replies to their callers, and delivers call events. It implements
// ivclient.Transport and ivclient.Subscriber, and is safe for use by many
// goroutines. Create it with Dial; Close it when done.
type Transport struct {
	opts  *options
	addrs []string
	red   *redactor
	log   *slog.Logger
	note  *notifier

	cur  atomic.Pointer[session] // the session calls use; nil while not connected
	keys keySet                  // reply keys, restored on reconnection
	subs subRegistry             // subscriptions, and the counts of those that ended

	// mu guards the transport's life: its state, the current session's
	// hand-over (readyCh), its end and its goroutines.
	mu        sync.Mutex
	state     State
	readyCh   chan struct{} // closed when a session becomes current
	connected bool          // a session was current once (later ones are reconnections)
	endErr    error         // why the transport can no longer carry calls
	ended     chan struct{} // closed when endErr is set
	closed    bool          // Close (or a failed Dial) began: no session becomes current
	sealed    bool          // spawn refuses: Close waits for the goroutines
	wg        sync.WaitGroup
	io        ioSet // go-stomp connections whose goroutines have not ended (waitIO)

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	closeOnce sync.Once

	sessionIDs atomic.Uint64
	stats      counters
}

var (
	_ ivclient.Transport = (*Transport)(nil)
)

type counters struct {
	sent, matched, unknown, malformed, timedOut, lost atomic.Uint64
	connLost, reconnects, events                      atomic.Uint64
	durableMalformed                                  atomic.Uint64 // bodies of durable subscriptions that were not events (they never drop)
}

// Stats are counters of a Transport since Dial.
type Stats struct {
	CallsSent        uint64 // requests handed to the broker
	RepliesMatched   uint64 // replies delivered to their caller
	RepliesUnknown   uint64 // replies with an unknown or missing identifier, or for another key: dropped
	RepliesMalformed uint64 // replies that could not be parsed: dropped
	CallsTimedOut    uint64 // calls whose context ended before their reply
	CallsLost        uint64 // calls failed because the connection dropped or the transport closed
	ConnectionsLost  uint64 // connection losses
	Reconnects       uint64 // successful reconnections
	EventsReceived   uint64 // event messages received by subscriptions
	EventsDropped    uint64 // events dropped because a consumer fell behind (a durable subscription never drops)
	EventsMalformed  uint64 // event messages that could not be decoded, durable subscriptions included
}

// Dial connects to the STOMP broker at addr ("host:port"; a port-less host
// gets 61613) and returns a connected transport. ctx bounds the TCP dial,
// the TLS handshake and the STOMP CONNECT exchange; a broker that accepts
// TCP but never answers CONNECT costs at most ctx's deadline (or the
// connect timeout, default 10s). Other addresses given WithAddrs are tried
// in order when addr fails.
//
// With no options Dial logs in as the platform's broker expects
// (instantvoice / sT0MpM3, virtual host "/"), sends and expects heart-beats
// every 10s, and reconnects forever with backoff when the connection drops.
func Dial(ctx context.Context, addr string, opts ...Option) (*Transport, error) {
	if ctx == nil {
		return nil, errs.Wrap("stompx: Dial", ivclient.ErrInvalidArgument, "nil context", nil)
	}
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	first, err := normalizeAddr(addr)
	if err != nil {
		return nil, errs.Wrap("stompx: Dial", ivclient.ErrInvalidArgument, "addr: "+err.Error(), nil)
	}
	t := newTransport(o, first)
	var lastErr error
	for i, a := range t.addrs {
		cctx, cancel := context.WithTimeout(ctx, o.connectTimeout)
		s, err := t.connectSession(cctx, a, i)
		cancel()
		if err == nil {
			t.spawn(func() { t.supervise(s, i) })
			return t, nil
		}
		lastErr = err
		t.log.Warn("stompx: connect failed", slog.String("addr", a), slog.String("error", err.Error()))
		if errors.Is(err, ErrConnectRefused) || ctx.Err() != nil {
			break
		}
	}
	if o.retryFirst && o.reconnect && !errors.Is(lastErr, ErrConnectRefused) && ctx.Err() == nil {
		t.mu.Lock()
		t.setState(Reconnecting, lastErr, "")
		t.mu.Unlock()
		t.spawn(func() { t.supervise(nil, 0) })
		return t, nil
	}
	t.close(lastErr)
	return nil, lastErr
}

// newTransport returns a transport for the addresses first and
// o.addrs (without duplicates), Connecting.
func newTransport(o *options, first string) *Transport {
	addrs := []string{first}
	for _, a := range o.addrs {
		if !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	t := &Transport{
		opts:    o,
		addrs:   addrs,
		red:     newRedactor(o.passcode),
		log:     o.logger,
		note:    newNotifier(o.stateHandler),
		readyCh: make(chan struct{}),
		ended:   make(chan struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.mu.Lock()
	t.setState(Connecting, nil, "")
	t.mu.Unlock()
	return t
}

// normalizeAddr checks a broker address and adds the default port.
func normalizeAddr(a string) (string, error) {
	if a == "" {
		return "", errors.New("empty broker address")
	}
	if _, _, err := net.SplitHostPort(a); err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return net.JoinHostPort(strings.Trim(a, "[]"), DefaultPort), nil
		}
		return "", fmt.Errorf("broker address %q: %v", a, err)
	}
	return a, nil
}

// setState records and announces a state change; t.mu must be held.
func (t *Transport) setState(s State, err error, addr string) {
	t.state = s
	if err != nil {
		err = &transportError{msg: t.red.redact(err.Error()), kind: errorKind(err), also: reasonKind(err)}
	}
	t.note.emit(StateChange{State: s, Err: err, Addr: addr})
}

// errorKind keeps the sentinel an error matches when its text is redacted.
func errorKind(err error) error {
	for _, k := range []error{ErrConnectRefused, ivclient.ErrConnectionLost, ivclient.ErrClosed, context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// State returns the current connection state.
func (t *Transport) State() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}

// Stats returns the transport's counters.
func (t *Transport) Stats() Stats {
	s := Stats{
		CallsSent:        t.stats.sent.Load(),
		RepliesMatched:   t.stats.matched.Load(),
		RepliesUnknown:   t.stats.unknown.Load(),
		RepliesMalformed: t.stats.malformed.Load(),
		CallsTimedOut:    t.stats.timedOut.Load(),
		CallsLost:        t.stats.lost.Load(),
		ConnectionsLost:  t.stats.connLost.Load(),
		Reconnects:       t.stats.reconnects.Load(),
		EventsReceived:   t.stats.events.Load(),
	}
	s.EventsDropped, s.EventsMalformed = t.subs.counts()
	s.EventsMalformed += t.stats.durableMalformed.Load()
	return s
}

// spawn runs f on a goroutine of the transport, the one way the
// transport and its connections start goroutines: Close waits for every
// one. It refuses (false) only at the very end of Close, once Close has
// ended everything and waits; before that, even while closing, it starts
// f, so that a graceful DISCONNECT can still be waited for.
func (t *Transport) spawn(f func()) bool {
	t.mu.Lock()
	if t.sealed {
		t.mu.Unlock()
		return false
	}
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		f()
	}()
	return true
}

// makeCurrent makes s the session calls use. It fails with errClosed
// when the transport is closing, and with errRetry when s has ended
// meanwhile (its sweep found it not yet current: it must never become so).
func (t *Transport) makeCurrent(s *session) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errClosed
	}
	s.mu.Lock()
	dead := s.dead
	s.mu.Unlock()
	if dead {
		return errRetry
	}
	if t.connected {
		t.stats.reconnects.Add(1)
	}
	t.connected = true
	t.cur.Store(s)
	close(t.readyCh)
	t.setState(Connected, nil, s.addr)
	return nil
}

// dropCurrent makes s stop being the current session, if it is.
func (t *Transport) dropCurrent(s *session) {
	t.mu.Lock()
	if t.cur.CompareAndSwap(s, nil) {
		t.readyCh = make(chan struct{})
	}
	t.mu.Unlock()
}

// Close closes the transport: calls in flight fail at once with an error
// wrapping ivclient.ErrClosed, every subscription ends with such an error,
// and the connections are closed (gracefully when the broker answers
// within about two seconds). Close waits for the transport's goroutines,
// go-stomp's under each connection included, and the state handler's last
// call. It is idempotent and returns nil.
func (t *Transport) Close() error {
	t.close(nil)
	return nil
}

// end ends the transport, once, because of cause: errClosed (Close, a
// failed Dial) or a lost-connection error (the connection dropped and
// reconnection is off or gave up). Calls waiting for a session fail with
// cause, every plain subscription ends with it, and the state becomes
// Closed (its Err is stateErr: nil for Close). Durable subscriptions have
// connections and reconnection of their own: close ends them.
func (t *Transport) end(cause, stateErr error) {
	t.mu.Lock()
	if t.endErr != nil {
		t.mu.Unlock()
		return
	}
	t.endErr = cause
	close(t.ended)
	t.setState(Closed, stateErr, "")
	t.mu.Unlock()
	for _, es := range t.subs.endPlain() {
		es.end(cause)
	}
}

// close is Close and the end of a failed Dial, once: it ends the
// transport with errClosed (end; stateErr is the Closed state's Err, nil
// for Close), then closes everything it runs: no session becomes current
// any more, the current one fails its calls with errClosed, durable
// subscriptions end with errClosed, every connection is closed gracefully
// (together, bounded), and close waits for every goroutine and the state
// handler's last call.
func (t *Transport) close(stateErr error) {
	t.closeOnce.Do(func() { t.end(errClosed, stateErr); t.closeAll() })
}

// closeAll is close's second half (see close).
func (t *Transport) closeAll() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	// The durable subscriptions are taken before the transport's context
	// ends: a subscription's run returns on that end and leaves the
	// registry, and its connection would then be closed by no one (its
	// pumps, and this Close, waiting for ever).
	var conns []*conn
	for _, ds := range t.subs.endDurable() {
		if c := ds.end(errClosed); c != nil {
			conns = append(conns, c)
		}
	}
	t.cancel()
	if len(conns) > 0 {
		t.spawn(func() { closeConns(conns...) })
	}
	if s := t.cur.Swap(nil); s != nil {
		s.close()
	}
	t.mu.Lock()
	t.sealed = true
	t.mu.Unlock()
	t.wg.Wait()
	t.waitIO()
	<-t.note.done
}
