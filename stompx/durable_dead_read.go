package stompx

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	"github.com/google/uuid"

	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// Reading dead letters. STOMP tells no queue's length, and a reader that
// took the queue as read once nothing came for a moment could stop short
// on a slow link, silently. So each operation (DeadLetters,
// ReplayDeadLetters, PurgeDeadLetters) marks the end of what it reads: it
// subscribes to the dead letters, then SENDs an end marker of its own (an
// empty, transient message with the header x-iv-end: <uuid>) to the same
// queue, confirmed, and reads until its marker comes; the dead letters
// before it are every one the queue held (a letter rejected later may come
// after it, for the next operation). Only one operation of a name runs at
// a time: each holds the name's dead-letter lock, an exclusive queue
// iv.dead-lock.<name> on its connection (the broker refuses it to any
// other, and drops it with its connection, whatever ends it); another
// waits for it, retrying. No other reader holds letters back from it, and
// any other end marker it meets is one an operation left behind (stopped
// at max, or killed): it removes it. A marker is never listed, replayed or
// counted; being transient, a broker restart drops those left.

// ErrDurableNotFound is wrapped by the error of ReplayDeadLetters when the
// durable name's queue does not exist: the broker would drop what is sent
// to it (RabbitMQ does, and confirms the SEND all the same). Make the
// queue by subscribing to the name again (SubscribeDurable, with its
// options), then replay. The dead letters are kept.
var ErrDurableNotFound = errors.New("stompx: durable queue not found")

const (
	// deadEnd is the header of an end marker (see Reading dead letters).
	deadEnd = "x-iv-end"
	// deadLockPrefix names the dead-letter lock of a name.
	deadLockPrefix = "iv.dead-lock."
	// deadLockRetry is how long an operation waits before it tries the
	// dead-letter lock again.
	deadLockRetry = 250 * time.Millisecond
)

// deadReader is a connection that consumes a name's dead letters.
type deadReader struct {
	t    *Transport
	ctx  context.Context // the operation's
	addr string
	dc   *durableConn
	ss   *stomp.Subscription
	msgs chan *stomp.Message
	end  string // the id of its end marker
	done bool   // its end marker came
}

// deadLetterOp checks the arguments of op and runs f on a connection that
// holds name's dead-letter lock and consumes name's dead letters, oldest
// first, prefetch at a time. Whatever f leaves unsettled goes back to the
// queue, in its place, when the connection closes. The transport's Close
// cuts it short: it then fails with an error wrapping ivclient.ErrClosed.
func (t *Transport) deadLetterOp(ctx context.Context, op, name string, prefetch int, f func(r *deadReader) error) error {
	_, _, addr, err := t.durableArgs(ctx, op, name, nil, nil)
	if err != nil {
		return err
	}
	ds := newDurableSub(t, name, nil, &durableOptions{prefetch: prefetch})
	ds.queue = deadPrefix + name
	defer ds.cancel()
	// The work is bounded by ctx and by the transport's life (ds.ctx):
	// Close aborts the connection and returns without waiting for it.
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	defer context.AfterFunc(ds.ctx, stop)()
	err = t.deadLetterWork(wctx, addr, ds, f)
	switch {
	case err == nil:
		return nil
	case ctx.Err() == nil && t.ctx.Err() != nil:
		err = errClosed
	case ctxErr(ctx) != nil && !errors.Is(err, ctxErr(ctx)):
		err = ctxErr(ctx)
	}
	return errs.Wrap("stompx: "+op, err, "", nil)
}

// deadLetterWork runs f on a reader of ds's queue (deadLetterTry), waiting
// within ctx for the dead-letter lock while another operation holds it.
func (t *Transport) deadLetterWork(ctx context.Context, addr string, ds *durableSub, f func(r *deadReader) error) error {
	for {
		err := t.deadLetterTry(ctx, addr, ds, f)
		if !errors.Is(err, errStandby) {
			return err
		}
		tm := time.NewTimer(deadLockRetry)
		select {
		case <-tm.C:
		case <-ctx.Done():
			tm.Stop()
			return errs.Wrap("stompx", ctxErr(ctx), "waiting for another operation on the dead letters of "+ds.name+" to end", nil)
		}
	}
}

// deadLetterTry opens a reader of ds's queue at addr within ctx and the
// connect timeout and runs f; ctx's end aborts it. It fails with
// errStandby when another operation holds the lock.
func (t *Transport) deadLetterTry(ctx context.Context, addr string, ds *durableSub, f func(r *deadReader) error) error {
	cctx, cancel := context.WithTimeout(ctx, t.opts.connectTimeout)
	defer cancel()
	c, err := t.dial(cctx, addr)
	if err != nil {
		return err
	}
	prefetch := ds.opts.prefetch
	r := &deadReader{t: t, ctx: ctx, addr: addr, dc: &durableConn{conn: c, ds: ds},
		msgs: make(chan *stomp.Message, prefetch), end: uuid.NewString()}
	defer r.dc.close()
	defer c.abortOnDone(ctx, "dead letters")()
	if err := r.open(prefetch); err != nil {
		return err
	}
	return f(r)
}

// open takes the dead-letter lock, consumes the dead-letter queue and
// marks its end, each confirmed.
func (r *deadReader) open(prefetch int) error {
	dc := r.dc
	ok := dc.subscribeSync() && r.lock()
	if ok {
		var err error
		r.ss, err = dc.stomp.Subscribe("/queue/"+dc.ds.queue, stomp.AckClientIndividual,
			stomp.SubscribeOpt.Header("prefetch-count", strconv.Itoa(prefetch)))
		if err != nil {
			dc.abort(err)
			ok = false
		} else {
			dc.startPump(r.pump)
			ok = dc.confirm()
		}
	}
	if ok {
		return dc.sendConfirmed("/queue/"+dc.ds.queue, nil, stomp.SendOpt.Header(deadEnd, r.end))
	}
	if fatal := dc.verdict(); fatal != nil {
		return fatal
	}
	return lostError(dc.cause)
}

// lock subscribes, exclusively, to the name's dead-letter lock, confirmed.
// False means the connection ended first: refused (verdict says
// errStandby) or lost.
func (r *deadReader) lock() bool {
	dc := r.dc
	ss, err := dc.subscribeExclusive(deadLockPrefix + dc.ds.name)
	if err != nil {
		dc.abort(err)
		return false
	}
	dc.startPump(func() { dc.drain(ss, dc.brokerError) })
	return dc.confirm()
}

// pump hands the dead letters to next, until go-stomp lets go of the
// subscription (conn.forEach). msgs holds the prefetch: it never blocks.
func (r *deadReader) pump() {
	r.dc.forEach(r.ss, func(m *stomp.Message) {
		if m.Err != nil {
			r.dc.brokerError(m.Err)
			return
		}
		r.msgs <- m
	})
}

// next returns the next dead letter, nil once the reader's end marker
// came. It removes the markers other operations left.
func (r *deadReader) next() (*stomp.Message, error) {
	for !r.done {
		var m *stomp.Message
		select {
		case m = <-r.msgs:
		case <-r.dc.done:
			select {
			case m = <-r.msgs:
			default:
				return nil, lostError(r.dc.cause)
			}
		}
		id, marker := m.Header.Contains(deadEnd)
		switch {
		case !marker:
			return m, nil
		case id == r.end:
			r.done = true
		}
		if err := r.ack(m); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// ack settles one dead letter (it leaves the queue).
func (r *deadReader) ack(m *stomp.Message) error {
	ackID, _ := m.Header.Contains(frame.Ack)
	msgID, _ := m.Header.Contains(frame.MessageId)
	return r.dc.ack(r.ss, ackID, msgID)
}

// queueExists checks that the name's events queue exists, on a connection
// of its own: a SUBSCRIBE to /amq/queue/<queue> consumes an existing
// queue and is refused for a missing one (RabbitMQ: ERROR not_found, then
// it closes the connection). STOMP has no other way to ask without making
// the queue. The consumer takes at most one event (prefetch 1, never
// acked) for the round trip that confirms it; the broker puts it back in
// its place when the connection closes, marked redelivered. It is
// cancelled (UNSUBSCRIBE, confirmed) before queueExists returns.
func (r *deadReader) queueExists() error {
	t, queue := r.t, durablePrefix+r.dc.ds.name
	cctx, cancel := context.WithTimeout(r.ctx, t.opts.connectTimeout)
	defer cancel()
	c, err := t.dial(cctx, r.addr)
	if err != nil {
		return err
	}
	defer c.close()
	defer c.abortOnDone(cctx, "checking "+queue)()
	pump, err := c.syncSubscribe(c.abort)
	ok := err == nil && c.spawn(pump)
	if ok {
		var ss *stomp.Subscription
		ss, err = c.stomp.Subscribe("/amq/queue/"+queue, stomp.AckClientIndividual,
			stomp.SubscribeOpt.Header("prefetch-count", "1"))
		ok = err == nil && c.spawn(func() { c.drain(ss, c.abort) }) && c.confirm()
		// Cancelled, confirmed, before the replay sends anything: RabbitMQ
		// answers a DISCONNECT before it drops the connection's
		// consumers, and one still there would take a replayed event.
		if ok {
			err = c.unsubscribe(ss)
			ok = err == nil && c.confirm()
		}
	}
	if err != nil {
		c.abort(err)
	}
	if ok {
		return nil
	}
	if f := c.raw.brokerError(); f != nil {
		if isNotFound(f) {
			return errs.Wrap("stompx", ErrDurableNotFound, fmt.Sprintf("%s does not exist (never made, or removed by DeleteDurable, "+
				"WithIdleExpiry or the broker's operator), and the broker drops what is sent to a missing queue: "+
				"subscribe to %s again (SubscribeDurable, with its options) to make it, then replay; the dead letters are kept", queue, r.dc.ds.name), nil)
		}
		return errors.New("stompx: checking " + queue + ": broker ERROR: " + t.errorText(f))
	}
	return lostError(c.cause)
}

// isNotFound tells an ERROR frame that refuses a missing queue.
func isNotFound(f *frame.Frame) bool {
	return strings.Contains(strings.ToUpper(f.Header.Get(frame.Message)+" "+string(f.Body)), "NOT_FOUND")
}
