package stompx

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

const (
	// durablePrefix is prepended to a durable name to make the broker's
	// queue name, so that no name can reach a platform queue.
	durablePrefix = "iv.events."
	// maxPrefetch is the largest prefetch-count RabbitMQ takes (AMQP's
	// basic.qos prefetch-count is 16 bits).
	maxPrefetch = 65535
	// lockPrefix and deadPrefix name a durable name's lock queue
	// (WithSingleActive) and dead-letter queue (Subscription.Reject).
	lockPrefix = "iv.lock."
	deadPrefix = "iv.dead."
	// deleteTopic is the topic DeleteDurable binds the queue to, to
	// reach it; nothing is published there.
	deleteTopic = "/topic/instantvoice-go.delete"
)

// ErrDurableMismatch is wrapped by the error of SubscribeDurable and
// DeleteDurable when the broker already has the durable queue with other
// arguments (options) than those given. The error names the differing
// argument, as the broker does (x-max-length, x-message-ttl, x-expires,
// x-queue-type, durable, auto_delete), and the option that sets it. Only
// the durable subscription's own connection is affected: the transport's
// calls and other subscriptions carry on.
var ErrDurableMismatch = errors.New("stompx: durable queue exists with other arguments")

// DurableOption configures a durable subscription (SubscribeDurable) and
// names the queue arguments DeleteDurable must repeat. Every subscriber of
// a name must give the same options, or it fails with ErrDurableMismatch;
// WithPrefetch is the exception, as it is not a queue argument.
type DurableOption func(*durableOptions) error

type durableOptions struct {
	quorum       bool
	maxBacklog   int
	ttl          time.Duration
	idle         time.Duration
	prefetch     int
	singleActive bool
	onActive     func(active bool)
}

// DefaultDurablePrefetch is a durable subscription's prefetch without
// WithPrefetch: enough for events.ConsumeCalls to hold every event of
// 5,000 calls in progress (about 4 each before their HANGUP) with room for
// the events that finish them. Its cost is memory: the subscription's
// buffer holds that many events (about 5.5 MB of it is allocated when the
// subscription is made), and the events in flight hold their bodies
// (a few hundred bytes each: some 10 MB when all 30,000 are out).
const DefaultDurablePrefetch = 30000

// WithQuorumQueue makes the queue a quorum queue: replicated across the
// nodes of a RabbitMQ cluster (it survives the loss of a minority of
// them), and keeping every event across a broker restart. A classic queue,
// the default, keeps across a restart only the events published as
// persistent, which the platform's are not. One window remains, RabbitMQ's
// own (3.10): a new quorum queue's registration reaches the disk within
// about 5 s, and a crash of every node before that brings it back without a
// leader, unusable (subscribing times out) and undeletable; make durable
// queues ahead of time, as a deployment step.
func WithQuorumQueue() DurableOption {
	return func(o *durableOptions) error { o.quorum = true; return nil }
}

// WithMaxBacklog bounds the events the queue holds (x-max-length): past n,
// the broker drops the oldest. The default is no bound.
func WithMaxBacklog(n int) DurableOption {
	return func(o *durableOptions) error {
		if n < 1 {
			return optErr("WithMaxBacklog", "the backlog must be at least 1 event, got %d", n)
		}
		o.maxBacklog = n
		return nil
	}
}

// WithBacklogTTL makes the broker drop the events that have waited in the
// queue longer than d (x-message-ttl, whole milliseconds, at least 1ms).
// The default is no limit.
func WithBacklogTTL(d time.Duration) DurableOption {
	return func(o *durableOptions) error {
		if d < time.Millisecond {
			return optErr("WithBacklogTTL", "the TTL must be at least 1ms, got %v", d)
		}
		o.ttl = d
		return nil
	}
}

// WithIdleExpiry makes the broker delete the queue, with its events, once
// it has had no consumer for d (x-expires, whole milliseconds, at least
// 1ms): an abandoned name cannot fill the broker. The default is never.
func WithIdleExpiry(d time.Duration) DurableOption {
	return func(o *durableOptions) error {
		if d < time.Millisecond {
			return optErr("WithIdleExpiry", "the expiry must be at least 1ms, got %v", d)
		}
		o.idle = d
		return nil
	}
}

// WithPrefetch sets how many unacknowledged events the broker sends this
// subscription at most (prefetch-count, 1-65535; default
// DefaultDurablePrefetch). It is also the subscription's buffer when
// larger than the event buffer, so that the events in flight always fit.
// Whatever the number of topics, the subscription is one consumer of its
// queue, with all of n. It is not a queue argument: subscribers of one
// name may differ.
func WithPrefetch(n int) DurableOption {
	return func(o *durableOptions) error {
		if n < 1 || n > maxPrefetch {
			return optErr("WithPrefetch", "the prefetch must be 1-%d, got %d", maxPrefetch, n)
		}
		o.prefetch = n
		return nil
	}
}

// WithSingleActive makes a durable subscription one of its name's
// consumers of which one at a time, the active one, receives events; the
// others wait as standbys, and one of them takes over when the active
// one's connection ends: within about a second when its process died, and
// once the broker notices when its network was cut (the heart-beat
// timeout: about twice WithHeartBeat's period, 20-30 s by default; lower it
// to take over sooner). The events of a name are then handled by one
// process at a time, in the order the broker holds them.
//
// The broker decides who is active: each consumer's connection first
// subscribes, exclusively, to a lock queue of the name (iv.lock.<name>,
// not durable, deleted with the connection that holds it), and only once
// the broker granted it, and 300 ms later a message sent to the lock queue
// by name came back to it, subscribes to the name's queue on the same
// connection (the check: when a cluster node dies, RabbitMQ 3.10 can take
// the lock queue's name from a holder that declared it again on another
// node, and grant it to a second consumer; stompx/DESIGN.md). A refused
// consumer (RabbitMQ answers RESOURCE_LOCKED and
// closes the connection) is a standby: it tries again on a fresh
// connection about once a second (every refused try is an error line in
// RabbitMQ's log). ivtest's broker behaves the same. Every consumer of a
// name uses WithSingleActive, or none does (a plain consumer of the same
// name is not detected: it just takes events). The queue's arguments do
// not change: a queue made without this option keeps working with it.
//
// SubscribeDurable returns as soon as the subscription is either the
// active consumer or a standby (WithActiveChange says which); a standby
// learns of a queue whose options differ (ErrDurableMismatch) only when it
// takes over, through the subscription's end. Once the active
// subscription's connection is lost it hands no further event to a
// handler of events.Consume or events.ConsumeCalls (they come again, to
// whoever takes over). DeleteDurable of such a name takes WithSingleActive
// among its options too.
func WithSingleActive() DurableOption {
	return func(o *durableOptions) error { o.singleActive = true; return nil }
}

// WithActiveChange calls f, in order on one goroutine: f(false) when the
// subscription starts as a standby, f(true) when it becomes the active
// consumer of its name, before its first event, and f(false) when it
// stops being it, Close included. Only with WithSingleActive. f should
// return promptly: the subscription waits for f(true) before it takes
// events.
func WithActiveChange(f func(active bool)) DurableOption {
	return func(o *durableOptions) error {
		if f == nil {
			return errors.New("WithActiveChange: nil function")
		}
		o.onActive = f
		return nil
	}
}

// parseDurableOptions applies opts for the function op
// (SubscribeDurable, DeleteDurable). A nil option or a bad value is an
// error wrapping ivclient.ErrInvalidArgument.
func parseDurableOptions(op string, opts []DurableOption) (*durableOptions, error) {
	o := &durableOptions{}
	for i, opt := range opts {
		if opt == nil {
			return nil, errs.Wrap("stompx: "+op, ivclient.ErrInvalidArgument, fmt.Sprintf("option %d is nil", i+1), nil)
		}
		if err := opt(o); err != nil {
			return nil, errs.Wrap("stompx: "+op, ivclient.ErrInvalidArgument, err.Error(), nil)
		}
	}
	if o.onActive != nil && !o.singleActive {
		return nil, errs.Wrap("stompx: "+op, ivclient.ErrInvalidArgument, "WithActiveChange: only with WithSingleActive", nil)
	}
	return o, nil
}

// queueHeaders are the SUBSCRIBE headers that declare the queue: they
// must be the same on every SUBSCRIBE of the name.
func (o *durableOptions) queueHeaders(queue string) []func(*frame.Frame) error {
	h := []func(*frame.Frame) error{
		stomp.SubscribeOpt.Header("durable", "true"),
		stomp.SubscribeOpt.Header("auto-delete", "false"),
		stomp.SubscribeOpt.Header("x-queue-name", queue),
	}
	if o.quorum {
		h = append(h, stomp.SubscribeOpt.Header("x-queue-type", "quorum"))
	}
	if o.maxBacklog > 0 {
		h = append(h, stomp.SubscribeOpt.Header("x-max-length", strconv.Itoa(o.maxBacklog)))
	}
	if o.ttl > 0 {
		h = append(h, stomp.SubscribeOpt.Header("x-message-ttl", strconv.FormatInt(o.ttl.Milliseconds(), 10)))
	}
	if o.idle > 0 {
		h = append(h, stomp.SubscribeOpt.Header("x-expires", strconv.FormatInt(o.idle.Milliseconds(), 10)))
	}
	return h
}

// validDurableName reports whether name is 1-64 of [A-Za-z0-9._-].
func validDurableName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// mismatchError names the differing argument from RabbitMQ's text, such
// as "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue
// 'iv.events.x' in vhost '/': received '6' but current is '5'".
func mismatchError(queue, body string) error {
	arg := "unknown"
	if _, rest, ok := strings.Cut(body, "inequivalent arg '"); ok {
		if a, _, ok := strings.Cut(rest, "'"); ok && a != "" {
			arg = a
		}
	}
	detail := ""
	if _, rest, ok := strings.Cut(body, "received "); ok {
		detail = " (received " + strings.TrimSpace(rest) + ")"
		if len(detail) > 160 {
			detail = detail[:160] + "...)"
		}
	}
	opt := map[string]string{
		"x-max-length":  "WithMaxBacklog",
		"x-message-ttl": "WithBacklogTTL",
		"x-expires":     "WithIdleExpiry",
		"x-queue-type":  "WithQuorumQueue",
	}[arg]
	if opt == "" {
		opt = "made by another client"
	} else {
		opt = "option " + opt
	}
	return fmt.Errorf("%w: queue %s: argument %s (%s)%s", ErrDurableMismatch, queue, arg, opt, detail)
}
