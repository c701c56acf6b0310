package stompx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/instantvoice/instantvoice-go/internal/wire"
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

	cur atomic.Pointer[session] // the session calls use; nil while not connected

	mu        sync.Mutex
	state     State
	readyCh   chan struct{}          // closed when a session becomes current
	keys      map[string]struct{}    // reply keys confirmed once: restored on reconnect
	keyRefs   map[string]int         // clients of each key (AcquireKey, ReleaseKey)
	subs      map[*eventSub]struct{} // live event subscriptions: restored on reconnect
	endErr    error                  // why the transport can no longer carry calls
	ended     chan struct{}          // closed when endErr is set
	closed    bool                   // Close was called
	lastAddr  int                    // index of the address of the last session
	connected bool                   // a session was current once (later ones are reconnections)
	retired   struct{ dropped, malformed uint64 }

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup // every goroutine of the transport

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
	o := defaultOptions()
	for _, opt := range opts {
		if opt == nil {
			return nil, optErr("Dial", "nil option")
		}
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	o.finish()
	first, err := normalizeAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("stompx: Dial: %w", err)
	}
	addrs := []string{first}
	for _, a := range o.addrs {
		dup := false
		for _, b := range addrs {
			dup = dup || a == b
		}
		if !dup {
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
		keys:    make(map[string]struct{}),
		keyRefs: make(map[string]int),
		subs:    make(map[*eventSub]struct{}),
		ended:   make(chan struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.mu.Lock()
	t.setState(Connecting, nil, "")
	t.mu.Unlock()

	var lastErr error
	for i, a := range addrs {
		cctx, cancel := context.WithTimeout(ctx, o.connectTimeout)
		s, err := t.connectSession(cctx, a, i)
		cancel()
		if err == nil {
			t.wg.Add(1)
			go t.supervise(s)
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
		t.wg.Add(1)
		go t.supervise(nil)
		return t, nil
	}
	t.mu.Lock()
	t.closed = true
	t.endErr = errClosed
	close(t.ended)
	t.setState(Closed, lastErr, "")
	t.mu.Unlock()
	t.cancel()
	t.wg.Wait()
	<-t.note.done
	return nil, lastErr
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
	t.mu.Lock()
	s.EventsDropped, s.EventsMalformed = t.retired.dropped, t.retired.malformed+t.stats.durableMalformed.Load()
	for es := range t.subs {
		s.EventsDropped += es.sub.Dropped()
		s.EventsMalformed += es.sub.Malformed()
	}
	t.mu.Unlock()
	return s
}

// spawn runs f on a goroutine Close waits for; it refuses once the
// transport is closed.
func (t *Transport) spawn(f func()) bool {
	t.mu.Lock()
	if t.closed {
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

// Call sends req to the platform and waits for its reply, which it decodes
// into out (out may be nil). A non-zero return code comes back as
// *codes.Error. The call ends with ctx: the error then wraps ctx.Err().
// When the connection drops while the call is in flight, the call fails at
// once with an error wrapping ivclient.ErrConnectionLost and is not re-sent;
// after Close, calls fail with an error wrapping ivclient.ErrClosed. While
// the transport is reconnecting, calls wait for it within ctx (or fail at
// once WithFailFast).
func (t *Transport) Call(ctx context.Context, req *ivclient.Request, out any) error {
	switch {
	case ctx == nil:
		return errs.Wrap("stompx", ivclient.ErrInvalidArgument, "nil context", nil)
	case req == nil:
		return errs.Wrap("stompx", ivclient.ErrInvalidArgument, "nil request", nil)
	case !validMethod(req.Method):
		return errs.Wrap("stompx", ivclient.ErrInvalidArgument, "method name must be 1-64 ASCII letters, digits or '_'", nil)
	}
	method := req.Method
	if err := ivclient.CheckKey(req.Key); err != nil {
		return errs.Wrap("stompx", err, "", nil)
	}
	if err := ctx.Err(); err != nil {
		return errs.Wrap("stompx", err, "", nil)
	}
	id := uuid.NewString()
	body, err := wire.AppendRequest(make([]byte, 0, 192), method, req.Key, req.Args, id)
	if err != nil {
		return errs.Wrap("stompx", ivclient.ErrInvalidArgument, "arguments: "+err.Error(), nil)
	}
	c := callPool.Get().(*call)
	c.key = req.Key
	r, err := t.roundTrip(ctx, c, id, body)
	c.key = ""
	callPool.Put(c)
	if err != nil {
		return callError(err)
	}
	return outcome(method, r, out)
}

// callError gives an error of a call the package's prefix once: the
// transport's own errors have it, a context's error gets it.
func callError(err error) error {
	if strings.HasPrefix(err.Error(), "stompx: ") {
		return err
	}
	return errs.Wrap("stompx", err, "", nil)
}

func validMethod(m string) bool {
	if m == "" || len(m) > 64 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !isAlnum(m[i]) && m[i] != '_' {
			return false
		}
	}
	return true
}

// call is a pending request: the dispatcher that removes it from the
// session's pending map sends its one result on ch (buffer 1, never full).
type call struct {
	ch  chan result
	key string
}

var callPool = sync.Pool{New: func() any { return &call{ch: make(chan result, 1)} }}

// roundTrip registers the call, hands its body to the session's writer and
// waits for the result. A session lost before the request was queued is
// retried on the next one: nothing was sent.
func (t *Transport) roundTrip(ctx context.Context, c *call, id string, body []byte) (result, error) {
	deadline, _ := ctx.Deadline()
	for {
		s, err := t.session(ctx)
		if err != nil {
			return result{}, t.callEnded(ctx, err)
		}
		ks, err := s.ensureKey(ctx, c.key)
		if err != nil {
			if err == errRetry {
				continue // s is gone (kill made it stop being current first), or the key was released
			}
			return result{}, t.callEnded(ctx, err)
		}
		s.mu.Lock()
		if v, _ := s.keys.Load(c.key); v != ks {
			// The key was released since: subscribe it again.
			s.mu.Unlock()
			continue
		}
		if s.dead {
			s.mu.Unlock()
			// kill is under way: wait until s is no longer current.
			select {
			case <-s.done:
				continue
			case <-ctx.Done():
				return result{}, t.callEnded(ctx, ctx.Err())
			}
		}
		s.pending[id] = c
		s.mu.Unlock()
		if s.trySend(body, deadline) {
			return t.await(ctx, s, c, id)
		}
		select {
		case s.sendq <- outgoing{id: id, body: body, deadline: deadline}:
		case <-s.done:
			// The sweep gave the call its error, but the request was never
			// queued: take the result and try the next session.
			<-c.ch
			continue
		case <-ctx.Done():
			if s.unregister(id) {
				return result{}, t.callEnded(ctx, ctx.Err())
			}
			return t.took(<-c.ch), nil
		}
		return t.await(ctx, s, c, id)
	}
}

// await waits for the result of a call handed to session s.
func (t *Transport) await(ctx context.Context, s *session, c *call, id string) (result, error) {
	select {
	case r := <-c.ch:
		return t.took(r), nil
	case <-ctx.Done():
		if s.unregister(id) {
			return result{}, t.callEnded(ctx, ctx.Err())
		}
		return t.took(<-c.ch), nil
	}
}

// took counts a result a call returns: a failure without a reply is a
// call lost with its connection (or to Close).
func (t *Transport) took(r result) result {
	if r.err != nil {
		t.stats.lost.Add(1)
	}
	return r
}

// callEnded returns err, the reason a call ends without a result; when it is
// ctx's own error, the call counts as timed out, whatever it was waiting
// for (a session, its reply subscription, its reply).
func (t *Transport) callEnded(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && err == cerr {
		t.stats.timedOut.Add(1)
	}
	return err
}

// session returns the current session, waiting for one within ctx.
func (t *Transport) session(ctx context.Context) (*session, error) {
	for {
		if s := t.cur.Load(); s != nil {
			return s, nil
		}
		t.mu.Lock()
		s, ready, endErr := t.cur.Load(), t.readyCh, t.endErr
		t.mu.Unlock()
		if endErr != nil {
			return nil, endErr
		}
		if s != nil {
			return s, nil
		}
		if t.opts.failFast {
			return nil, errNotConnected
		}
		select {
		case <-ready:
		case <-t.ended:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close closes the transport: calls in flight fail at once with an error
// wrapping ivclient.ErrClosed, every subscription ends with such an error,
// and the connections are closed (gracefully when the broker answers
// within about two seconds). Close waits for the transport's goroutines,
// including the state handler's last call. It is idempotent and returns nil.
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		ended := t.endErr != nil
		if !ended {
			t.endErr = errClosed
			close(t.ended)
		}
		s := t.cur.Swap(nil)
		subs := t.subs
		t.subs = make(map[*eventSub]struct{})
		for es := range subs {
			t.retired.dropped += es.sub.Dropped()
			t.retired.malformed += es.sub.Malformed()
		}
		if !ended {
			t.setState(Closed, nil, "")
		}
		t.mu.Unlock()
		t.cancel()
		for es := range subs {
			es.end(errClosed)
		}
		if s != nil {
			s.kill("transport closed", errClosed, true)
		}
		t.wg.Wait()
		<-t.note.done
	})
	return nil
}

// terminate ends the transport after a connection loss it will not repair.
func (t *Transport) terminate(cause string) {
	err := lostError(cause)
	t.mu.Lock()
	if t.endErr != nil {
		t.mu.Unlock()
		return
	}
	t.endErr = err
	close(t.ended)
	subs := t.subs
	t.subs = make(map[*eventSub]struct{})
	for es := range subs {
		t.retired.dropped += es.sub.Dropped()
		t.retired.malformed += es.sub.Malformed()
	}
	t.setState(Closed, err, "")
	t.mu.Unlock()
	for es := range subs {
		es.end(err)
	}
}

// supervise owns reconnection: it waits for the session to die, then
// connects again with backoff, restoring every subscription.
func (t *Transport) supervise(s *session) {
	defer t.wg.Done()
	lastErr := ""
	for {
		if s != nil {
			select {
			case <-s.done:
			case <-t.ctx.Done():
				return
			}
			if t.ctx.Err() != nil {
				return
			}
			t.stats.connLost.Add(1)
			lastErr = s.cause
			t.log.Warn("stompx: connection lost", slog.String("addr", s.addr), slog.String("error", s.cause))
			if !t.opts.reconnect {
				t.terminate(s.cause)
				return
			}
			t.mu.Lock()
			if t.closed {
				t.mu.Unlock()
				return
			}
			t.setState(Reconnecting, s.causeErr, s.addr)
			t.mu.Unlock()
			s = nil
		}
		for attempt := 0; s == nil; attempt++ {
			if max := t.opts.maxReconnects; max >= 0 && attempt >= max {
				t.terminate(fmt.Sprintf("gave up after %d reconnection attempts: %s", attempt, lastErr))
				return
			}
			if !t.sleep(t.backoff(attempt)) {
				return
			}
			// The address that just failed is tried again last.
			t.mu.Lock()
			idx := (t.lastAddr + 1 + attempt) % len(t.addrs)
			t.mu.Unlock()
			ctx, cancel := context.WithTimeout(t.ctx, t.opts.connectTimeout)
			s2, err := t.connectSession(ctx, t.addrs[idx], idx)
			cancel()
			if err != nil {
				if t.ctx.Err() != nil {
					return
				}
				lastErr = err.Error()
				t.log.Info("stompx: reconnection attempt failed", slog.String("addr", t.addrs[idx]),
					slog.Int("attempt", attempt+1), slog.String("error", lastErr))
				continue
			}
			s = s2
		}
	}
}

// backoff returns the jittered delay before reconnection attempt n.
func (t *Transport) backoff(n int) time.Duration {
	d := t.opts.backoffMin
	for i := 0; i < n && d < t.opts.backoffMax; i++ {
		d *= 2
	}
	if d > t.opts.backoffMax {
		d = t.opts.backoffMax
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

func (t *Transport) sleep(d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-t.ctx.Done():
		return false
	}
}
