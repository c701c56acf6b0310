package events

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// DefaultBuffer is the number of events a Subscription holds for a consumer
// that has not received them yet, unless its transport says otherwise
// (stompx.WithEventBuffer).
const DefaultBuffer = 1024

// ErrSlowConsumer is reported (once per slow period) when a subscription's
// buffer is full and events are being dropped.
var ErrSlowConsumer = errors.New("events: slow consumer, events dropped")

// ErrEnded is the reason given when a feed ends without a specific error.
var ErrEnded = errors.New("events: subscription ended")

// Subscription delivers the events of one or more topics. It is created by
// a transport (stompx.Transport.Subscribe and SubscribeDurable,
// ivclient.Client.Subscribe); a transport of your own makes one with
// NewFeed.
//
// Events are buffered (DefaultBuffer, or the transport's setting: stompx's
// WithEventBuffer); when the consumer falls behind, the events beyond the
// buffer are dropped and counted (Dropped), unless the transport made the
// subscription blocking (stompx's WithBlockingEvents) or settled by Ack (a
// durable subscription), which never drops. A slow period begins with
// the first drop, which is reported to the error handler as ErrSlowConsumer,
// and ends when the consumer has caught up (the buffer is at most half full
// again). A body that is not an event is counted (Malformed) and reported to
// the error handler, never delivered and never fatal.
//
// The subscription ends when the consumer calls Close or when the transport
// ends it (the connection is closed for good, say): then Err is set, and C
// is closed after the events already buffered. All methods are safe for
// concurrent use.
type Subscription struct {
	c       chan Event
	stop    chan struct{} // closed when the subscription starts to end; wakes blocked publishers
	done    chan struct{} // closed by Close
	block   bool
	acks    bool // events are settled by Ack (WithAcks)
	onError func(error)
	onClose func() error

	// Publishers hold mu for reading while they send on c; ending takes it
	// for writing to close c, so no send can race with the close.
	mu    sync.RWMutex
	ended bool // guarded by mu

	errMu sync.Mutex
	err   error // guarded by errMu; set before c is closed

	stopOnce  sync.Once
	closeOnce sync.Once
	closeErr  error

	slow   atomic.Bool
	drops  atomic.Uint64
	bad    atomic.Uint64
	events atomic.Uint64
}

func newFeed(c feedConfig) *Feed {
	s := &Subscription{
		c:       make(chan Event, c.buffer),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		block:   c.block || c.acks,
		acks:    c.acks,
		onError: c.onError,
		onClose: c.onClose,
	}
	return &Feed{s: s}
}

// C returns the channel of events. It is closed when the subscription ends;
// Err then says why.
func (s *Subscription) C() <-chan Event { return s.c }

// Err returns why the subscription ended: nil while it runs, nil when the
// consumer closed it, and the transport's error (ErrEnded if it gave none)
// when the transport ended it first. It is set before C is closed.
func (s *Subscription) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// Close ends the subscription and unsubscribes. It is idempotent and safe
// to call from any goroutine (the error handler's included); every call
// returns the unsubscribe error, if any. Events still buffered remain
// readable from C, which is closed.
func (s *Subscription) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.end(nil)
		if s.onClose != nil {
			s.closeErr = s.onClose()
		}
	})
	return s.closeErr
}

// Dropped returns how many events were dropped because the consumer fell
// behind.
func (s *Subscription) Dropped() uint64 { return s.drops.Load() }

// Malformed returns how many received messages could not be decoded.
func (s *Subscription) Malformed() uint64 { return s.bad.Load() }

// Delivered returns how many events were put in the buffer. It is counted
// just after an event enters the buffer, so a consumer that has just
// received an event from C may for a moment read one less: use it for
// metrics, not to count what the consumer received.
func (s *Subscription) Delivered() uint64 { return s.events.Load() }

// end sets err and closes c, once. Publishers blocked on a full buffer are
// woken by stop first, so end never waits for the consumer.
func (s *Subscription) end(err error) {
	s.stopOnce.Do(func() { close(s.stop) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	s.errMu.Lock()
	s.err = err
	s.errMu.Unlock()
	close(s.c)
}

// send queues ev; slowBegins reports that this drop began a slow period.
func (s *Subscription) send(ev Event) (queued, slowBegins bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.ended {
		return false, false
	}
	select {
	case s.c <- ev:
		s.delivered()
		return true, false
	default:
	}
	if s.block {
		select {
		case s.c <- ev:
			s.delivered()
			return true, false
		case <-s.stop:
			return false, false
		}
	}
	s.drops.Add(1)
	return false, !s.slow.Swap(true)
}

func (s *Subscription) delivered() {
	s.events.Add(1)
	// The slow period ends once the consumer has caught up: half the
	// buffer free again, so that a consumer hovering at full does not
	// flap between slow and not.
	if s.slow.Load() && len(s.c) <= cap(s.c)/2 {
		s.slow.Store(false)
	}
}

// delivery is one delivery of an event by a subscription settled by Ack
// (Feed.Deliver).
type delivery struct {
	sub    *Subscription
	ack    func() error
	reject func(cause string) error
	lost   <-chan struct{}
	state  atomic.Uint32 // deliveryPending, deliverySettling or deliverySettled
}

const (
	deliveryPending uint32 = iota
	deliverySettling
	deliverySettled
)

// lostC returns the channel closed when the delivery's connection is
// gone, nil when it cannot be lost.
func (d *delivery) lostC() <-chan struct{} {
	if d == nil {
		return nil
	}
	return d.lost
}

// isLost reports whether the connection the delivery arrived on is gone.
func (d *delivery) isLost() bool {
	if d == nil || d.lost == nil {
		return false
	}
	select {
	case <-d.lost:
		return true
	default:
		return false
	}
}

// Ack acknowledges ev to the broker. On a subscription settled by Ack (a
// durable subscription, stompx.Transport.SubscribeDurable) an event is
// settled only by Ack or Reject, or by Run, Consume or ConsumeCalls once
// it was handled; on other subscriptions Ack does nothing and returns nil.
//
// Settling an event twice (or a copy of it), by Ack or Reject, is a no-op
// returning nil, and so is an Ack made while another settlement of the same
// event is in progress. An event delivered by another subscription, or one
// the subscription did not deliver at all, gets an error wrapping
// ivclient.ErrInvalidArgument and nothing is sent. Acking an event that
// arrived on a connection that has since dropped sends nothing and returns
// the transport's error (stompx's wraps ivclient.ErrConnectionLost): the
// broker delivers that event again, with Redelivered set. Ack may be
// called from any goroutine, also after Close (it then fails with the
// transport's error, stompx's wrapping ivclient.ErrClosed: the transport
// let the broker take the event back).
func (s *Subscription) Ack(ev Event) error {
	return s.settle("events: Ack", ev, func(d *delivery) error {
		if d.ack == nil {
			return nil
		}
		return d.ack()
	})
}

// Reject settles ev without handling it. On a durable subscription the
// event moves to its name's dead-letter queue with cause's text, where it
// waits until replayed or purged; on other subscriptions Reject does
// nothing and returns nil. Rejecting an event twice, or an event already
// acked, is a no-op returning nil. The errors are Ack's: a foreign event is
// refused, an event of a dropped connection or of a closed subscription
// fails with the transport's error and stays with the broker. A durable
// subscription whose transport cannot dead-letter fails Reject and leaves
// the event unsettled.
func (s *Subscription) Reject(ev Event, cause error) error {
	text := ""
	if cause != nil {
		text = cause.Error()
	}
	return s.settle("events: Reject", ev, func(d *delivery) error {
		if d.reject == nil {
			return errs.Wrap("events: Reject", nil, "the transport cannot dead-letter this event; it stays unsettled", nil)
		}
		return d.reject(text)
	})
}

// settle runs f once for ev's delivery: the state machine Ack and Reject
// share.
func (s *Subscription) settle(op string, ev Event, f func(*delivery) error) error {
	d := ev.delivery
	if d == nil {
		if s.acks {
			return errs.Wrap(op, errs.ErrInvalidArgument, "the event carries no delivery of this subscription; nothing sent", nil)
		}
		return nil
	}
	if d.sub != s {
		return errs.Wrap(op, errs.ErrInvalidArgument, "the event was not delivered by this subscription; nothing sent", nil)
	}
	if !d.state.CompareAndSwap(deliveryPending, deliverySettling) {
		return nil
	}
	if err := f(d); err != nil {
		d.state.Store(deliveryPending)
		return err
	}
	d.state.Store(deliverySettled)
	return nil
}
