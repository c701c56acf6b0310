package stompx

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// Dead letters. A durable name's dead letters wait in a durable queue of
// their own, iv.dead.<name>, each with the body of the event as it was
// delivered and three headers: the cause, the time and the destination it
// arrived on. The name's queue keeps its arguments (a dead-letter exchange
// would change them, and every queue made before could not be subscribed
// to again): Subscription.Reject SENDs the event to /queue/iv.dead.<name>
// (which makes the queue when missing, as persistent message), confirmed
// by a round trip on the same connection, and only then ACKs the event.
// At least once: a crash between the two leaves the event both dead and
// still in the name's queue, delivered again.

// The headers of a dead letter.
const (
	deadCause = "x-iv-cause"
	deadAt    = "x-iv-rejected-at"
	deadDest  = "x-iv-destination"
)

// DeadLetter is an event that a consumer of a durable name gave up on
// (Subscription.Reject).
type DeadLetter struct {
	Event events.Event // as it was delivered: Raw, Agent, Type, ... (Received: when it was read back)
	Cause string       // the error text given to Reject
	At    time.Time    // when it was rejected
}

// rejectWith settles one delivery by moving it to the name's dead letters
// (see the package's dead letters above), on the connection that received
// it, settle being the delivery's ack, or does nothing, as ack.
func (dc *durableConn) rejectWith(dest string, body []byte, cause string, settle func() error) error {
	if err := dc.settleable("stompx: Reject"); err != nil {
		return err
	}
	if len(cause) > 1000 {
		cause = cause[:1000]
	}
	err := dc.sendConfirmed("/queue/"+deadPrefix+dc.ds.name, body,
		stomp.SendOpt.Header(deadCause, strings.ToValidUTF8(cause, "?")),
		stomp.SendOpt.Header(deadAt, time.Now().UTC().Format(time.RFC3339Nano)),
		stomp.SendOpt.Header(deadDest, dest),
		stomp.SendOpt.Header("persistent", "true"))
	if err != nil {
		return errs.Wrap("stompx: Reject", err, "", nil)
	}
	if err := settle(); err != nil {
		return errs.Wrap("stompx: Reject", nil, "dead-lettered, but the event could not be settled: the broker delivers it again", err)
	}
	return nil
}

// settleable returns the error of a settlement (op) that must send
// nothing: the subscription is closed, or its connection has ended.
func (dc *durableConn) settleable(op string) error {
	ds := dc.ds
	ds.mu.Lock()
	closed := ds.closed
	ds.mu.Unlock()
	if closed {
		return errs.Wrap(op, ivclient.ErrClosed, "subscription closed, the broker delivers the event again", nil)
	}
	select {
	case <-dc.done:
		return errs.Wrap(op, lostError(dc.cause), "the broker delivers the event again", nil)
	default:
		return nil
	}
}

// sendConfirmed sends body to dest and waits until the broker has handled
// it (confirm). A failure may still have sent it.
func (dc *durableConn) sendConfirmed(dest string, body []byte, opts ...func(*frame.Frame) error) error {
	dc.confirmMu.Lock()
	defer dc.confirmMu.Unlock()
	err := dc.stomp.Send(dest, "", body, opts...)
	switch {
	case err == stomp.ErrMsgSendTimeout:
		return errs.Wrap("", nil, "the connection is not writing; nothing sent, retry", err)
	case err != nil:
		dc.abort(err)
		return lostError(dc.cause)
	case !dc.confirmLocked():
		return lostError(dc.cause)
	}
	return nil
}

// deadReader is a connection that consumes a name's dead letters.
type deadReader struct {
	dc   *durableConn
	ss   *stomp.Subscription
	msgs chan *stomp.Message
}

// deadLetterOp checks the arguments of op (DeadLetters, ReplayDeadLetters,
// PurgeDeadLetters; max < 0 for none) and runs f on a connection that
// consumes name's dead letters, oldest first, at most max at a time
// (prefetch). Whatever f leaves unsettled goes back to the queue, in its
// place, when the connection closes. The transport's Close cuts it short:
// it then fails with an error wrapping ivclient.ErrClosed.
func (t *Transport) deadLetterOp(ctx context.Context, op, name string, max int, f func(r *deadReader) error) error {
	if max == 0 || max < -1 {
		return errs.Wrap("stompx: "+op, ivclient.ErrInvalidArgument, fmt.Sprintf("max must be at least 1, got %d", max), nil)
	}
	_, _, addr, err := t.durableArgs(ctx, op, name, nil, nil)
	if err != nil {
		return err
	}
	prefetch := maxPrefetch
	if max > 0 {
		prefetch = min(max, maxPrefetch)
	}
	ds := newDurableSub(t, name, nil, &durableOptions{prefetch: prefetch})
	ds.queue = deadPrefix + name
	defer ds.cancel()
	// The work is bounded by ctx and by the transport's life (ds.ctx):
	// Close aborts the connection and returns without waiting for it.
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	defer context.AfterFunc(ds.ctx, stop)()
	err = t.deadLetterWork(wctx, addr, ds, prefetch, f)
	switch {
	case err == nil:
		return nil
	case ctx.Err() == nil && t.ctx.Err() != nil:
		err = errClosed
	case ctxErr(ctx) != nil:
		err = ctxErr(ctx)
	}
	return errs.Wrap("stompx: "+op, err, "", nil)
}

// deadLetterWork opens ds's connection at addr within ctx and the connect
// timeout, consumes the dead-letter queue and runs f; ctx's end aborts it.
func (t *Transport) deadLetterWork(ctx context.Context, addr string, ds *durableSub, prefetch int, f func(r *deadReader) error) error {
	cctx, cancel := context.WithTimeout(ctx, t.opts.connectTimeout)
	defer cancel()
	c, err := t.dial(cctx, addr)
	if err != nil {
		return err
	}
	r := &deadReader{dc: &durableConn{conn: c, ds: ds}, msgs: make(chan *stomp.Message, prefetch)}
	defer r.dc.close()
	defer c.abortOnDone(ctx, "dead letters")()
	if err := r.subscribe(prefetch); err != nil {
		return err
	}
	return f(r)
}

// subscribe consumes the dead-letter queue, confirmed.
func (r *deadReader) subscribe(prefetch int) error {
	dc := r.dc
	ok := dc.subscribeSync()
	if ok {
		var err error
		r.ss, err = dc.stomp.Subscribe("/queue/"+dc.ds.queue, stomp.AckClientIndividual,
			stomp.SubscribeOpt.Header("prefetch-count", fmt.Sprint(prefetch)))
		if err != nil {
			dc.abort(err)
			ok = false
		} else {
			dc.startPump(r.pump)
			ok = dc.confirm()
		}
	}
	if ok {
		return nil
	}
	if fatal := dc.verdict(); fatal != nil {
		return fatal
	}
	return lostError(dc.cause)
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

// deadQuiet is how long a reader waits for one more dead letter before it
// takes the queue as read: the broker sends what it has at once.
const deadQuiet = 300 * time.Millisecond

// next returns the next dead letter, nil once none came for deadQuiet.
func (r *deadReader) next() (*stomp.Message, error) {
	tm := time.NewTimer(deadQuiet)
	defer tm.Stop()
	select {
	case m := <-r.msgs:
		return m, nil
	case <-tm.C:
		return nil, nil
	case <-r.dc.done:
		select {
		case m := <-r.msgs:
			return m, nil
		default:
		}
		return nil, lostError(r.dc.cause)
	}
}

// ack settles one dead letter (it leaves the queue).
func (r *deadReader) ack(m *stomp.Message) error {
	ackID, _ := m.Header.Contains(frame.Ack)
	msgID, _ := m.Header.Contains(frame.MessageId)
	return r.dc.ack(r.ss, ackID, msgID)
}

// deadLetter makes a DeadLetter of a message of the queue.
func deadLetter(m *stomp.Message) DeadLetter {
	ev, err := events.Decode(m.Body)
	if err != nil {
		ev = events.Event{Raw: m.Body}
	}
	ev.Topic, ev.Received = m.Header.Get(deadDest), time.Now()
	at, _ := time.Parse(time.RFC3339Nano, m.Header.Get(deadAt))
	return DeadLetter{Event: ev, Cause: m.Header.Get(deadCause), At: at}
}

// DeadLetters returns up to max of name's dead letters, oldest first, and
// leaves them in place. It reads them on a connection of its own, and
// takes the queue as read once no more came for a moment (300 ms).
func (t *Transport) DeadLetters(ctx context.Context, name string, max int) ([]DeadLetter, error) {
	var out []DeadLetter
	err := t.deadLetterOp(ctx, "DeadLetters", name, max, func(r *deadReader) error {
		for len(out) < max {
			m, err := r.next()
			if err != nil || m == nil {
				return err
			}
			out = append(out, deadLetter(m))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReplayDeadLetters moves up to max of name's dead letters, oldest first,
// back to name's queue, where its consumers receive them again (their
// Topic is then the queue's, /queue/iv.events.<name>); it returns how many
// moved. Each is sent to the queue, confirmed by the broker, and only then
// removed from the dead letters: none is lost or doubled by a crash at any
// point (at least once: a crash may leave one both replayed and still
// dead). The name's queue must exist (it does from the first
// SubscribeDurable until DeleteDurable or WithIdleExpiry removes it):
// the broker drops what is sent to a missing one.
func (t *Transport) ReplayDeadLetters(ctx context.Context, name string, max int) (int, error) {
	n := 0
	err := t.deadLetterOp(ctx, "ReplayDeadLetters", name, max, func(r *deadReader) error {
		for n < max {
			m, err := r.next()
			if err != nil || m == nil {
				return err
			}
			if err := r.dc.sendConfirmed("/amq/queue/"+durablePrefix+name, m.Body); err != nil {
				return err
			}
			if err := r.ack(m); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// PurgeDeadLetters deletes name's dead letters and returns how many there
// were.
func (t *Transport) PurgeDeadLetters(ctx context.Context, name string) (int, error) {
	n := 0
	err := t.deadLetterOp(ctx, "PurgeDeadLetters", name, -1, func(r *deadReader) error {
		for {
			m, err := r.next()
			if err != nil || m == nil {
				return err
			}
			if err := r.ack(m); err != nil {
				return err
			}
			n++
		}
	})
	return n, err
}
