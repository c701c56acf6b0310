package stompx

import (
	"context"
	"log/slog"

	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// DeleteDurable removes the durable queue of name, with its waiting
// events and its bindings, and name's dead letters. opts must be those the queue was made with (the
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
	o.singleActive, o.onActive = false, nil // the lock queue goes with its holder's connection
	if err := t.deleteQueue(ctx, addr, newDurableSub(t, name, []string{deleteTopic}, o)); err != nil {
		return errs.Wrap("stompx: "+op, err, "", nil)
	}
	dead := newDurableSub(t, name, []string{deleteTopic}, &durableOptions{prefetch: 1})
	dead.queue = deadPrefix + name
	if err := t.deleteQueue(ctx, addr, dead); err != nil {
		return errs.Wrap("stompx: "+op+": dead letters", err, "", nil)
	}
	return nil
}

// deleteQueue deletes the queue of ds (ds.queue, declared with ds.opts),
// on a connection of its own, which receives at most one message
// (prefetch 1): it goes with the queue.
func (t *Transport) deleteQueue(ctx context.Context, addr string, ds *durableSub) error {
	defer ds.cancel() // no feed: the pump settles nothing (durableConn.pump)
	dc, cctx, stop, err := ds.open(ctx, addr)
	if err != nil {
		return err
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
			return errClosed
		}
		if cerr := ctxErr(cctx); cerr != nil {
			return cerr
		}
		if fatal := dc.verdict(); fatal != nil {
			return fatal
		}
		return lostError(dc.cause)
	default:
	}
	t.log.Debug("stompx: durable queue deleted", slog.String("queue", ds.queue))
	return nil
}
