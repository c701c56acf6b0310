package stompx

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// durableConn is one connection generation of a durable subscription.
// Deliveries are bound to it: their acks go on its connection or nowhere.
type durableConn struct {
	*conn
	ds    *durableSub
	subs  []*stomp.Subscription // its consumers of the queue, once subscribed (subscribeTopics)
	held  []heldEvent           // what the binder held, to come first (bind, pumpInOrder)
	pumps []chan struct{}       // closed as each subscription's pump returns; appended by connect only

	lockToken string        // the body of checkLock's message (WithSingleActive)
	lockEcho  chan struct{} // its arrival on the lock subscription

	mu    sync.Mutex
	fatal error // a refusal that ends the subscription; read it with verdict
}

// connect opens a connection for ds at addr and subscribes every topic on
// it (subscribeHeaders), confirmed by round trips (conn.confirm,
// subscribeTopics). A refused subscription comes back as an error wrapping ErrDurableMismatch
// (other queue arguments) or ErrNotSupported.
func (ds *durableSub) connect(ctx context.Context, addr string) (*durableConn, error) {
	t := ds.t
	c, err := t.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	dc := &durableConn{conn: c, ds: ds}
	if !c.broker.durable() {
		c.abort(errors.New("broker does not support durable subscriptions"))
		return nil, errs.Wrap("stompx: SubscribeDurable", ivclient.ErrNotSupported,
			fmt.Sprintf("durable subscriptions need RabbitMQ (or ivtest's broker); %s is %q", addr, c.stomp.Server()), nil)
	}
	// The broker may not answer (a wedged broker, a ctx that ends): closing
	// the connection wakes every go-stomp call below.
	defer c.abortOnDone(ctx, "subscribing")()
	ok := dc.subscribeSync()
	if ok && ds.opts.singleActive {
		if ok = dc.takeLock() && dc.checkLock(); ok {
			ds.activate(dc)
		}
	}
	if ok && dc.subscribeTopics(ctx) {
		return dc, nil
	}
	ds.roles.lost()
	if fatal := dc.verdict(); fatal != nil {
		return nil, fatal
	}
	if cerr := ctxErr(ctx); cerr != nil {
		return nil, errs.Wrap("stompx: durable "+ds.queue+": subscribing on "+addr, cerr, "", nil)
	}
	if t.ctx.Err() != nil {
		return nil, errClosed
	}
	return nil, errs.Wrap("stompx: durable "+ds.queue+": subscribing on "+addr, lostError(c.cause), "", nil)
}

// open connects ds at addr (connect) within ctx, the connect timeout and
// the subscription's life, which the transport's Close ends: the one way a
// durable connection is first opened (reconnection bounds connect
// itself). It returns the context bounding the connection's first work
// (a deletion's); stop releases it.
func (ds *durableSub) open(ctx context.Context, addr string) (dc *durableConn, octx context.Context, stop func(), err error) {
	octx, cancel := context.WithTimeout(ctx, ds.t.opts.connectTimeout)
	unlink := context.AfterFunc(ds.ctx, cancel)
	stop = func() { unlink(); cancel() }
	if dc, err = ds.connect(octx, addr); err != nil {
		stop()
		if ctx.Err() == nil && ds.t.ctx.Err() != nil {
			err = errClosed
		}
		return nil, nil, nil, err
	}
	return dc, octx, stop, nil
}

// subscribeSync subscribes the confirmation topic (conn.confirm). False
// means the connection ended first.
func (dc *durableConn) subscribeSync() bool {
	pump, err := dc.syncSubscribe(dc.brokerError)
	if err != nil {
		dc.abort(err)
		return false
	}
	dc.startPump(pump)
	return true
}

// subscribeTopics makes the connection the subscription's one consumer
// of its queue, so that the queue's order is the order of delivery (each
// consumer of a queue takes its share of the messages, and deliveries to
// several would interleave, one agent's events out of order). With one
// topic, that is the topic's SUBSCRIBE, which declares the queue and binds
// the topic. With several, a connection of its own declares the queue and
// binds every topic first (bind), and the queue is consumed by name,
// /amq/queue/<queue>, the binder's held events first (pumpInOrder). False
// means the connection ended first.
//
// The SUBSCRIBEs of the topics are sent one after the other, and two round
// trips confirm them (conn.confirm): one after the first, which declares
// the queue, and one after the last. The broker handles a connection's
// frames in order, so the last confirmation covers every SUBSCRIBE before
// it (a refused one gets an ERROR and the connection ends first). The
// first is confirmed on its own because the broker refuses it when the
// queue exists with other arguments: go-stomp lets go of a subscription
// only once it has taken its SUBSCRIBE from its write queue, so the
// SUBSCRIBEs still queued behind a refused one would be neither
// subscribed nor ended (their pumps wait letGoGrace, go-stomp's reader of
// each waits for ever). The later ones carry the same queue arguments,
// which the broker has then accepted. Sending them does not wait on a
// pump: each subscription's messages go to a relay that never blocks
// go-stomp's I/O goroutine, which keeps taking the writes.
func (dc *durableConn) subscribeTopics(ctx context.Context) bool {
	ds := dc.ds
	if len(ds.topics) > 1 && !ds.binder {
		return dc.bind(ctx) && dc.subscribe("/amq/queue/"+ds.queue,
			stomp.SubscribeOpt.Header("prefetch-count", strconv.Itoa(ds.opts.prefetch))) && dc.confirmed()
	}
	last := len(ds.topics) - 1
	for i, tp := range ds.topics {
		if !dc.subscribe(tp, ds.subscribeHeaders(i)...) {
			return false
		}
		if (i == 0 || i == last) && !dc.confirmed() {
			return false
		}
	}
	return true
}

// subscribe makes one consumer of the queue on the connection, not yet
// confirmed (confirmed). False means the connection ended first.
func (dc *durableConn) subscribe(dest string, headers ...func(*frame.Frame) error) bool {
	ss, err := dc.stomp.Subscribe(dest, stomp.AckClientIndividual, headers...)
	if err != nil {
		dc.abort(err)
		return false
	}
	dc.subs = append(dc.subs, ss)
	if !dc.ds.binder && len(dc.held) > 0 { // a binder's held is its pumps'
		held := dc.held
		dc.startPump(func() { dc.pumpInOrder(ss, held) })
	} else {
		dc.startPump(func() { dc.pump(ss) })
	}
	return true
}

// confirmed makes a round trip (conn.confirm): true means the broker has
// taken every SUBSCRIBE sent before it and the connection still stands.
func (dc *durableConn) confirmed() bool {
	return dc.confirm() && !dc.ended()
}

// subscribeHeaders returns the headers of the SUBSCRIBE of the i-th topic:
// every SUBSCRIBE that declares the queue is made with them. They declare
// the queue (queueHeaders, the same on every SUBSCRIBE of the name) and
// give this consumer its share of the prefetch (all of it with one topic;
// the binder's one each), so that the total in flight is the prefetch.
func (ds *durableSub) subscribeHeaders(i int) []func(*frame.Frame) error {
	h := ds.opts.queueHeaders(ds.queue)
	n := len(ds.topics)
	share := ds.opts.prefetch / n
	if i < ds.opts.prefetch%n {
		share++
	}
	return append(h, stomp.SubscribeOpt.Header("prefetch-count", strconv.Itoa(max(share, 1))))
}

// startPump runs f as one of the connection's pumps.
func (dc *durableConn) startPump(f func()) {
	done := make(chan struct{})
	dc.pumps = append(dc.pumps, done)
	if !dc.spawn(func() { defer close(done); f() }) {
		close(done)
	}
}

// refuse records a broker refusal that ends the subscription (the first
// one counts), then aborts the connection.
func (dc *durableConn) refuse(err error, cause string) {
	dc.mu.Lock()
	if dc.fatal == nil {
		dc.fatal = err
	}
	dc.mu.Unlock()
	dc.abort(errors.New(cause))
}

// verdict returns, once the connection has ended, the broker refusal that
// must end the subscription (a queue mismatch, a deleted queue), nil for a
// plain connection loss. An ERROR frame reaches the pumps through go-stomp
// after the connection may already be seen closed, so verdict waits for
// the pumps to finish (go-stomp closes their channels), a second at most:
// a pump waiting for a consumer that does not read may take longer. It
// runs after connect has started every pump of dc.
func (dc *durableConn) verdict() error {
	dc.waitPumps()
	_ = dc.raw.shut() // go-stomp has closed it, unless a pump is still waiting
	dc.mu.Lock()
	fatal := dc.fatal
	dc.mu.Unlock()
	if fatal != nil {
		return fatal
	}
	// go-stomp can lose an ERROR frame (see frameGuard.onError): the one the
	// broker sent still decides, so that a refusal or a deleted queue is
	// never taken for a lost connection (whose reconnection would make the
	// deleted queue again).
	if f := dc.raw.brokerError(); f != nil {
		dc.brokerFrame(f)
	}
	dc.mu.Lock()
	defer dc.mu.Unlock()
	return dc.fatal
}

// waitPumps waits for the connection's pumps to return, a second at most.
func (dc *durableConn) waitPumps() {
	tm := time.NewTimer(time.Second)
	defer tm.Stop()
	for _, done := range dc.pumps {
		select {
		case <-done:
		case <-tm.C:
			return
		}
	}
}

// pump drains one go-stomp subscription into the feed (a binder's: into
// its list of held events), until go-stomp lets go of it (conn.forEach).
// It waits for the consumer when the buffer is full (it never drops), and
// for the dead-lettering of a malformed body, without holding up go-stomp
// (relay).
func (dc *durableConn) pump(ss *stomp.Subscription) {
	dc.relay(ss)(func(m *stomp.Message) {
		switch {
		case m.Err != nil:
			dc.brokerError(m.Err)
		case dc.ds.binder:
			dc.keep(m)
		default:
			dc.deliver(ss, m)
		}
	})
}

// deliver hands one message of ss to the feed.
func (dc *durableConn) deliver(ss *stomp.Subscription, m *stomp.Message) {
	ds, t := dc.ds, dc.ds.t
	t.stats.events.Add(1)
	redelivered := m.Header.Get("redelivered") == "true"
	ackID, _ := m.Header.Contains(frame.Ack)
	msgID, _ := m.Header.Contains(frame.MessageId)
	var ack func() error
	var reject func(string) error
	if ackID != "" || msgID != "" {
		ack = func() error { return dc.ack(ss, ackID, msgID) }
		dest, body := m.Destination, m.Body
		reject = dc.rejecter(dest, body, ack)
	}
	ds.feed.Deliver(events.Delivery{Topic: m.Destination, Body: m.Body, Received: time.Now(),
		Redelivered: redelivered, Ack: ack, Reject: reject, Lost: dc.done})
}

// rejecter returns the Reject of one delivery, which ack settles: its dead
// letter is sent once; a Reject made again after it was sent (its ack
// failed: the connection was not writing) only settles the delivery.
func (dc *durableConn) rejecter(dest string, body []byte, ack func() error) func(cause string) error {
	var sent atomic.Bool
	return func(cause string) error {
		if !sent.Load() {
			return dc.rejectWith(dest, body, cause, func() error { sent.Store(true); return ack() })
		}
		if err := ack(); err != nil {
			return errs.Wrap("stompx: Reject", nil, "dead-lettered, but the event could not be settled: the broker delivers it again", err)
		}
		return nil
	}
}

// errorFrame returns the ERROR frame err carries, if any.
func errorFrame(err error) *frame.Frame {
	var se stomp.Error
	var sp *stomp.Error
	switch {
	case errors.As(err, &se):
		return se.Frame
	case errors.As(err, &sp) && sp != nil:
		return sp.Frame
	}
	return nil
}

// brokerError classifies an ERROR frame (or a connection failure) seen by
// a subscription, and ends the connection generation.
func (dc *durableConn) brokerError(err error) {
	f := errorFrame(err)
	if f == nil || f.Command != frame.ERROR {
		dc.abort(err)
		return
	}
	dc.brokerFrame(f)
}

// brokerFrame handles an ERROR frame of the broker: a refusal or a
// cancelled subscription ends the subscription (refuse), any other ERROR
// loses the connection.
func (dc *durableConn) brokerFrame(f *frame.Frame) {
	ds, t := dc.ds, dc.ds.t
	msg := f.Header.Get(frame.Message)
	body := string(f.Body)
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	text := t.errorText(f)
	switch {
	case strings.Contains(strings.ToUpper(msg+body), "RESOURCE_LOCKED"):
		dc.refuse(errStandby, text)
	case strings.Contains(body, "inequivalent arg"):
		dc.refuse(mismatchError(ds.queue, body), text)
	case strings.Contains(msg, "Server cancelled subscription") || strings.Contains(body, "has canceled a subscription"):
		dc.refuse(errs.Wrap("stompx: durable "+ds.queue, ivclient.ErrClosed,
			"the broker cancelled the subscription (the queue was deleted)", nil), text)
	default:
		dc.abort(errors.New("broker ERROR: " + text))
	}
}

// ack sends the ACK of one delivery on the connection that received it,
// or nothing: once the connection is known to be dead (the broker has
// taken the delivery back and will deliver it again) or the subscription
// is closed. A send that go-stomp could not queue sent nothing either, and
// may be retried.
func (dc *durableConn) ack(ss *stomp.Subscription, ackID, msgID string) error {
	if err := dc.settleable("stompx: Ack"); err != nil {
		return err
	}
	h := frame.NewHeader()
	if ackID != "" {
		h.Add(frame.Ack, ackID)
	}
	if msgID != "" {
		h.Add(frame.MessageId, msgID)
	}
	err := dc.stomp.Ack(&stomp.Message{Header: h, Subscription: ss, Conn: dc.stomp})
	switch {
	case err == nil:
		return nil
	case err == stomp.ErrMsgSendTimeout:
		return errs.Wrap("stompx: Ack", nil, "the connection is not writing; nothing sent, retry", err)
	default:
		dc.abort(err)
		return errs.Wrap("stompx: Ack", lostError(dc.cause), "the broker delivers the event again", nil)
	}
}
