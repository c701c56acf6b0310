package stompx

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// A session is one generation of the transport's connection: two STOMP
// connections to the same broker, opened and lost together (see DESIGN.md
// for why two).
//
//   - sub holds every subscription (the reply topic of each key and every
//     event topic). Each go-stomp subscription is drained by a pump
//     goroutine that never blocks on anything but the partner's own
//     WithBlockingEvents choice, so go-stomp's single I/O goroutine always
//     gets its messages taken, and the broker can always deliver to us.
//   - pub only sends requests, from one writer goroutine.
//
// A session ends once, as a conn does and through the same record
// (ending): close (Transport.Close: calls in flight get errClosed, then
// both connections are closed gracefully) or abort (anything else: calls
// in flight get an error wrapping ivclient.ErrConnectionLost, the
// connections are aborted, which leaves a failed reader's socket to
// go-stomp). Either connection ending aborts the session. done closes
// after pending is swept and the session stopped being current.
type session struct {
	ending
	t    *Transport
	id   uint64
	addr string
	idx  int // addr's index in t.addrs

	sub, pub *conn

	mu      sync.Mutex
	pending map[string]*call
	dead    bool

	keys   sync.Map   // key -> *keySub
	sendMu sync.Mutex // held around every Send on pub; callers only TryLock it (trySend), so no caller ever waits behind go-stomp's write queue
	sendq  chan outgoing
	syncq  chan syncReq
}

// syncReq is work for the sync goroutine, the only one that calls go-stomp
// on the sub connection (except conn.unsubscribe): prep (a SUBSCRIBE, say)
// runs first, then done gets the outcome of the confirmation that follows.
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

// connectSession dials both connections, restores every subscription
// (reply topics first, then event topics), waits for the broker to confirm
// them, and makes the session current.
func (t *Transport) connectSession(ctx context.Context, addr string, idx int) (*session, error) {
	s := &session{
		ending:  newEnding(),
		t:       t,
		id:      t.sessionIDs.Add(1),
		addr:    addr,
		idx:     idx,
		pending: make(map[string]*call),
		sendq:   make(chan outgoing, 256),
		syncq:   make(chan syncReq, 64),
	}
	if err := s.dial(ctx); err != nil {
		return nil, err
	}
	pump, err := s.sub.syncSubscribe(s.subFailed)
	if err != nil {
		s.abort(err)
		return nil, fmt.Errorf("stompx: connect %s: %w", addr, s.err)
	}
	if !s.sub.spawn(pump) || !s.sub.spawn(s.writer) || !s.sub.spawn(s.syncLoop) {
		return nil, errClosed
	}
	keys, subs := t.keys.list(), t.subs.plainList()
	if err := s.restore(ctx, keys, subs); err != nil {
		s.abort(err)
		return nil, fmt.Errorf("stompx: connect %s: restoring subscriptions: %w", addr, err)
	}
	if err := t.makeCurrent(s); err != nil {
		s.abort(err)
		if err == errClosed {
			return nil, errClosed
		}
		<-s.done
		return nil, fmt.Errorf("stompx: connect %s: %w", addr, s.err)
	}
	t.log.Info("stompx: connected", slog.String("addr", addr), slog.Int("keys", len(keys)), slog.Int("subscriptions", len(subs)))
	return s, nil
}

// dial opens the session's connections, and ties the session's end to
// theirs once both are in place (so that abort finds them both).
func (s *session) dial(ctx context.Context) error {
	sub, err := s.t.dial(ctx, s.addr)
	if err != nil {
		return err
	}
	pub := sub
	if !s.t.opts.oneConn {
		if pub, err = s.t.dial(ctx, s.addr); err != nil {
			sub.abort(err)
			return err
		}
	}
	s.sub, s.pub = sub, pub
	sub.setOnEnd(s.abort)
	pub.setOnEnd(s.abort)
	if s.ended() { // a connection failed before the session knew it
		return fmt.Errorf("stompx: connect %s: %w", s.addr, s.err)
	}
	return nil
}

// restore subscribes the reply topics of keys, then the event topics of
// subs, and waits for the broker to confirm them all (one round trip).
func (s *session) restore(ctx context.Context, keys []string, subs []*eventSub) error {
	for _, k := range keys {
		s.subscribeKey(k)
	}
	for _, es := range subs {
		s.requestSync(syncReq{prep: func() error { return es.attach(s) }})
	}
	done := make(chan error, 1)
	s.requestSync(syncReq{done: func(err error) { done <- err }})
	select {
	case err := <-done:
		return err
	case <-s.done:
		return s.reason
	case <-ctx.Done():
		return ctx.Err()
	}
}

// abort ends the session because of err: a connection that failed, a
// go-stomp call that failed, a broker that does not confirm, or errClosed.
// Calls in flight get an error wrapping ivclient.ErrConnectionLost and
// err's typed reason, if any (errClosed itself when closing), and both
// connections are aborted.
func (s *session) abort(err error) {
	if s.record(s.t.red, err, s.sweep) {
		// Outside record: a connection's end calls abort again (a no-op).
		s.sub.abort(err)
		s.pub.abort(err)
	}
}

// close ends the session for Transport.Close: calls in flight get
// errClosed and the connections are closed gracefully.
func (s *session) close() {
	if s.record(s.t.red, errClosed, s.sweep) {
		closeConns(s.pub, s.sub)
	}
}

// subFailed aborts the session because a subscription on the sub
// connection saw err (the broker's ERROR, as the connection has it).
func (s *session) subFailed(err error) { s.abort(s.sub.failure(err)) }

// sweep runs once as the session ends, before done closes: every pending
// call gets the session's error, and the session stops being current, so
// that whoever sees done closed and asks for the current session gets
// another one (or waits).
func (s *session) sweep() {
	s.mu.Lock()
	s.dead = true
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	// Each call removed from pending gets exactly one result, from here;
	// its owner waits for it before it reuses the call.
	for _, c := range pending {
		c.ch <- result{err: s.err}
	}
	s.t.dropCurrent(s)
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
	if s.pub.stomp.Stats().CurrentWriteChanSize >= writeChanCap-1 {
		return false
	}
	exp, ok := s.t.expiryHeader(s.pub.broker, deadline)
	if !ok {
		return true
	}
	err := s.pub.stomp.Send(s.t.opts.requestQueue, "", body, exp)
	switch {
	case err == nil:
		s.t.stats.sent.Add(1)
		return true
	case err == stomp.ErrMsgSendTimeout:
		return false
	default:
		s.abort(err)
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
				exp, ok := s.t.expiryHeader(s.pub.broker, m.deadline)
				if !ok {
					// Too late: send nothing; the caller's context ends the call.
					s.sendMu.Unlock()
					break
				}
				err := s.pub.stomp.Send(dest, "", m.body, exp)
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
				s.abort(err)
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

// syncLoop runs the SUBSCRIBEs and confirms them: after a batch of them,
// a round trip on the same connection (conn.confirm). Brokers process a
// connection's frames in order (go-stomp's server hands each SUBSCRIBE to
// its router before it handles the next frame; RabbitMQ binds the queue
// synchronously), so the round trip proves the subscriptions are in
// place. Requests that arrive while a round trip is in flight share the
// next one. Callers only wait for done, with their context: none of them
// is ever stuck in go-stomp.
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
			switch {
			case r.prep == nil:
			case s.ended():
				// Subscribe nothing more on a dead connection (see
				// conn.forEach).
				errs[i] = errRetry
			default:
				errs[i] = r.prep()
			}
		}
		err := s.syncOnce()
		if err != nil {
			// End the session before telling the waiters, so that a waiter
			// that retries finds it no longer current.
			s.abort(err)
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

// syncOnce confirms the SUBSCRIBEs sent so far (conn.confirm, which
// aborts a connection whose broker does not answer within syncTimeout).
// The error is the reason the sub connection ended.
func (s *session) syncOnce() error {
	if s.sub.confirm() {
		return nil
	}
	return s.sub.reason
}

// replyPump drains the reply subscription of one key into the pending
// calls. It never sends and never blocks.
func (s *session) replyPump(key string, ss *stomp.Subscription) {
	s.sub.forEach(ss, func(m *stomp.Message) {
		if m.Err != nil {
			s.subFailed(m.Err)
			return
		}
		s.dispatch(key, m.Body)
	})
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
