package stompx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// SubscribeDurable subscribes to topics through a durable queue that the
// broker keeps for name (1-64 of [A-Za-z0-9._-]; the broker's queue is
// "iv.events.<name>", so no name can reach a platform queue such as
// /queue/config). The queue outlives the transport: events published while
// no consumer is connected wait in it. Every transport, in any process,
// that subscribes with the same name shares the queue, and each event goes
// to one of them.
//
// Events are acknowledged to the broker one by one, only when the consumer
// acks them (Subscription.Ack, or events.Run once its sinks have taken the
// event): an event handed to a consumer that dies before acking is
// delivered again, to it or to another, with Event.Redelivered set. The
// SDK never drops an event of a durable subscription: the broker sends at
// most the prefetch count (WithPrefetch) of unacknowledged events to this
// subscription, whatever the number of topics, and the subscription's
// buffer holds them all. A consumer that stops acking stops receiving.
//
// Subscribing a name again with other topics binds those too (bindings
// accumulate until DeleteDurable). Whatever the number of topics, the
// subscription is one consumer of the queue, so events arrive in the
// queue's order (each agent's in the order published) when it is the
// queue's only consumer (WithSingleActive). With several topics, a short
// connection of its own declares the queue and binds them first; the
// events it took meanwhile (one per topic at most) are delivered first,
// marked redelivered, and the queue is then consumed by name. Event.Topic
// is the topic each event was published to. Options
// that differ from the existing queue's fail with an error wrapping
// ErrDurableMismatch, naming the differing argument, and disturb none of
// the transport's other calls or subscriptions: the durable subscription
// has a STOMP connection of its own, to the broker the transport is
// connected to.
//
// SubscribeDurable returns once the broker has confirmed the
// subscription. When its connection drops, the subscription reconnects by
// itself as the transport does (WithAddrs, backoff, WithMaxReconnects,
// WithoutReconnect) and resubscribes behind the same value; the events
// that were in flight are delivered again, and acking one of the old
// connection fails with an error wrapping ivclient.ErrConnectionLost. The
// subscription ends when the consumer closes it (its unacknowledged
// events go back to the queue), when the transport closes (Err wraps
// ivclient.ErrClosed), when reconnection gives up (ivclient.ErrConnectionLost),
// when a resubscription meets other queue arguments (ErrDurableMismatch), or
// when the queue is deleted (DeleteDurable, from any process).
//
// The broker is recognised by the CONNECTED frame's server header:
// RabbitMQ and ivtest's broker support this; on other brokers, ActiveMQ
// included (its durable topic subscriptions allow one consumer per name,
// not a shared queue), it fails at once with an error wrapping
// ivclient.ErrNotSupported.
func (t *Transport) SubscribeDurable(ctx context.Context, name string, topics []string, opts ...DurableOption) (*events.Subscription, error) {
	const op = "SubscribeDurable"
	list, o, addr, err := t.durableArgs(ctx, op, name, topics, opts)
	if err != nil {
		return nil, err
	}
	ds := newDurableSub(t, name, list, o)
	feed, err := events.NewFeed(events.WithUnsubscribe(ds.onClose),
		events.WithBuffer(max(t.opts.eventBuffer, o.prefetch)),
		events.WithAcks(),
		events.WithErrorHandler(ds.onError))
	if err != nil {
		return nil, errs.Wrap("stompx: "+op, err, "", nil)
	}
	ds.sub, ds.feed = feed.Subscription(), feed
	if o.onActive != nil {
		ds.roles = newRoleNotifier(o.onActive)
		if !t.spawn(ds.roles.run) {
			ds.sub.Close()
			return nil, errs.Wrap("stompx: "+op, errClosed, "", nil)
		}
	}

	dc, _, stop, err := ds.open(ctx, addr)
	standby := errors.Is(err, errStandby)
	if err != nil && !standby {
		ds.sub.Close()
		return nil, errs.Wrap("stompx: "+op, err, "", nil)
	}
	if standby {
		ds.roles.set(false)
	} else {
		stop()
		// Current and registered before SubscribeDurable returns, so that
		// a Close right after closes this connection.
		ds.install(dc)
	}
	idx := t.addrIndex(addr)
	if !t.subs.addDurable(ds) || !t.spawn(func() { ds.run(dc, idx) }) {
		ds.sub.Close()
		if dc != nil {
			dc.abort(errClosed)
		}
		return nil, errs.Wrap("stompx: "+op, errClosed, "", nil)
	}
	t.log.Debug("stompx: durable subscription", slog.String("queue", ds.queue), slog.Int("topics", len(list)),
		slog.Int("prefetch", o.prefetch))
	return ds.sub, nil
}

// durableArgs checks the arguments of SubscribeDurable and DeleteDurable
// (op; topics nil for DeleteDurable) and waits for the transport's
// connection within ctx, to learn the broker and its address.
func (t *Transport) durableArgs(ctx context.Context, op, name string, topics []string, opts []DurableOption) ([]string, *durableOptions, string, error) {
	prefix := "stompx: " + op
	if ctx == nil {
		return nil, nil, "", errs.Wrap(prefix, ivclient.ErrInvalidArgument, "nil context", nil)
	}
	if !validDurableName(name) {
		return nil, nil, "", errs.Wrap(prefix, ivclient.ErrInvalidArgument,
			fmt.Sprintf("name %q must be 1-64 of [A-Za-z0-9._-]", redactDest(name)), nil)
	}
	var list []string
	if topics != nil {
		var err error
		if list, err = t.checkTopics(op, topics); err != nil {
			return nil, nil, "", err
		}
	}
	o, err := parseDurableOptions(op, opts)
	if err != nil {
		return nil, nil, "", err
	}
	if o.prefetch == 0 {
		o.prefetch = DefaultDurablePrefetch
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, "", errs.Wrap(prefix, err, "", nil)
	}
	s, err := t.session(ctx)
	if err != nil {
		return nil, nil, "", errs.Wrap(prefix, err, "", nil)
	}
	if !s.pub.broker.durable() {
		return nil, nil, "", errs.Wrap(prefix, ivclient.ErrNotSupported, "durable subscriptions need RabbitMQ (or ivtest's broker)", nil)
	}
	return list, o, s.addr, nil
}

func newDurableSub(t *Transport, name string, topics []string, o *durableOptions) *durableSub {
	ds := &durableSub{t: t, name: name, queue: durablePrefix + name, topics: topics, opts: o}
	ds.ctx, ds.cancel = context.WithCancel(t.ctx)
	return ds
}

// durableSub is the transport's side of one durable subscription: its
// queue, its topics and its own connection, replaced on reconnection.
type durableSub struct {
	t      *Transport
	name   string
	queue  string
	topics []string
	opts   *durableOptions
	sub    *events.Subscription
	feed   *events.Feed

	ctx    context.Context // ends with the transport or the subscription
	cancel context.CancelFunc

	roles  *roleNotifier // WithActiveChange; nil without
	binder bool          // declares and binds only: what it receives is kept (keep), never delivered

	mu     sync.Mutex
	cur    *durableConn // nil while reconnecting or a standby
	closed bool         // the subscription was closed (by its consumer or Close)
}

// run owns the subscription's connection: when it drops, it reconnects as
// the transport does and resubscribes; a standby (dc nil) tries to become
// active. It ends the subscription when reconnection is off or gives up,
// or the broker refuses it. The consumer's Close (onClose) and the
// transport's (end) end it themselves.
func (ds *durableSub) run(dc *durableConn, idx int) {
	t := ds.t
	defer t.subs.removeDurable(ds)
	for {
		var next *durableConn
		var err error
		if dc == nil {
			next, idx, err = ds.standby(idx)
		} else {
			select {
			case <-dc.done:
			case <-ds.ctx.Done():
				return
			}
			ds.roles.lost()
			if ds.detach() {
				return
			}
			if err = dc.verdict(); err == nil && ds.ctx.Err() != nil {
				return
			}
			if err == nil {
				err = t.connectionLost("stompx: durable subscription lost its connection", dc.addr, dc.cause,
					slog.String("queue", ds.queue))
				if err == nil {
					next, idx, err = ds.reconnect(t.addrIndex(dc.addr), dc.cause)
				}
			}
		}
		switch {
		case errors.Is(err, errStandby):
			ds.roles.set(false)
			dc = nil
			continue
		case err != nil:
			t.log.Warn("stompx: durable subscription ended", slog.String("queue", ds.queue), slog.String("error", err.Error()))
			ds.endRun(err)
			return
		case next == nil:
			return // closed meanwhile
		}
		dc = next
	}
}

// detach forgets the current connection, which has ended; true means the
// subscription was closed.
func (ds *durableSub) detach() bool {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	ds.cur = nil
	return ds.closed
}

// endRun ends the subscription from run: Err wraps err.
func (ds *durableSub) endRun(err error) {
	ds.feed.End(err)
	ds.roles.end()
}

// install makes dc current unless the subscription was closed meanwhile.
func (ds *durableSub) install(dc *durableConn) bool {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.closed {
		return false
	}
	ds.cur = dc
	return true
}

// finalDurable reports whether a failed connection attempt of a durable
// subscription must not be retried: a refusal (ErrDurableMismatch,
// ErrNotSupported), the end of the transport, or the lock held by another
// consumer (errStandby: the subscription waits as a standby).
func finalDurable(err error) bool {
	return errors.Is(err, ErrDurableMismatch) || errors.Is(err, ivclient.ErrNotSupported) ||
		errors.Is(err, ivclient.ErrClosed) || errors.Is(err, errStandby)
}

// reconnect connects again (Transport.redial) after the loss of the
// connection to addrs[lost] (lastErr), and resubscribes. It returns nil
// when the subscription was closed meanwhile, and errStandby when another
// consumer of the name is active; and the index of the address it tried
// last, where a standby goes on trying (not the lost one, which may be a
// dead node).
func (ds *durableSub) reconnect(lost int, lastErr string) (*durableConn, int, error) {
	t := ds.t
	var next *durableConn
	at := lost
	err := t.redial(ds.ctx, lost, lastErr, finalDurable, func(ctx context.Context, idx int) error {
		var err error
		at = idx
		next, err = ds.connect(ctx, t.addrs[idx])
		return err
	}, "stompx: durable resubscription failed", slog.String("queue", ds.queue))
	switch {
	case ds.ctx.Err() != nil:
		if next != nil {
			next.abort(errClosed)
		}
		return nil, at, nil
	case err != nil:
		return nil, at, err
	case !ds.install(next):
		next.close()
		return nil, at, nil
	}
	t.log.Info("stompx: durable subscription restored", slog.String("queue", ds.queue), slog.String("addr", next.addr))
	return next, at, nil
}

// end ends the subscription for Close: its Err wraps err, and its
// connection, returned, is for the caller to close.
func (ds *durableSub) end(err error) *conn {
	ds.mu.Lock()
	ds.closed = true
	dc := ds.cur
	ds.cur = nil
	ds.mu.Unlock()
	ds.cancel()
	ds.feed.End(err)
	ds.roles.end()
	if dc == nil {
		return nil
	}
	return dc.conn
}

func (ds *durableSub) onError(err error) {
	if errors.Is(err, events.ErrMalformed) {
		ds.t.stats.durableMalformed.Add(1)
	}
	ds.t.log.Debug("stompx: durable subscription", slog.String("queue", ds.queue), slog.String("error", ds.t.red.redact(err.Error())))
}

// onClose runs when the consumer closes the subscription: its connection
// is closed gracefully (bounded), so that the broker takes back the
// unacknowledged events at once and delivers them to another consumer.
func (ds *durableSub) onClose() error {
	ds.mu.Lock()
	ds.closed = true
	dc := ds.cur
	ds.cur = nil
	ds.mu.Unlock()
	ds.cancel()
	ds.t.subs.removeDurable(ds)
	if dc != nil {
		dc.close()
	}
	ds.roles.end()
	return nil
}
