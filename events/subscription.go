package events

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/instantvoice/instantvoice-go/internal/evfeed"
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
// eventfeed.New.
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
	acks    bool // events are settled by Ack (evfeed.Config.Acks)
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

// NewSubscription is the hook behind eventfeed.New, which is how a
// transport (stompx's, or one of your own) makes the Subscriptions it
// hands out: use eventfeed.New, which documents the options and the feed.
// NewSubscription takes and returns types internal to this module, so that
// code outside it cannot name them (a call from outside can only pass a
// zero configuration, and gets what eventfeed.New(nil) gives); it is
// exported only because a Subscription's fields are this package's own.
func NewSubscription(c evfeed.Config) (*Subscription, evfeed.Feed[Event]) {
	return newSubscription(c)
}

func newSubscription(c evfeed.Config) (*Subscription, *feed) {
	if c.Buffer <= 0 {
		c.Buffer = DefaultBuffer
	}
	s := &Subscription{
		c:       make(chan Event, c.Buffer),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		block:   c.Block || c.Acks,
		acks:    c.Acks,
		onError: c.OnError,
		onClose: c.OnClose,
	}
	return s, &feed{s: s}
}

// feed is the transport's side of a Subscription (evfeed.Feed), which
// eventfeed.Feed wraps and documents.
type feed struct{ s *Subscription }

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

// The feed's methods are documented at eventfeed.Feed, which wraps them.

// Publish decodes body and queues the event (eventfeed.Feed.Publish).
func (f *feed) Publish(topic string, body []byte, received time.Time) bool {
	s := f.s
	ev, err := Decode(body)
	if err != nil {
		s.bad.Add(1)
		if s.onError != nil {
			s.onError(err)
		}
		return false
	}
	ev.Topic, ev.Received = topic, received
	return f.PublishEvent(ev)
}

// PublishWithAck is Publish with a delivery that Ack settles
// (eventfeed.Feed.PublishWithAck).
func (f *feed) PublishWithAck(topic string, body []byte, received time.Time, redelivered bool, ack func() error) bool {
	s := f.s
	ev, err := Decode(body)
	if err != nil {
		s.bad.Add(1)
		if s.onError != nil {
			s.onError(err)
		}
		// The body is not an event and will never be one: settle it, so
		// that the broker does not deliver it again and again.
		if ack != nil {
			_ = ack()
		}
		return false
	}
	ev.Topic, ev.Received, ev.Redelivered = topic, received, redelivered
	if ack != nil {
		ev.delivery = &delivery{sub: s, ack: ack}
	}
	return f.PublishEvent(ev)
}

// PublishEvent queues an already decoded event (eventfeed.Feed.PublishEvent).
func (f *feed) PublishEvent(ev Event) bool {
	s := f.s
	queued, slowBegins := s.send(ev)
	if slowBegins && s.onError != nil {
		s.onError(ErrSlowConsumer) // outside the lock: the handler may Close
	}
	return queued
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

// End ends the subscription with err, nil meaning ErrEnded
// (eventfeed.Feed.End).
func (f *feed) End(err error) {
	if err == nil {
		err = ErrEnded
	}
	f.s.end(err)
}

// Done is closed when the consumer closes the subscription.
func (f *feed) Done() <-chan struct{} { return f.s.done }

// delivery is one delivery of an event by a subscription settled by Ack.
type delivery struct {
	sub   *Subscription
	ack   func() error
	state atomic.Uint32 // deliveryPending, deliveryAcking or deliveryAcked
}

const (
	deliveryPending uint32 = iota
	deliveryAcking
	deliveryAcked
)

// Both match ivclient.ErrInvalidArgument, like every misuse the SDK refuses
// before sending anything.
var (
	errForeignEvent = errs.Wrap("events: Ack", errs.ErrInvalidArgument, "the event was not delivered by this subscription; nothing sent", nil)
	errNoDelivery   = errs.Wrap("events: Ack", errs.ErrInvalidArgument, "the event carries no delivery of this subscription; nothing sent", nil)
)

// Ack acknowledges ev to the broker. On a subscription settled by Ack (a
// durable subscription, stompx.Transport.SubscribeDurable) an event is
// settled only by Ack, or by Run once every sink has taken it; on other
// subscriptions Ack does nothing and returns nil.
//
// Acking an event twice (or a copy of it) is a no-op returning nil, and so
// is an Ack made while another Ack of the same event is in progress. An
// event delivered by another subscription, or one the subscription did not
// deliver at all, gets an error and nothing is sent. Acking an event that
// arrived on a connection that has since dropped sends nothing and returns
// the transport's error (stompx's wraps ivclient.ErrConnectionLost): the
// broker delivers that event again, with Redelivered set. Ack may be
// called from any goroutine, also after Close (it then fails: the
// transport let the broker take the event back).
func (s *Subscription) Ack(ev Event) error {
	d := ev.delivery
	if d == nil {
		if s.acks {
			return errNoDelivery
		}
		return nil
	}
	if d.sub != s {
		return errForeignEvent
	}
	if !d.state.CompareAndSwap(deliveryPending, deliveryAcking) {
		return nil
	}
	if err := d.ack(); err != nil {
		d.state.Store(deliveryPending)
		return err
	}
	d.state.Store(deliveryAcked)
	return nil
}
