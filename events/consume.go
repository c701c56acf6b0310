package events

import (
	"context"
	"fmt"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// ConsumeOption configures Consume and ConsumeCalls. A nil option, or an
// option given a meaningless value, makes them fail at once with an error
// wrapping ivclient.ErrInvalidArgument; leaving an option out gives its
// default.
type ConsumeOption interface{ applyConsume(*consumeConfig) error }

type consumeOption func(*consumeConfig) error

func (o consumeOption) applyConsume(c *consumeConfig) error { return o(c) }

// consumeConfig is what the options set, with the clock and the periods
// tests shorten.
type consumeConfig struct {
	lanes   int
	retry   retryPolicy
	other   Handler
	maxHold time.Duration
	expiry  time.Duration // WithCallExpiry; zero: DefaultExpiry
	calls   bool          // set by ConsumeCalls: its options are allowed

	now   func() time.Time
	tick  time.Duration // how often ConsumeCalls looks at its clock
	grace time.Duration // how long an early HANGUP waits for its call's first event
}

// WithRetry's defaults, for a program that offers them as its own
// settings' defaults (a flag's, say): the tries of an event or a call in
// all, the first included, and the wait after its first failure.
const (
	DefaultRetryAttempts = 5
	DefaultRetryBackoff  = time.Second
)

// The other options' defaults, and the periods ConsumeCalls waits.
const (
	// defaultMaxHold is WithMaxHold's default: below RabbitMQ's
	// consumer_timeout (30 minutes by default), past which the broker
	// closes a connection that holds an unacknowledged delivery.
	defaultMaxHold = 25 * time.Minute
	// hangupGrace is how long ConsumeCalls waits, after a HANGUP whose call
	// it has seen no NEWCALL (or DNEWCALL) of, for the call's earlier
	// events: after a takeover the broker may deliver them after the
	// HANGUP. Past it, the call is handed over as it is.
	hangupGrace = 10 * time.Second
	maxLanes    = 10000
)

func invalidConsume(op, detail string) error {
	return errs.Wrap(op, errs.ErrInvalidArgument, detail, nil)
}

// WithLanes sets how many handlers run at once (default 1): events of
// different agents are handled concurrently on up to n goroutines, those
// of one agent one at a time, in order. n is 1 to 10,000.
func WithLanes(n int) ConsumeOption {
	return consumeOption(func(c *consumeConfig) error {
		if n < 1 || n > maxLanes {
			return fmt.Errorf("WithLanes: n must be 1..%d, got %d", maxLanes, n)
		}
		c.lanes = n
		return nil
	})
}

// WithRetry sets how many times in all, the first included, an event (or
// a call) is tried before it is dead-lettered (default 5), and the wait
// after the first failure (default 1s), which doubles after each further
// failure, up to a minute (or backoff, if longer). The agent's later
// events wait meanwhile; other agents go on. Retries never hold an event
// unsettled longer than WithMaxHold (default 25 minutes) since it was
// taken (or, for a call, since its first event held was received): a
// failure whose backoff would end past it is the last, and the event (the
// call) is dead-lettered then, whatever attempts are left. A broker takes
// back a delivery held too long (RabbitMQ's consumer_timeout) and delivers
// it again with its tries counted from zero: the bound keeps a poison
// event from going round for ever. attempts must be at least 1, backoff
// more than zero.
func WithRetry(attempts int, backoff time.Duration) ConsumeOption {
	return consumeOption(func(c *consumeConfig) error {
		if attempts < 1 {
			return fmt.Errorf("WithRetry: attempts must be at least 1, got %d", attempts)
		}
		if backoff <= 0 {
			return fmt.Errorf("WithRetry: backoff must be more than zero, got %v", backoff)
		}
		c.retry = retryPolicy{attempts: attempts, backoff: backoff}
		return nil
	})
}

// WithOtherEvents sets, for ConsumeCalls, the handler of the events that
// belong to no call (LOGIN, LOGOUT, PAUSE, UNPAUSE, unknown types, events
// without a uniqueid). They are handled as Consume handles events: in order
// per agent, retried, dead-lettered. Without it they are settled at once.
// h must not be nil.
func WithOtherEvents(h Handler) ConsumeOption {
	return consumeOption(func(c *consumeConfig) error {
		if h == nil {
			return fmt.Errorf("WithOtherEvents: nil handler")
		}
		if !c.calls {
			return fmt.Errorf("WithOtherEvents: only ConsumeCalls takes it")
		}
		c.other = h
		return nil
	})
}

// WithMaxHold sets the longest Consume and ConsumeCalls keep an event
// unsettled of their own accord (default 25 minutes): keep it below the
// broker's consumer_timeout (RabbitMQ's: 30 minutes by default), past
// which RabbitMQ closes the connection and delivers every unsettled event
// again. It counts from when Consume took the event from the subscription
// (ConsumeCalls: from when the call's first event held was received).
// Consume and ConsumeCalls stop retrying an event (a call) whose next try
// would begin past it, and dead-letter it (see WithRetry). ConsumeCalls
// also hands over, with Call.Open set, a call still open after it, less
// the time its retries may take (WithRetry's waits, at most half of d),
// and settles its events so far: the call is handed again when it ends.
//
// It does not bound the wait of an event for its turn: Consume takes up
// to the subscription's buffer (at least the prefetch) at once, and with
// a handler taking T on n lanes the last of a full backlog of P events is
// handled about P×T/n later (30,000 × 50 ms on one lane: 25 minutes), its
// delivery unsettled all along. Keep that below consumer_timeout with
// WithLanes or a smaller prefetch (stompx.WithPrefetch). d must be more
// than zero.
func WithMaxHold(d time.Duration) ConsumeOption {
	return consumeOption(func(c *consumeConfig) error {
		if d <= 0 {
			return fmt.Errorf("WithMaxHold: d must be more than zero, got %v", d)
		}
		c.maxHold = d
		return nil
	})
}

// WithCallExpiry sets, for ConsumeCalls, how long after its last event a
// call whose HANGUP has not come is handed over Expired (default
// DefaultExpiry, 4 hours, as a Tracker's WithExpiry): make it longer than
// the longest call, and take it that calls talking longer end Expired.
// The HANGUP of a call handed over Expired, should it come after all, is
// handed over as the call's end (see ConsumeCalls). d must be more than
// zero.
func WithCallExpiry(d time.Duration) ConsumeOption {
	return consumeOption(func(c *consumeConfig) error {
		if d <= 0 {
			return fmt.Errorf("WithCallExpiry: d must be more than zero, got %v", d)
		}
		if !c.calls {
			return fmt.Errorf("WithCallExpiry: only ConsumeCalls takes it")
		}
		c.expiry = d
		return nil
	})
}

// openAfter is how long ConsumeCalls holds an open call's events before
// it hands the call over Open: WithMaxHold, less the time its retries may
// take, so that they end within WithMaxHold.
func (c consumeConfig) openAfter() time.Duration {
	var retries time.Duration
	for i := 1; i < c.retry.attempts && retries < c.maxHold/2; i++ {
		retries += c.retry.wait(i)
	}
	return c.maxHold - min(retries, c.maxHold/2)
}

// consumeSetup checks Consume's and ConsumeCalls' arguments and applies
// the options.
func consumeSetup(op string, ctx context.Context, s *Subscription, handler bool, calls bool, opts []ConsumeOption) (consumeConfig, error) {
	c := consumeConfig{lanes: 1, retry: retryPolicy{attempts: DefaultRetryAttempts, backoff: DefaultRetryBackoff},
		maxHold: defaultMaxHold, calls: calls, now: time.Now, tick: time.Second, grace: hangupGrace}
	switch {
	case ctx == nil:
		return c, invalidConsume(op, "nil context")
	case s == nil:
		return c, invalidConsume(op, "nil subscription")
	case !handler:
		return c, invalidConsume(op, "nil handler")
	}
	for i, o := range opts {
		if o == nil {
			return c, invalidConsume(op, fmt.Sprintf("option %d is nil", i))
		}
		if err := o.applyConsume(&c); err != nil {
			return c, invalidConsume(op, err.Error())
		}
	}
	return c, nil
}

// Consume hands each event of s to h, and settles it (Subscription.Ack) only
// after h returned nil for it. Events of one agent are handled one at a
// time, in the order they arrived; events of different agents run
// concurrently, on up to WithLanes goroutines. When h fails, the event is
// tried again after a backoff (WithRetry), and that agent's later events
// wait, so that an agent's events are never handled out of order; a lane
// is not held during the backoff. After WithRetry's last attempt the event
// is dead-lettered (Subscription.Reject with h's last error) and the agent
// goes on. Where the transport cannot dead-letter (a subscription not
// settled by Ack, or a delivery without Delivery.Reject) it is acked
// instead, dropped, and the subscription's error handler is told, with h's
// error: a poison event never keeps its place in the broker's prefetch.
// Retries never hold an event unsettled longer than WithMaxHold (see
// WithRetry).
//
// A settlement that fails while the event's connection lives (stompx's Ack
// when the connection has not been writing for a second: nothing was sent)
// is tried again, up to 4 more times over about 1.5 seconds, while ctx and
// s last; then it is reported to the error handler and the event stays
// unsettled until its connection ends (RabbitMQ's consumer_timeout at the
// latest), when the broker delivers it again.
//
// h gets ctx. An event whose connection is lost (Delivery.Lost) is not
// handed to h, nor retried: the broker delivers it again. Settlements that
// fail (the connection dropped meanwhile) go to the subscription's error
// handler; the broker then delivers the event again, marked Redelivered.
//
// Consume holds at most the subscription's buffer of events not yet
// handled; past it, it stops reading s until a handler is done. It returns
// when s ends (s.Err(), nil after Close), once the events it took from s
// are handled, or when ctx is done (ctx.Err()), at once: no handler starts,
// backoffs are abandoned, and the events not handled stay unsettled. Either
// way it returns only once the handlers it started have returned, and it
// does not close s. It fails at once with an error wrapping
// ivclient.ErrInvalidArgument for a nil argument or a bad option.
func Consume(ctx context.Context, s *Subscription, h Handler, opts ...ConsumeOption) error {
	const op = "events: Consume"
	cfg, err := consumeSetup(op, ctx, s, h != nil, false, opts)
	if err != nil {
		return err
	}
	l := startLanes(ctx, cfg.lanes, cfg)
	limit := int64(max(cap(s.c), cfg.lanes))
	c := s.C()
	for {
		in := c
		if l.pending.Load() >= limit {
			in = nil
		}
		select {
		case ev, ok := <-in:
			if !ok {
				l.drain()
				return s.Err()
			}
			l.add(s.eventWork(ctx, op, h, ev, cfg.retry.attempts))
		case <-l.notify:
		case <-ctx.Done():
			l.stop()
			l.wait()
			return ctx.Err()
		}
	}
}

// eventWork is the work of handing one event to h; ctx bounds the retries
// of its settlement.
func (s *Subscription) eventWork(ctx context.Context, op string, h Handler, ev Event, attempts int) *work {
	return &work{
		key:   agentOf(ev),
		run:   func(ctx context.Context) error { return h(ctx, ev) },
		lost:  ev.delivery.isLost,
		lostC: ev.delivery.lostC(),
		settle: func(err error) {
			s.settleAll(ctx, op, []Event{ev}, err, func() string { return gaveUpOn(ev, attempts) })
		},
		abandon: func() {},
	}
}

func gaveUpOn(ev Event, attempts int) string {
	what := string(ev.Type)
	if ev.UniqueID != "" {
		what += " " + ev.UniqueID
	}
	return fmt.Sprintf("gave up on %s of %q after %d attempts", what, agentOf(ev), attempts)
}

// settleAll acks evs (err nil) or dead-letters them with err. An event its
// transport cannot dead-letter (no Delivery.Reject, or a subscription not
// settled by Ack) is acked instead: dropped, and the error handler is told
// what (gaveUp's text) with err. A settlement that fails on a live
// connection is tried again (settleRetrying); one that still fails goes to
// the error handler, but on a lost connection: those events come again, and
// settleAll reports that some did (lost).
func (s *Subscription) settleAll(ctx context.Context, op string, evs []Event, err error, gaveUp func() string) (lost bool) {
	dropped := 0
	retry := true
	for _, ev := range evs {
		var serr error
		switch {
		case err == nil:
			serr = s.settleRetrying(ctx, ev, s.Ack, &retry)
		case ev.delivery == nil || ev.delivery.reject == nil:
			if serr = s.settleRetrying(ctx, ev, s.Ack, &retry); serr == nil {
				dropped++
			}
		default:
			reject := func(ev Event) error { return s.Reject(ev, err) }
			serr = s.settleRetrying(ctx, ev, reject, &retry)
		}
		if serr != nil {
			if ev.delivery.isLost() {
				lost = true
			} else {
				s.report(errs.Wrap(op, nil, "", serr))
			}
		}
	}
	if dropped > 0 || (err != nil && len(evs) == 0) {
		s.report(errs.Wrap(op, nil, gaveUp()+", dropped", err))
	}
	return lost
}

// report tells the subscription's error handler of err.
func (s *Subscription) report(err error) {
	if s.onError != nil {
		s.onError(err)
	}
}
