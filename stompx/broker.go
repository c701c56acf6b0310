package stompx

import (
	"strconv"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
)

// brokerKind is what the transport knows of a broker, from the server
// header of its CONNECTED frame ("RabbitMQ/3.10.8", "ActiveMQ/5.17.2",
// "ivtest/1"). It decides the request expiry header and whether durable
// subscriptions are possible.
type brokerKind int

const (
	brokerUnknown  brokerKind = iota
	brokerRabbitMQ            // RabbitMQ's STOMP plugin
	brokerIVTest              // ivtest's broker, which has RabbitMQ's semantics
	brokerActiveMQ            // ActiveMQ 5 and Artemis
)

// detectBroker classifies a CONNECTED frame's server header.
func detectBroker(server string) brokerKind {
	name, _, _ := strings.Cut(server, "/")
	switch {
	case strings.EqualFold(name, "RabbitMQ"):
		return brokerRabbitMQ
	case name == "ivtest":
		return brokerIVTest
	case strings.HasPrefix(strings.ToLower(name), "activemq"):
		return brokerActiveMQ
	}
	return brokerUnknown
}

// durable reports whether SubscribeDurable works on the broker: named
// durable queues bound to topics (x-queue-name), shared consumers,
// client-individual acks, prefetch-count and queue arguments.
func (k brokerKind) durable() bool { return k == brokerRabbitMQ || k == brokerIVTest }

// WithoutRequestExpiry makes the transport send requests without an
// expiry header. By default every request carries the broker's expiry
// header, computed from the call's context deadline at the moment the
// request is sent (after any wait for a reconnection): RabbitMQ's (and
// ivtest's) "expiration", in milliseconds from now, or ActiveMQ's
// "expires", in absolute milliseconds since the epoch (which assumes that
// the clocks agree). A request still waiting in the platform's queue when
// its caller gives up is then dropped by the broker, never executed later:
// a NewCall whose caller timed out does not dial a customer when the
// platform comes back. A call without a deadline gets no header, and so do
// requests to a broker the transport does not recognise.
func WithoutRequestExpiry() Option {
	return func(o *options) error { o.noExpiry = true; return nil }
}

// expiryHeader returns the SEND option that makes the broker drop a
// request not consumed by deadline, nil when none applies. ok is false
// when the deadline has already passed: the request must not be sent.
func (t *Transport) expiryHeader(k brokerKind, deadline time.Time) (opt func(*frame.Frame) error, ok bool) {
	if deadline.IsZero() {
		return nil, true
	}
	left := time.Until(deadline)
	if left <= 0 {
		return nil, false
	}
	if t.opts.noExpiry {
		return nil, true
	}
	switch k {
	case brokerRabbitMQ, brokerIVTest:
		ms := (left + time.Millisecond - 1) / time.Millisecond // round up: never 0
		return stomp.SendOpt.Header("expiration", strconv.FormatInt(int64(ms), 10)), true
	case brokerActiveMQ:
		return stomp.SendOpt.Header("expires", strconv.FormatInt(deadline.UnixMilli()+1, 10)), true
	}
	return nil, true
}
