package stompx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	"github.com/google/uuid"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// Durable subscriptions, on RabbitMQ's STOMP plugin (and ivtest's broker,
// which implements the same semantics):
//
// A SUBSCRIBE to a topic with durable:true, auto-delete:false and
// x-queue-name:iv.events.<name> makes (or finds) a durable queue of that
// name bound to the topic; every consumer of the name shares it. With
// ack:client-individual the broker keeps each delivery until its ACK, and
// delivers it again (redelivered:true) once the connection that received
// it is gone. prefetch-count bounds the unacknowledged deliveries per
// SUBSCRIBE.
//
// Two broker behaviours shape the design (../shared/research, measured on
// RabbitMQ 3.10): a SUBSCRIBE whose queue arguments differ from the
// existing queue's gets ERROR precondition_failed and the broker closes the
// whole connection; and an ACK of an unknown or already acknowledged
// delivery does the same. So each durable subscription has a STOMP
// connection of its own, separate from the transport's session (reply
// subscriptions, plain event subscriptions, requests): a mismatch, at the
// first SubscribeDurable or at any later resubscription, and whatever a
// broker may say about an ACK, can close only that connection. A probe on
// a scratch connection would isolate the first SUBSCRIBE only, and cost a
// connection each time too. The price is one TCP connection per durable
// subscription, which is what a worker has anyway (one subscription of
// events.AllAgents). The connection also means the pump may wait for the
// consumer (a durable subscription never drops an event) without holding
// up anyone's replies.
//
// ACK bookkeeping: every event carries a delivery bound to the connection
// generation (durableConn) and go-stomp subscription it arrived on, with
// the broker's ack id. events.Subscription.Ack lets each delivery be acked
// once (a compare-and-swap; a failed attempt that sent nothing may be
// retried). durableConn.ack sends nothing once its connection is known to
// be dead or the subscription is closed, so an ACK never reaches a
// connection that did not deliver the message: a delivery id of one
// connection is unknown to every other (ids are scoped to the session).

const (
	// durablePrefix is prepended to a durable name to make the broker's
	// queue name, so that no name can reach a platform queue.
	durablePrefix = "iv.events."
	// maxPrefetch is the largest prefetch-count RabbitMQ takes (AMQP's
	// basic.qos prefetch-count is 16 bits).
	maxPrefetch = 65535
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
	quorum     bool
	maxBacklog int
	ttl        time.Duration
	idle       time.Duration
	prefetch   int
}

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
			return durableOptErr("WithMaxBacklog", "the backlog must be at least 1 event, got %d", n)
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
			return durableOptErr("WithBacklogTTL", "the TTL must be at least 1ms, got %v", d)
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
			return durableOptErr("WithIdleExpiry", "the expiry must be at least 1ms, got %v", d)
		}
		o.idle = d
		return nil
	}
}

// WithPrefetch sets how many unacknowledged events the broker sends this
// subscription at most (prefetch-count, 1-65535; default the transport's
// event buffer, WithEventBuffer). It is also the subscription's buffer when
// larger than the event buffer, so that the events in flight always fit.
// With several topics, each topic's SUBSCRIBE gets a share of n (at least
// 1 each). It is not a queue argument: subscribers of one name may differ.
func WithPrefetch(n int) DurableOption {
	return func(o *durableOptions) error {
		if n < 1 || n > maxPrefetch {
			return durableOptErr("WithPrefetch", "the prefetch must be 1-%d, got %d", maxPrefetch, n)
		}
		o.prefetch = n
		return nil
	}
}

func durableOptErr(name, format string, a ...any) error {
	return errs.Wrap("stompx: "+name, ivclient.ErrInvalidArgument, fmt.Sprintf(format, a...), nil)
}

func parseDurableOptions(opts []DurableOption) (*durableOptions, error) {
	o := &durableOptions{}
	for _, opt := range opts {
		if opt == nil {
			return nil, durableOptErr("DurableOption", "nil option")
		}
		if err := opt(o); err != nil {
			return nil, err
		}
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

// normalizeTopics checks the topics as Subscribe does, rewrites a
// trailing ".#" to the broker's wildcard and removes duplicates.
func (t *Transport) normalizeTopics(op string, topics []string) ([]string, error) {
	if len(topics) == 0 {
		return nil, errs.Wrap("stompx: "+op, ivclient.ErrInvalidArgument, "no topic", nil)
	}
	var list []string
	seen := make(map[string]bool, len(topics))
	for _, tp := range topics {
		if !strings.HasPrefix(tp, "/topic/") || len(tp) == len("/topic/") || strings.ContainsAny(tp, "\r\n\x00 ") {
			return nil, errs.Wrap("stompx: "+op, ivclient.ErrInvalidArgument,
				fmt.Sprintf("topic %q must be \"/topic/<name>\"", redactDest(tp)), nil)
		}
		if t.opts.wildcard != "#" && strings.HasSuffix(tp, ".#") {
			tp = tp[:len(tp)-1] + t.opts.wildcard
		}
		if !seen[tp] {
			seen[tp] = true
			list = append(list, tp)
		}
	}
	return list, nil
}

// brokerFor returns the kind of broker the transport is connected to,
// waiting for a connection within ctx, and its address.
func (t *Transport) brokerFor(ctx context.Context) (brokerKind, string, error) {
	s, err := t.session(ctx)
	if err != nil {
		return brokerUnknown, "", err
	}
	return s.broker, s.addr, nil
}

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
// accumulate until DeleteDurable). With one topic, events arrive in the
// queue's order; with several, each topic has a consumer on the queue and
// events may interleave differently (use one topic, such as
// events.AllAgents, or one name per topic, where order matters). Options
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
	if ctx == nil {
		return nil, errs.Wrap("stompx: SubscribeDurable", ivclient.ErrInvalidArgument, "nil context", nil)
	}
	if !validDurableName(name) {
		return nil, errs.Wrap("stompx: SubscribeDurable", ivclient.ErrInvalidArgument,
			fmt.Sprintf("name %q must be 1-64 of [A-Za-z0-9._-]", redactDest(name)), nil)
	}
	list, err := t.normalizeTopics("SubscribeDurable", topics)
	if err != nil {
		return nil, err
	}
	o, err := parseDurableOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.prefetch == 0 {
		o.prefetch = min(t.opts.eventBuffer, maxPrefetch)
	}
	if err := ctx.Err(); err != nil {
		return nil, errs.Wrap("stompx: SubscribeDurable", err, "", nil)
	}
	kind, addr, err := t.brokerFor(ctx)
	if err != nil {
		return nil, errs.Wrap("stompx: SubscribeDurable", err, "", nil)
	}
	if !kind.durable() {
		return nil, errs.Wrap("stompx: SubscribeDurable", ivclient.ErrNotSupported, "durable subscriptions need RabbitMQ (or ivtest's broker)", nil)
	}

	ds := newDurableSub(t, name, list, o)
	feed, err := events.NewFeed(events.WithUnsubscribe(ds.onClose),
		events.WithBuffer(max(t.opts.eventBuffer, o.prefetch)),
		events.WithAcks(),
		events.WithErrorHandler(ds.onError))
	if err != nil {
		return nil, errs.Wrap("stompx: SubscribeDurable", err, "", nil)
	}
	ds.sub, ds.feed = feed.Subscription(), feed

	cctx, cancel := context.WithTimeout(ctx, t.opts.connectTimeout)
	stop := context.AfterFunc(ds.ctx, cancel)
	dc, err := ds.connect(cctx, addr)
	stop()
	cancel()
	if err != nil {
		ds.sub.Close()
		return nil, errs.Wrap("stompx: SubscribeDurable", err, "", nil)
	}
	// Current before SubscribeDurable returns, so that a Close right after
	// closes this connection.
	ds.install(dc)
	if !t.spawn(func() { ds.run(dc) }) {
		ds.sub.Close()
		dc.kill("transport closed", killAbort)
		return nil, errs.Wrap("stompx: SubscribeDurable", errClosed, "", nil)
	}
	t.log.Debug("stompx: durable subscription", slog.String("queue", ds.queue), slog.Int("topics", len(list)),
		slog.Int("prefetch", o.prefetch))
	return ds.sub, nil
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

	ctx    context.Context // ends with the transport or the consumer's Close
	cancel context.CancelFunc

	mu     sync.Mutex
	cur    *durableConn // nil while reconnecting
	closed bool         // the consumer closed the subscription
}

// durableConn is one connection generation of a durable subscription.
// Deliveries are bound to it: their acks go on its connection or nowhere.
type durableConn struct {
	ds    *durableSub
	addr  string
	conn  *stomp.Conn
	raw   *watchedConn
	subs  []*stomp.Subscription // one per topic, once subscribed
	pumps []chan struct{}       // closed as each subscription's pump returns; appended by connect only

	syncTopic string        // the confirmation topic, subscribed first
	synced    chan struct{} // a confirmation came back

	done  chan struct{} // closed by kill
	once  sync.Once
	cause string // set before done is closed; redacted

	mu    sync.Mutex
	fatal error // a refusal that ends the subscription; read it with verdict
}

// connect opens a connection for ds at addr and subscribes every topic on
// it, confirmed by a RECEIPT. A refused subscription comes back as an
// error wrapping ErrDurableMismatch (other queue arguments) or ErrNotSupported.
func (ds *durableSub) connect(ctx context.Context, addr string) (*durableConn, error) {
	t := ds.t
	conn, raw, err := t.dialConn(ctx, addr)
	if err != nil {
		return nil, err
	}
	dc := &durableConn{ds: ds, addr: addr, conn: conn, raw: raw, done: make(chan struct{})}
	raw.arm(dc.readFailed)
	if k := detectBroker(conn.Server()); !k.durable() {
		dc.kill("broker does not support durable subscriptions", killAbort)
		return nil, errs.Wrap("stompx", ivclient.ErrNotSupported,
			fmt.Sprintf("durable subscriptions need RabbitMQ (or ivtest's broker); %s is %q", addr, conn.Server()), nil)
	}
	// The broker may not answer (a wedged broker, a ctx that ends): closing
	// the connection wakes every go-stomp call below.
	stopWatch := context.AfterFunc(ctx, func() { dc.kill("subscribing: "+ctxErr(ctx).Error(), killAbort) })
	defer stopWatch()

	// Confirming a SUBSCRIBE: go-stomp's Send with a receipt holds the
	// connection's lock while it waits, and its I/O goroutine needs that
	// lock to handle an ERROR frame; if the ERROR (a queue mismatch) comes
	// before the SEND's receipt is registered, both wait for ever. So the
	// confirmation is a message to a topic of our own, subscribed first:
	// the broker handles a connection's frames in order, so once it comes
	// back every SUBSCRIBE before it is in place (or refused, with an ERROR
	// that every go-stomp subscription of the connection gets). One
	// SUBSCRIBE at a time, so that go-stomp knows each one before the
	// broker can refuse it.
	dc.syncTopic = "/topic/instantvoice-go.sync." + uuid.NewString()
	dc.synced = make(chan struct{}, 1)
	syncSub, err := conn.Subscribe(dc.syncTopic, stomp.AckAuto)
	if err != nil {
		dc.kill(t.red.redact(err.Error()), killAbort)
		return nil, errs.Wrap("stompx: durable "+ds.queue+": subscribing on "+addr, lostError(dc.cause), "", nil)
	}
	dc.startPump(func() { dc.syncPump(syncSub, dc.synced) })
	headers := ds.opts.queueHeaders(ds.queue)
	n := len(ds.topics)
	for i, tp := range ds.topics {
		// Each SUBSCRIBE is a consumer of the queue: share the prefetch
		// among them, so that the total in flight is the prefetch.
		share := ds.opts.prefetch / n
		if i < ds.opts.prefetch%n {
			share++
		}
		h := append(headers[:len(headers):len(headers)],
			stomp.SubscribeOpt.Header("prefetch-count", strconv.Itoa(max(share, 1))))
		ss, err := conn.Subscribe(tp, stomp.AckClientIndividual, h...)
		if err != nil {
			dc.kill(t.red.redact(err.Error()), killAbort)
			break
		}
		dc.subs = append(dc.subs, ss)
		dc.startPump(func() { dc.pump(ss) })
		if !dc.confirm() {
			break
		}
	}
	select {
	case <-dc.done:
	default:
		return dc, nil
	}
	if fatal := dc.verdict(); fatal != nil {
		return nil, fatal
	}
	if cerr := ctxErr(ctx); cerr != nil {
		return nil, errs.Wrap("stompx: durable "+ds.queue+": subscribing on "+addr, cerr, "", nil)
	}
	if t.ctx.Err() != nil {
		return nil, errClosed
	}
	return nil, errs.Wrap("stompx: durable "+ds.queue+": subscribing on "+addr, lostError(dc.cause), "", nil)
}

// readFailed runs when the connection's reader fails: EOF, reset, or the
// close that follows an ERROR frame (whose meaning the pumps find out:
// see verdict).
func (dc *durableConn) readFailed(err error) {
	dc.markDead(dc.ds.t.red.redact(err.Error()))
}

// startPump runs f as one of the connection's pumps, on a goroutine of
// the transport's (Close waits for it).
func (dc *durableConn) startPump(f func()) {
	done := make(chan struct{})
	dc.pumps = append(dc.pumps, done)
	if !dc.ds.t.spawn(func() { defer close(done); f() }) {
		close(done)
		dc.kill("transport closed", killAbort)
	}
}

// verdict returns, once the connection is dead, the broker refusal that
// must end the subscription (a queue mismatch, a deleted queue), nil for a
// plain connection loss. An ERROR frame reaches the pumps through go-stomp
// after the connection may already be seen closed, so verdict waits for
// the pumps to finish (go-stomp closes their channels), a second at most:
// a pump waiting for a consumer that does not read may take longer. It
// runs after connect has started every pump of dc.
func (dc *durableConn) verdict() error {
	tm := time.NewTimer(time.Second)
	defer tm.Stop()
wait:
	for _, done := range dc.pumps {
		select {
		case <-done:
		case <-tm.C:
			break wait
		}
	}
	_ = dc.raw.Close() // go-stomp has closed it, unless a pump is still waiting
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

// confirm makes a round trip through the broker on the connection: once
// it returns true, the broker has handled every frame sent before. False
// means the connection died first.
func (dc *durableConn) confirm() bool {
	if err := dc.conn.Send(dc.syncTopic, "", nil); err != nil {
		dc.kill(dc.ds.t.red.redact(err.Error()), killAbort)
		return false
	}
	select {
	case <-dc.synced:
		return true
	case <-dc.done:
		return false
	}
}

// syncPump drains the confirmation subscription.
func (dc *durableConn) syncPump(ss *stomp.Subscription, synced chan<- struct{}) {
	for m := range ss.C {
		if m.Err != nil {
			dc.brokerError(m.Err)
			continue
		}
		select {
		case synced <- struct{}{}:
		default:
		}
	}
}

// killMode is how kill ends a connection: killAbort closes it;
// killDisconnect and killDisconnectOwned send DISCONNECT first and wait
// for its RECEIPT, disconnectGrace at most, so that the broker takes back
// the unacknowledged deliveries at once. killDisconnectOwned is for a
// caller that runs on one of the transport's goroutines (run), which may
// add to the wait group even while Close waits for it; killDisconnect,
// for any other caller, sends nothing once the transport is closed.
type killMode int

const (
	killAbort killMode = iota
	killDisconnect
	killDisconnectOwned
)

// kill ends the connection generation once, and closes the connection.
func (dc *durableConn) kill(cause string, mode killMode) {
	dc.once.Do(func() {
		dc.cause = cause
		close(dc.done)
		if mode != killAbort {
			dc.disconnect(mode == killDisconnectOwned)
		}
	})
	_ = dc.raw.Close()
}

// disconnect sends DISCONNECT and waits for the RECEIPT, disconnectGrace
// at most; kill then closes the socket. The goroutine waiting in go-stomp's
// Disconnect is the transport's (Close waits for it): it stays until the
// RECEIPT comes or, once the socket is closed, go-stomp's I/O goroutine
// hands it the failure. It must still be there to take it (go-stomp
// blocks its I/O goroutine on that hand-off), which is why
// DisconnectReceiptTimeout is longer than disconnectGrace (connOptions),
// as for the session's connections (session.disconnect).
func (dc *durableConn) disconnect(owned bool) {
	t := dc.ds.t
	done := make(chan struct{})
	f := func() {
		defer close(done)
		_ = dc.conn.Disconnect()
	}
	if owned {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			f()
		}()
	} else if !t.spawn(f) {
		return // the transport is closed: kill closes the socket
	}
	tm := time.NewTimer(disconnectGrace)
	defer tm.Stop()
	select {
	case <-done:
	case <-tm.C:
	}
}

// markDead ends the connection generation once, without closing the
// connection: its reader has failed already, and go-stomp must be left to
// hand the frames it read before (an ERROR frame, say) to the pumps in
// order, before it closes the connection itself. Closing it here could
// make go-stomp fail a write first and drop that ERROR.
func (dc *durableConn) markDead(cause string) {
	dc.once.Do(func() {
		dc.cause = cause
		close(dc.done)
	})
}

// failWith records a broker refusal that ends the subscription (the
// first one counts), then kills the connection.
func (dc *durableConn) failWith(err error, cause string) {
	dc.mu.Lock()
	if dc.fatal == nil {
		dc.fatal = err
	}
	dc.mu.Unlock()
	dc.kill(cause, killAbort)
}

// pump drains one go-stomp subscription into the feed. It waits for the
// consumer when the buffer is full (it never drops), which holds up only
// this connection.
func (dc *durableConn) pump(ss *stomp.Subscription) {
	ds, t := dc.ds, dc.ds.t
	for m := range ss.C {
		if m.Err != nil {
			dc.brokerError(m.Err)
			continue
		}
		t.stats.events.Add(1)
		redelivered := m.Header.Get("redelivered") == "true"
		ackID, _ := m.Header.Contains(frame.Ack)
		msgID, _ := m.Header.Contains(frame.MessageId)
		var ack func() error
		if ackID != "" || msgID != "" {
			ack = func() error { return dc.ack(ss, ackID, msgID) }
		}
		ds.feed.Deliver(events.Delivery{Topic: m.Destination, Body: m.Body, Received: time.Now(),
			Redelivered: redelivered, Ack: ack, Lost: dc.done})
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
		dc.kill(dc.ds.t.red.redact(err.Error()), killAbort)
		return
	}
	dc.brokerFrame(f)
}

// brokerFrame handles an ERROR frame of the broker: a refusal or a
// cancelled subscription ends the subscription (failWith), any other
// ERROR loses the connection.
func (dc *durableConn) brokerFrame(f *frame.Frame) {
	ds, t := dc.ds, dc.ds.t
	msg := f.Header.Get(frame.Message)
	body := string(f.Body)
	if len(body) > 300 {
		body = body[:300]
	}
	text := t.red.redact(strings.TrimSpace(msg + ": " + body))
	switch {
	case strings.Contains(body, "inequivalent arg"):
		dc.failWith(mismatchError(ds.queue, body), text)
	case strings.Contains(msg, "Server cancelled subscription") || strings.Contains(body, "has canceled a subscription"):
		dc.failWith(errs.Wrap("stompx: durable "+ds.queue, ivclient.ErrClosed,
			"the broker cancelled the subscription (the queue was deleted)", nil), text)
	default:
		dc.kill("broker ERROR: "+text, killAbort)
	}
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

// ack sends the ACK of one delivery on the connection that received it,
// or nothing: once the connection is known to be dead (the broker has
// taken the delivery back and will deliver it again) or the subscription
// is closed. A send that go-stomp could not queue sent nothing either, and
// may be retried.
func (dc *durableConn) ack(ss *stomp.Subscription, ackID, msgID string) error {
	ds := dc.ds
	ds.mu.Lock()
	closed := ds.closed
	ds.mu.Unlock()
	if closed {
		return errs.Wrap("stompx: Ack", ivclient.ErrClosed, "subscription closed, the broker delivers the event again", nil)
	}
	select {
	case <-dc.done:
		return errs.Wrap("stompx: Ack", lostError(dc.cause), "the broker delivers the event again", nil)
	default:
	}
	h := frame.NewHeader()
	if ackID != "" {
		h.Add(frame.Ack, ackID)
	}
	if msgID != "" {
		h.Add(frame.MessageId, msgID)
	}
	err := dc.conn.Ack(&stomp.Message{Header: h, Subscription: ss, Conn: dc.conn})
	switch {
	case err == nil:
		return nil
	case err == stomp.ErrMsgSendTimeout:
		return errs.Wrap("stompx: Ack", nil, "the connection is not writing; nothing sent, retry", err)
	default:
		dc.kill(ds.t.red.redact(err.Error()), killAbort)
		return errs.Wrap("stompx: Ack", lostError(dc.cause), "the broker delivers the event again", nil)
	}
}

// run owns the subscription's connection: when it drops, it reconnects as
// the transport does and resubscribes; it ends the subscription when the
// transport closes, reconnection gives up or the broker refuses it.
func (ds *durableSub) run(dc *durableConn) {
	t := ds.t
	for {
		select {
		case <-dc.done:
		case <-ds.ctx.Done():
			if t.ctx.Err() != nil {
				ds.end(dc, errClosed)
			}
			return // or the consumer closed it: onClose closes the connection
		}
		ds.mu.Lock()
		ds.cur = nil
		closed := ds.closed
		ds.mu.Unlock()
		if closed {
			return
		}
		if fatal := dc.verdict(); fatal != nil {
			t.log.Warn("stompx: durable subscription ended", slog.String("queue", ds.queue), slog.String("error", fatal.Error()))
			ds.feed.End(fatal)
			return
		}
		if t.ctx.Err() != nil {
			ds.end(nil, errClosed)
			return
		}
		t.log.Warn("stompx: durable subscription lost its connection", slog.String("queue", ds.queue),
			slog.String("addr", dc.addr), slog.String("error", dc.cause))
		if !t.opts.reconnect {
			ds.feed.End(lostError(dc.cause))
			return
		}
		next, err := ds.reconnect(dc)
		if err != nil {
			ds.end(nil, err)
			return
		}
		if next == nil {
			return // closed meanwhile
		}
		dc = next
	}
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

// reconnect connects again with the transport's backoff and addresses,
// starting with the one just lost. It returns nil, nil when the consumer
// closed the subscription meanwhile.
func (ds *durableSub) reconnect(lost *durableConn) (*durableConn, error) {
	t := ds.t
	// The address that just failed is tried again last, as the
	// transport's own reconnection does.
	start := 0
	for i, a := range t.addrs {
		if a == lost.addr {
			start = i + 1
		}
	}
	lastErr := lost.cause
	for attempt := 0; ; attempt++ {
		if max := t.opts.maxReconnects; max >= 0 && attempt >= max {
			return nil, lostError(fmt.Sprintf("gave up after %d reconnection attempts: %s", attempt, lastErr))
		}
		tm := time.NewTimer(t.backoff(attempt))
		select {
		case <-tm.C:
		case <-ds.ctx.Done():
			tm.Stop()
			if t.ctx.Err() != nil {
				return nil, errClosed
			}
			return nil, nil
		}
		addr := t.addrs[(start+attempt)%len(t.addrs)]
		ctx, cancel := context.WithTimeout(ds.ctx, t.opts.connectTimeout)
		dc, err := ds.connect(ctx, addr)
		cancel()
		if err == nil {
			if !ds.install(dc) {
				dc.kill("subscription closed", killDisconnectOwned)
				return nil, nil
			}
			t.log.Info("stompx: durable subscription restored", slog.String("queue", ds.queue), slog.String("addr", addr))
			return dc, nil
		}
		if errors.Is(err, ErrDurableMismatch) || errors.Is(err, ivclient.ErrNotSupported) || errors.Is(err, ivclient.ErrClosed) {
			return nil, err
		}
		if t.ctx.Err() != nil {
			return nil, errClosed
		}
		if ds.ctx.Err() != nil {
			return nil, nil
		}
		lastErr = err.Error()
		t.log.Info("stompx: durable resubscription failed", slog.String("queue", ds.queue), slog.String("addr", addr),
			slog.Int("attempt", attempt+1), slog.String("error", lastErr))
	}
}

// end ends the subscription from the transport's side.
func (ds *durableSub) end(dc *durableConn, err error) {
	ds.feed.End(err)
	if dc != nil {
		mode := killAbort
		if errors.Is(err, ivclient.ErrClosed) {
			mode = killDisconnectOwned
		}
		dc.kill("transport closed", mode)
	}
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
	if dc != nil {
		dc.kill("subscription closed", killDisconnect)
	}
	return nil
}

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
	if ctx == nil {
		return errs.Wrap("stompx: DeleteDurable", ivclient.ErrInvalidArgument, "nil context", nil)
	}
	if !validDurableName(name) {
		return errs.Wrap("stompx: DeleteDurable", ivclient.ErrInvalidArgument,
			fmt.Sprintf("name %q must be 1-64 of [A-Za-z0-9._-]", redactDest(name)), nil)
	}
	o, err := parseDurableOptions(opts)
	if err != nil {
		return err
	}
	kind, addr, err := t.brokerFor(ctx)
	if err != nil {
		return errs.Wrap("stompx: DeleteDurable", err, "", nil)
	}
	if !kind.durable() {
		return errs.Wrap("stompx: DeleteDurable", ivclient.ErrNotSupported, "durable subscriptions need RabbitMQ (or ivtest's broker)", nil)
	}
	o.prefetch = 1
	cctx, cancel := context.WithTimeout(ctx, t.opts.connectTimeout)
	defer cancel()
	// A durableSub of its own, never returned: its connection receives at
	// most one event (prefetch 1), which goes with the queue.
	ds := newDurableSub(t, name, []string{deleteTopic}, o)
	defer ds.cancel()
	feed, err := events.NewFeed(events.WithBuffer(1), events.WithAcks())
	if err != nil {
		return errs.Wrap("stompx: DeleteDurable", err, "", nil)
	}
	ds.sub, ds.feed = feed.Subscription(), feed
	defer ds.sub.Close()
	dc, err := ds.connect(cctx, addr)
	if err != nil {
		return errs.Wrap("stompx: DeleteDurable", err, "", nil)
	}
	defer dc.kill("delete done", killDisconnect)
	stopWatch := context.AfterFunc(cctx, func() { dc.kill("deleting: "+ctxErr(cctx).Error(), killAbort) })
	defer stopWatch()
	// UNSUBSCRIBE with durable:true and x-queue-name deletes the queue.
	// Not through go-stomp's Unsubscribe: it waits for the RECEIPT on a
	// sync.Cond that the RECEIPT may signal before the wait begins (its
	// state change and Broadcast are not under the Cond's lock), and then
	// waits for ever. The frame is written whole, in one Write on the
	// net.Conn (which go-stomp's writer, whose frames and heart-beats are
	// single Writes too, cannot interleave with), and confirmed by a round
	// trip, as the SUBSCRIBE was. The connection is closed right after, so
	// go-stomp's view of the subscription does not matter.
	unsub := "UNSUBSCRIBE\nid:" + dc.subs[0].Id() + "\ndurable:true\nx-queue-name:" + ds.queue + "\n\n\x00"
	if _, err := dc.raw.Write([]byte(unsub)); err != nil {
		dc.kill(t.red.redact(err.Error()), killAbort)
	} else {
		dc.confirm()
	}
	select {
	case <-dc.done:
		if cerr := ctxErr(cctx); cerr != nil {
			return errs.Wrap("stompx: DeleteDurable", cerr, "", nil)
		}
		if fatal := dc.verdict(); fatal != nil {
			return errs.Wrap("stompx: DeleteDurable", fatal, "", nil)
		}
		return errs.Wrap("stompx: DeleteDurable", lostError(dc.cause), "", nil)
	default:
	}
	t.log.Debug("stompx: durable queue deleted", slog.String("queue", ds.queue))
	return nil
}
