// Package evfeed is the contract between package events, which owns
// Subscription, and package events/eventfeed, with which a transport fills
// one. It holds no logic: events implements Feed, eventfeed wraps it.
package evfeed

import "time"

// Config is a subscription's configuration, as eventfeed's options set it.
type Config struct {
	Buffer  int          // events held for the consumer; 0 or less means events.DefaultBuffer
	Block   bool         // a full buffer waits for the consumer instead of dropping
	Acks    bool         // events are settled by Subscription.Ack (implies Block)
	OnError func(error)  // told of ErrSlowConsumer, malformed bodies and failed Run acks
	OnClose func() error // called once when the consumer closes the subscription
}

// Feed is the transport's side of a subscription; E is events.Event.
type Feed[E any] interface {
	Publish(topic string, body []byte, received time.Time) bool
	PublishWithAck(topic string, body []byte, received time.Time, redelivered bool, ack func() error) bool
	PublishEvent(ev E) bool
	End(err error)
	Done() <-chan struct{}
}
