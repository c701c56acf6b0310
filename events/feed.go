package events

import (
	"fmt"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// Feed is the transport's side of a Subscription. It is for transport
// implementers: stompx uses it, and so can a transport of your own (over
// another broker, say) or a test that feeds a subscription by hand.
// Partners consuming events never need it.
//
// A transport makes a feed with NewFeed, hands out Feed.Subscription,
// delivers each message it receives with Deliver, watches Done to learn
// that the consumer closed the subscription, and calls End when it cannot
// go on:
//
//	feed, err := events.NewFeed(events.WithUnsubscribe(unsubscribe), events.WithBuffer(256))
//	if err != nil {
//		return nil, err
//	}
//	go func() {
//		for msg := range messages {
//			feed.Deliver(events.Delivery{Topic: msg.Topic, Body: msg.Body, Received: time.Now()})
//		}
//		feed.End(errConnectionGone)
//	}()
//	return feed.Subscription(), nil
//
// Its methods are safe for concurrent use.
type Feed struct{ s *Subscription }

// Delivery is one message a transport received, as it hands it to
// Feed.Deliver. Only Body is required.
//
// Ack, Reject and Lost describe a broker delivery that must be settled, on a
// subscription made WithAcks. The subscription calls Ack or Reject at most
// once successfully for one delivery (Subscription.Ack, Subscription.Reject),
// so a transport is never asked to settle a delivery twice; after an error
// either may be called again. A transport must still know whether the
// delivery can be settled: once the connection it arrived on is gone, Ack
// and Reject send nothing and return an error (stompx's wraps
// ivclient.ErrConnectionLost), and after the consumer closed the
// subscription they return an error wrapping ivclient.ErrClosed. Both run
// on the goroutine that settles: for a malformed body, the one that calls
// Deliver, which must therefore not be the goroutine that Reject waits for
// (the reader of the connection, say, when Reject waits for the broker's
// answer: stompx delivers from a goroutine of its own for that reason).
type Delivery struct {
	Topic       string    // the destination the message arrived on (Event.Topic)
	Body        []byte    // the message body, decoded with Decode
	Received    time.Time // when the transport received it (Event.Received)
	Redelivered bool      // the broker delivered it before (Event.Redelivered)

	// Ack acknowledges this one delivery to the broker. nil: the delivery
	// needs no acknowledgement.
	Ack func() error
	// Reject settles this one delivery without handling it: the broker
	// moves it to the dead letters with cause. nil: the transport cannot
	// dead-letter it (Subscription.Reject then fails and leaves it
	// unsettled).
	Reject func(cause string) error
	// Lost is closed when the connection the delivery arrived on is gone:
	// it can no longer be settled, and the broker delivers it again (to this
	// consumer or, with a single active consumer, to whoever takes over).
	// Consume and ConsumeCalls hand no event of a lost connection to a
	// handler. nil: never lost (a connection that cannot be lost without
	// the subscription ending).
	Lost <-chan struct{}
}

// FeedOption configures a feed made by NewFeed. A nil option, or an option
// given a meaningless value, makes NewFeed fail with an error wrapping
// ivclient.ErrInvalidArgument; leaving an option out gives its default.
type FeedOption interface{ applyFeed(*feedConfig) error }

type feedOption func(*feedConfig) error

func (o feedOption) applyFeed(c *feedConfig) error { return o(c) }

// feedConfig is a subscription's configuration, as the feed options set it.
type feedConfig struct {
	buffer  int          // events held for the consumer
	block   bool         // a full buffer waits for the consumer instead of dropping
	acks    bool         // events are settled by Subscription.Ack (implies block)
	onError func(error)  // told of ErrSlowConsumer, malformed bodies and failed settlements
	onClose func() error // called once when the consumer closes the subscription
}

func invalidFeedOption(option, detail string) error {
	return errs.Wrap("events: NewFeed", errs.ErrInvalidArgument, option+": "+detail, nil)
}

// WithBuffer sets how many undelivered events the subscription holds
// (default DefaultBuffer); n must be at least 1.
func WithBuffer(n int) FeedOption {
	return feedOption(func(c *feedConfig) error {
		if n < 1 {
			return invalidFeedOption("WithBuffer", fmt.Sprintf("n must be at least 1, got %d", n))
		}
		c.buffer = n
		return nil
	})
}

// WithBlocking makes a full buffer wait for the consumer instead of
// dropping events. The cost: while the consumer is behind, the transport's
// goroutine that delivers waits too, and whatever else it serves (other
// subscriptions, replies on the same connection) may be delayed. A waiting
// Deliver gives up when the subscription ends.
func WithBlocking() FeedOption {
	return feedOption(func(c *feedConfig) error { c.block = true; return nil })
}

// WithAcks makes a subscription whose events are settled by
// Subscription.Ack or Subscription.Reject, as a durable subscription's are:
// the transport delivers them with Delivery.Ack (and Reject, Lost), and the
// subscription hands each settlement back to the transport once. Such a
// subscription never drops an event: a full buffer waits for the consumer,
// as WithBlocking (the transport bounds what is in flight, with the broker's
// prefetch, so that it need not wait).
func WithAcks() FeedOption {
	return feedOption(func(c *feedConfig) error { c.acks, c.block = true, true; return nil })
}

// WithErrorHandler sets a function called with ErrSlowConsumer when drops
// begin (once per slow period), with the decode error of every malformed
// body (it wraps ErrMalformed), and with the error of a settlement that Run,
// Consume or ConsumeCalls made and that failed. It runs on the goroutine
// that delivers (or that settles), with no lock held: it must not block,
// but it may call the subscription's methods, Close included. f must not be
// nil.
func WithErrorHandler(f func(error)) FeedOption {
	return feedOption(func(c *feedConfig) error {
		if f == nil {
			return invalidFeedOption("WithErrorHandler", "nil function")
		}
		c.onError = f
		return nil
	})
}

// WithUnsubscribe sets the function called once when the consumer closes
// the subscription: the transport unsubscribes there, and Close returns its
// error. By then C is closed and no Deliver is in progress. f must not be
// nil.
func WithUnsubscribe(f func() error) FeedOption {
	return feedOption(func(c *feedConfig) error {
		if f == nil {
			return invalidFeedOption("WithUnsubscribe", "nil function")
		}
		c.onClose = f
		return nil
	})
}

// NewFeed returns a feed and, through Feed.Subscription, the subscription it
// fills. It fails only on a bad option.
func NewFeed(opts ...FeedOption) (*Feed, error) {
	c := feedConfig{buffer: DefaultBuffer}
	for i, o := range opts {
		if o == nil {
			return nil, errs.Wrap("events: NewFeed", errs.ErrInvalidArgument, fmt.Sprintf("option %d is nil", i), nil)
		}
		if err := o.applyFeed(&c); err != nil {
			return nil, err
		}
	}
	return newFeed(c), nil
}

// Subscription returns the subscription this feed fills.
func (f *Feed) Subscription() *Subscription { return f.s }

// Deliver decodes d.Body (Decode) and queues the event with d's topic,
// receive time, redelivery mark and settlement. It never blocks, unless
// the subscription was made WithBlocking or WithAcks (then it waits for
// room or for the end of the subscription). It reports whether the event
// was queued: false for an event dropped because the buffer was full
// (counted, Dropped), for a malformed body (counted, Malformed, reported to
// the error handler, and settled at once, so that the broker does not
// deliver it again and again: dead-lettered with the decode error by
// d.Reject, or else acknowledged by d.Ack), and after the subscription
// ended, when it does nothing.
func (f *Feed) Deliver(d Delivery) bool {
	s := f.s
	ev, err := Decode(d.Body)
	if err != nil {
		s.bad.Add(1)
		if s.onError != nil {
			s.onError(err)
		}
		// The body is not an event and will never be one: settle it, so
		// that the broker does not deliver it again and again.
		switch {
		case d.Reject != nil:
			_ = d.Reject(err.Error())
		case d.Ack != nil:
			_ = d.Ack()
		}
		return false
	}
	ev.Topic, ev.Received, ev.Redelivered = d.Topic, d.Received, d.Redelivered
	if d.Ack != nil || d.Reject != nil {
		ev.delivery = &delivery{sub: s, ack: d.Ack, reject: d.Reject, lost: d.Lost}
	}
	return f.PublishEvent(ev)
}

// PublishEvent queues an already decoded event, as Deliver does; the event
// carries no settlement of its own.
func (f *Feed) PublishEvent(ev Event) bool {
	s := f.s
	queued, slowBegins := s.send(ev)
	if slowBegins && s.onError != nil {
		s.onError(ErrSlowConsumer) // outside the lock: the handler may Close
	}
	return queued
}

// End ends the subscription with err (nil is taken as ErrEnded): Err
// returns it, then C is closed after the events already buffered. It does
// not call the WithUnsubscribe function. Later calls, and calls after
// Close, do nothing. It never waits for the consumer.
func (f *Feed) End(err error) {
	if err == nil {
		err = ErrEnded
	}
	f.s.end(err)
}

// Done returns a channel closed when the consumer closes the subscription.
func (f *Feed) Done() <-chan struct{} { return f.s.done }
