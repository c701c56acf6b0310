package events

import (
	"context"
	"fmt"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// Sink is anything that takes events one by one: *Tracker, *Board and
// *Poller are sinks, and SinkFunc makes one of a function.
type Sink interface {
	// Apply takes one event; Run calls it for each event, in order.
	Apply(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

// Apply calls f(ev).
func (f SinkFunc) Apply(ev Event) { f(ev) }

// expirer is a sink with time-based expiry (*Tracker, *Board).
type expirer interface {
	Expire() int
}

// ExpireInterval is how often Run calls Expire on the sinks that have one
// (*Tracker, *Board), so that calls expire even when no events arrive.
const ExpireInterval = 30 * time.Second

// Run hands every event of s to each sink, in order, on the calling
// goroutine, until s ends or ctx is done. It returns s.Err() when s ended
// (nil after Close), or ctx.Err(). It does not close s: the caller does,
// typically with a defer. Every ExpireInterval it also calls Expire on the
// sinks that have such a method (*Tracker, *Board).
//
// On a durable subscription (one whose events need Ack) Run acks each
// event once every sink has taken it, never before: an event whose sinks
// did not all return (the process died, say) is delivered again.
//
//	s, err := client.Subscribe(ctx, events.AllAgents)
//	...
//	defer s.Close()
//	tracker, err := events.NewTracker(events.WithFinished(saveCallRecord))
//	...
//	board, err := events.NewBoard()
//	...
//	go events.Run(ctx, s, tracker, board)
func Run(ctx context.Context, s *Subscription, sinks ...Sink) error {
	return run(ctx, s, ExpireInterval, sinks)
}

// run is Run, calling Expire every expireEvery (tests shorten it).
func run(ctx context.Context, s *Subscription, expireEvery time.Duration, sinks []Sink) error {
	if ctx == nil {
		return errs.Wrap("events: Run", errs.ErrInvalidArgument, "nil context", nil)
	}
	if s == nil {
		return errs.Wrap("events: Run", errs.ErrInvalidArgument, "nil subscription", nil)
	}
	var expirers []expirer
	for i, sink := range sinks {
		if sink == nil {
			return errs.Wrap("events: Run", errs.ErrInvalidArgument, fmt.Sprintf("sink %d is nil", i), nil)
		}
		if e, ok := sink.(expirer); ok {
			expirers = append(expirers, e)
		}
	}
	var tick <-chan time.Time
	if len(expirers) > 0 {
		t := time.NewTicker(expireEvery)
		defer t.Stop()
		tick = t.C
	}
	c := s.C()
	for {
		select {
		case ev, ok := <-c:
			if !ok {
				return s.Err()
			}
			for _, sink := range sinks {
				sink.Apply(ev)
			}
			if ev.delivery != nil {
				// Every sink has taken the event: settle it. A failed Ack
				// (the connection dropped) means the broker delivers the
				// event again; the sinks take a redelivery only once. An
				// Ack that sent nothing on a live connection is tried
				// again (settleRetrying).
				retry := true
				if err := s.settleRetrying(ctx, ev, s.Ack, &retry); err != nil && s.onError != nil {
					s.onError(err)
				}
			}
		case <-tick:
			for _, e := range expirers {
				e.Expire()
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
