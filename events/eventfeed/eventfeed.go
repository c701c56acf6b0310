// Package eventfeed is for transport authors: it makes the
// events.Subscription a transport hands out, and the Feed with which the
// transport fills it. Partners consuming events never need it; stompx uses
// it, and so can a transport of your own (over another broker, say) or a
// test that feeds a subscription by hand.
//
// A transport makes a subscription with New, publishes each message body it
// receives with Feed.Publish (or Feed.PublishWithAck for a broker delivery
// that must be acknowledged), watches Feed.Done to learn that the consumer
// closed it, and calls Feed.End when it cannot go on:
//
//	sub, feed := eventfeed.New(unsubscribe, eventfeed.WithBuffer(256))
//	go func() {
//		for msg := range messages {
//			feed.Publish(msg.Topic, msg.Body, time.Now())
//		}
//		feed.End(errConnectionGone)
//	}()
//	return sub, nil
//
// Options follow the style of events' sinks (events.SinkOption): a count of
// zero or less, or a nil function, means the option's default, and a nil
// option is skipped, so New cannot fail.
package eventfeed

import (
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/evfeed"
)

// Option configures a subscription made by New.
type Option interface{ apply(*evfeed.Config) }

type option func(*evfeed.Config)

func (o option) apply(c *evfeed.Config) { o(c) }

// WithBuffer sets how many undelivered events the subscription holds
// (default events.DefaultBuffer; zero or less means the default).
func WithBuffer(n int) Option {
	return option(func(c *evfeed.Config) {
		if n > 0 {
			c.Buffer = n
		}
	})
}

// WithBlocking makes a full buffer wait for the consumer instead of dropping
// events. The cost: while the consumer is behind, the transport's goroutine
// that publishes waits too, and whatever else it serves (other
// subscriptions, replies on the same connection) may be delayed. A waiting
// publisher gives up when the subscription ends.
func WithBlocking() Option { return option(func(c *evfeed.Config) { c.Block = true }) }

// WithAcks makes a subscription whose events are settled by
// events.Subscription.Ack, as a durable subscription's are: the transport
// publishes them with Feed.PublishWithAck, and Ack hands each one back to
// the transport once. Such a subscription never drops an event: a full
// buffer waits for the consumer, as WithBlocking (the transport bounds what
// is in flight, with the broker's prefetch, so that it need not wait).
func WithAcks() Option { return option(func(c *evfeed.Config) { c.Acks, c.Block = true, true }) }

// WithErrorHandler sets a function called with events.ErrSlowConsumer when
// drops begin (once per slow period), with the decode error of every
// malformed body (it wraps events.ErrMalformed), and with the error of an
// Ack that events.Run made and that failed. It runs on the goroutine that
// publishes (or that runs Run), with no lock held: it must not block, but
// it may call the subscription's methods, Close included. A nil f means no
// handler.
func WithErrorHandler(f func(error)) Option {
	return option(func(c *evfeed.Config) { c.OnError = f })
}

// Feed is the transport's side of a Subscription. Its methods are safe for
// concurrent use.
type Feed struct {
	f   evfeed.Feed[events.Event]
	sub *events.Subscription
}

// New returns a subscription and the feed that fills it. onClose, if not
// nil, is called once when the consumer closes the subscription (the
// transport unsubscribes there; Close returns its error); by then C is
// closed and no Publish is in progress.
func New(onClose func() error, opts ...Option) (*events.Subscription, *Feed) {
	c := evfeed.Config{OnClose: onClose}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	sub, f := events.NewSubscription(c)
	return sub, &Feed{f: f, sub: sub}
}

// Publish decodes body (events.Decode) and queues the event with its topic
// and receive time. It never blocks, unless the subscription was made
// WithBlocking or WithAcks (then it waits for room or for the end of the
// subscription). It reports whether the event was queued: false for an
// event dropped because the buffer was full (counted, Dropped), for a
// malformed body (counted, Malformed, and reported to the error handler),
// and after the subscription ended, when it does nothing.
func (f *Feed) Publish(topic string, body []byte, received time.Time) bool {
	return f.f.Publish(topic, body, received)
}

// PublishWithAck is Publish for a subscription made WithAcks: the event
// carries redelivered (events.Event.Redelivered) and ack, the function that
// acknowledges this one delivery to the broker. Subscription.Ack calls ack
// for this subscription's own events only, and never again once it has
// returned nil, so a transport cannot be made to acknowledge a delivery
// twice; after an error it may be called again (the transport must then
// still know whether the delivery can be acknowledged: a delivery of a
// connection that has since dropped cannot, and ack must send nothing and
// return an error). ack runs on the goroutine that calls Ack. A malformed
// body is acked at once, so that the broker does not deliver it again and
// again. A nil ack publishes an event that needs no acknowledgement.
func (f *Feed) PublishWithAck(topic string, body []byte, received time.Time, redelivered bool, ack func() error) bool {
	return f.f.PublishWithAck(topic, body, received, redelivered, ack)
}

// PublishEvent queues an already decoded event, as Publish does.
func (f *Feed) PublishEvent(ev events.Event) bool { return f.f.PublishEvent(ev) }

// End ends the subscription with err (nil is taken as events.ErrEnded):
// Err returns it, then C is closed after the events already buffered. It
// does not call onClose. Later calls, and calls after Close, do nothing.
// It never waits for the consumer.
func (f *Feed) End(err error) { f.f.End(err) }

// Done returns a channel closed when the consumer closes the subscription.
func (f *Feed) Done() <-chan struct{} { return f.f.Done() }

// Subscription returns the subscription this feed fills.
func (f *Feed) Subscription() *events.Subscription { return f.sub }
