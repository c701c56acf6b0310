package stompx

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// supervise owns the transport's reconnection: it waits for session s
// (connected to addrs[idx]; nil when the first connection failed) to end,
// then connects again (redial), restoring every subscription, and ends
// the transport when reconnection is off or gives up.
func (t *Transport) supervise(s *session, idx int) {
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
			lastErr, idx = s.cause, s.idx
			if err := t.connectionLost("stompx: connection lost", s.addr, s.cause); err != nil {
				t.end(err, err)
				return
			}
			t.mu.Lock()
			if t.closed {
				t.mu.Unlock()
				return
			}
			t.setState(Reconnecting, s.err, s.addr)
			t.mu.Unlock()
			s = nil
		}
		err := t.redial(t.ctx, idx, lastErr, nil, func(ctx context.Context, i int) error {
			var err error
			s, err = t.connectSession(ctx, t.addrs[i], i)
			return err
		}, "stompx: reconnection attempt failed")
		if err != nil {
			if t.ctx.Err() == nil {
				t.end(err, err)
			}
			return
		}
	}
}

// connectionLost deals with the loss of a connection to addr (cause,
// redacted) for its owner, the session's supervisor or a durable
// subscription: it logs msg with attrs, and returns the error that ends
// the owner when reconnection is off (nil when the owner reconnects).
func (t *Transport) connectionLost(msg, addr, cause string, attrs ...any) error {
	t.log.Warn(msg, append(attrs, slog.String("addr", addr), slog.String("error", cause))...)
	if !t.opts.reconnect {
		return lostError(cause)
	}
	return nil
}

// redial connects again after the connection to addrs[lost] ended with
// lastErr: the one reconnection loop of the transport and its durable
// subscriptions. Before each attempt it waits backoff(attempt); it tries
// the next address first and the lost one last; connect makes one attempt
// at addrs[idx] within the connect timeout. It returns nil once connect
// succeeds; ctx.Err() when ctx ends first; connect's error at once when
// final(err) (final may be nil); and after WithMaxReconnects attempts, an
// error wrapping ivclient.ErrConnectionLost that says so. Each failed
// attempt is logged with msg and attrs.
func (t *Transport) redial(ctx context.Context, lost int, lastErr string, final func(error) bool,
	connect func(ctx context.Context, idx int) error, msg string, attrs ...any) error {
	for attempt := 0; ; attempt++ {
		if n := t.opts.maxReconnects; n > 0 && attempt >= n {
			return lostError(fmt.Sprintf("gave up after %d reconnection attempts: %s", attempt, lastErr))
		}
		tm := time.NewTimer(t.backoff(attempt))
		select {
		case <-tm.C:
		case <-ctx.Done():
			tm.Stop()
			return ctx.Err()
		}
		idx := (lost + 1 + attempt) % len(t.addrs)
		cctx, cancel := context.WithTimeout(ctx, t.opts.connectTimeout)
		err := connect(cctx, idx)
		cancel()
		switch {
		case err == nil:
			return nil
		case final != nil && final(err):
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		}
		lastErr = err.Error()
		t.log.Info(msg, append(attrs, slog.String("addr", t.addrs[idx]),
			slog.Int("attempt", attempt+1), slog.String("error", lastErr))...)
	}
}

// backoff returns the jittered delay before reconnection attempt n: it
// starts at WithReconnectBackoff's min, doubles up to its max, and is
// between half and all of that.
func (t *Transport) backoff(n int) time.Duration {
	d := t.opts.backoffMin
	for i := 0; i < n && d < t.opts.backoffMax; i++ {
		d *= 2
	}
	d = min(d, t.opts.backoffMax)
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// addrIndex returns the index of addr in t.addrs (0 if absent).
func (t *Transport) addrIndex(addr string) int {
	for i, a := range t.addrs {
		if a == addr {
			return i
		}
	}
	return 0
}
