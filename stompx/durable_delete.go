package stompx

import (
	"context"
	"log/slog"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// DeleteDurable removes the durable queue of name, with its waiting
// events and its bindings. opts must be those the queue was made with (the
// broker needs them to reach it); a mismatch fails with an error wrapping
// ErrDurableMismatch. Deleting a queue that does not exist succeeds.
// Consumers of the queue, in any process, see their subscription end
// (Err wraps ivclient.ErrClosed). It works on a connection of its own, so
// that a refusal disturbs nothing else, and returns once the broker has
// confirmed the deletion. Like SubscribeDurable it fails with
// ivclient.ErrNotSupported on brokers other than RabbitMQ and ivtest's.
func (t *Transport) DeleteDurable(ctx context.Context, name string, opts ...DurableOption) error {
	const op = "DeleteDurable"
	_, o, addr, err := t.durableArgs(ctx, op, name, nil, opts)
	if err != nil {
		return err
	}
	o.prefetch = 1
	// A durableSub of its own, never returned: its connection receives at
	// most one event (prefetch 1), which goes with the queue.
	ds := newDurableSub(t, name, []string{deleteTopic}, o)
	defer ds.cancel()
	feed, err := events.NewFeed(events.WithBuffer(1), events.WithAcks())
	if err != nil {
		return errs.Wrap("stompx: "+op, err, "", nil)
	}
	ds.sub, ds.feed = feed.Subscription(), feed
	defer ds.sub.Close()
	dc, cctx, stop, err := ds.open(ctx, addr)
	if err != nil {
		return errs.Wrap("stompx: "+op, err, "", nil)
	}
	defer stop()
	defer dc.close()
	defer dc.abortOnDone(cctx, "deleting")()
	// UNSUBSCRIBE with durable:true and x-queue-name deletes the queue,
	// confirmed by a round trip, as the SUBSCRIBE was. The connection is
	// closed right after, so go-stomp's view of the subscription does not
	// matter.
	if err := dc.unsubscribe(dc.subs[0], "durable:true", "x-queue-name:"+ds.queue); err != nil {
		dc.abort(err)
	} else {
		dc.confirm()
	}
	select {
	case <-dc.done:
		if ctx.Err() == nil && t.ctx.Err() != nil {
			return errs.Wrap("stompx: "+op, errClosed, "", nil)
		}
		if cerr := ctxErr(cctx); cerr != nil {
			return errs.Wrap("stompx: "+op, cerr, "", nil)
		}
		if fatal := dc.verdict(); fatal != nil {
			return errs.Wrap("stompx: "+op, fatal, "", nil)
		}
		return errs.Wrap("stompx: "+op, lostError(dc.cause), "", nil)
	default:
	}
	t.log.Debug("stompx: durable queue deleted", slog.String("queue", ds.queue))
	return nil
}
