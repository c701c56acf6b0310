package stompx

import (
	"context"
	"fmt"
	"math"
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

// Batches and limits of the dead-letter operations.
const (
	// maxDeadList is the most DeadLetters lists at once: it holds every
	// letter it lists, unsettled, and the prefetch (at most maxPrefetch)
	// must leave room for its end marker.
	maxDeadList = maxPrefetch - 1
	// replayWindow is ReplayDeadLetters' prefetch (it settles as it
	// goes).
	replayWindow = 256
	// purgeWindow is PurgeDeadLetters' prefetch (it settles as it reads).
	purgeWindow = 1024
)

// DeadLetters returns up to max of name's dead letters, oldest first, and
// leaves them in place. It reads them on a connection of its own, up to
// an end marker it puts behind the last one (see the package's notes on
// dead letters): the list is complete, never cut short by a slow link.
// It holds every letter it lists until it returns, so max is at most
// 65,534. Other operations on name's dead letters (ReplayDeadLetters,
// PurgeDeadLetters, another DeadLetters, in any process) run one at a
// time: it waits, within ctx, for the one running to end.
func (t *Transport) DeadLetters(ctx context.Context, name string, max int) ([]DeadLetter, error) {
	if err := deadMax("DeadLetters", max, maxDeadList); err != nil {
		return nil, err
	}
	var out []DeadLetter
	err := t.deadLetterOp(ctx, "DeadLetters", name, max+1, func(r *deadReader) error {
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

// deadMax checks max, the argument of op: 1..limit.
func deadMax(op string, max, limit int) error {
	if max < 1 || max > limit {
		return errs.Wrap("stompx: "+op, ivclient.ErrInvalidArgument, fmt.Sprintf("max must be 1..%d, got %d", limit, max), nil)
	}
	return nil
}

// ReplayDeadLetters moves up to max of name's dead letters, oldest first,
// back to name's queue, where its consumers receive them again (their
// Topic is then the queue's, /queue/iv.events.<name>); it returns how many
// moved.
//
// The name's queue must exist (it does from the first SubscribeDurable
// until DeleteDurable or WithIdleExpiry removes it): a broker drops what
// is sent to a missing queue, and confirms it all the same. So before it
// moves anything ReplayDeadLetters checks that the queue exists, and fails
// with an error wrapping ErrDurableNotFound when it does not, the dead
// letters kept. The check consumes the queue for one round trip: an event
// waiting there may be taken and put back in its place, marked
// redelivered, and reach a consumer after a later one of its agent (as the
// replayed events themselves come after newer ones).
//
// Each letter is sent, persistent, confirmed by the broker, and only then
// removed from the dead letters: a crash at any point loses none. At least
// once: a crash or failure between the two leaves that letter both
// replayed and still dead (a later replay sends it again: handlers see a
// second delivery). Not covered: a queue deleted while the replay runs
// (DeleteDurable, or an idle expiry that passes with no consumer) loses
// the letters sent after it went.
func (t *Transport) ReplayDeadLetters(ctx context.Context, name string, max int) (int, error) {
	if err := deadMax("ReplayDeadLetters", max, math.MaxInt-1); err != nil {
		return 0, err
	}
	n := 0
	err := t.deadLetterOp(ctx, "ReplayDeadLetters", name, min(max, replayWindow)+1, func(r *deadReader) error {
		if err := r.queueExists(); err != nil {
			return err
		}
		dest := "/amq/queue/" + durablePrefix + name
		for n < max {
			m, err := r.next()
			if err != nil || m == nil {
				return err
			}
			if err := r.dc.sendConfirmed(dest, m.Body, stomp.SendOpt.Header("persistent", "true")); err != nil {
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
// were: every one rejected before it began (it reads up to an end marker,
// as DeadLetters does; one rejected meanwhile may stay).
func (t *Transport) PurgeDeadLetters(ctx context.Context, name string) (int, error) {
	n := 0
	err := t.deadLetterOp(ctx, "PurgeDeadLetters", name, purgeWindow, func(r *deadReader) error {
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
