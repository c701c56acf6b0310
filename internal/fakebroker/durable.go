package fakebroker

import (
	"cmp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// Queues, acknowledgements and durable subscriptions, as RabbitMQ 3.10's
// STOMP adapter shows them (measured on 3.10.8 with raw frames; the
// scripts of broker_rabbit_test.go run on both brokers).
//
// Every queue is a bqueue, named as RabbitMQ names it: SEND and SUBSCRIBE
// to /queue/Q use the queue Q (made on first use, durable, and kept: a
// consumer of /amq/queue/Q finds it empty); a SUBSCRIBE to /topic/<pattern> with x-queue-name:Q
// (durable:true, auto-delete:false for a durable one) declares the named
// queue Q with the queue arguments of its headers and binds it to the
// pattern. A topic SUBSCRIBE with ack:client or ack:client-individual and
// no name gets a queue of its own, as RabbitMQ's exclusive subscription
// queue: fed exactly what a plain subscription to its destination gets
// (see Routing), deleted with the subscription (so what it left
// unsettled is gone), its prefetch-count and NACK as below. Bindings
// accumulate and outlive consumers and connections until the queue is
// deleted: UNSUBSCRIBE with durable:true (or persistent:true) and
// x-queue-name, x-expires, or the end of the broker, which lives as long
// as its Platform.
//
// Exclusive queues. A named topic SUBSCRIBE with exclusive:true declares
// a queue owned by its connection (never durable, whatever the durable
// header; auto-delete as the header says, else true unless durable:true)
// and deleted when that connection ends. Any other connection that
// SUBSCRIBEs to it (exclusive or not, by topic or /amq/queue/), SENDs to
// /queue/<it>, or SUBSCRIBEs exclusively to an existing queue that it does
// not own gets ERROR resource_locked "RESOURCE_LOCKED - cannot obtain
// exclusive access to locked queue ..." (for a SUBSCRIBE, then its
// RECEIPT) and is closed, with every other subscription of it; what they
// held unsettled goes back. The owner may subscribe to it again; anyone
// may SEND to it through a topic or /amq/queue/.
//
// /amq/queue/<name> is RabbitMQ's default exchange: a SEND goes to that
// existing queue only (to a missing one it is dropped, the RECEIPT still
// comes) and is delivered with destination /queue/<name>; a SUBSCRIBE
// consumes the existing queue, ignoring any queue headers (a missing one:
// ERROR not_found "NOT_FOUND - no queue '<name>' in vhost '/'", RECEIPT,
// close). Dead-letter exchanges: broker_deadletter.go.
//
// Routing. RabbitMQ's /topic/ destinations are routing keys on a topic
// exchange: the platform publishes an event once, to the agent's topic,
// and each queue whose bindings match it ('#' zero or more dot-separated
// words, '*' exactly one) gets one copy, however many of its bindings
// match. This broker matches plain (auto-ack) topic subscriptions exactly
// (as go-stomp's server does), which is why the platform also publishes
// each event to the literal wildcard topics (WithEventWildcards). Those
// extra copies exist for the exact-match subscribers only: a SEND whose
// topic has a wildcard word ('#', '*' or '>') is a pattern, not a routing
// key, and is not routed to queues. So a queue bound to both an agent's topic and
// /topic/iv.agents.# receives each event once, from its agent's topic, as
// on RabbitMQ.
//
// Deliveries. Consumers of a queue take its messages round robin, each
// within its prefetch-count (none: unlimited). With ack:client-individual
// (or ack:client, which acknowledges every earlier delivery of the
// subscription too) a delivery stays the connection's until ACK settles
// it, NACK requeues it (requeue:false drops it, or dead-letters it), or
// the connection ends, which requeues it for the next consumer, marked
// redelivered:true, with a new message-id. Where a requeued message goes
// is RabbitMQ's (see requeue): a classic queue puts it back in its place,
// ahead of every later message, so a NACKed message comes again next; a
// quorum queue puts a NACKed one at the tail, and what a closed connection
// held at the head, in delivery order. Message ids are
// T_<subscription>@@<session>@@<delivery tag>, the tag counting the
// connection's deliveries; as on RabbitMQ, ACK and NACK settle by that
// number, and an unknown one is fatal: RECEIPT (if asked), ERROR
// precondition_failed "unknown delivery tag N", close (see ackFrame).
//
// Bounds. Messages expire (x-message-ttl, or a SEND's expiration header in
// milliseconds, whichever is sooner) while they wait in a queue; they are
// dropped, never delivered, once due. x-max-length and x-max-length-bytes
// drop the oldest waiting message. Whatever the arguments, a queue holds at
// most MaxQueueBacklog messages and MaxQueueBacklogBytes of bodies, waiting
// or delivered and not yet acknowledged: past it the oldest waiting message
// is dropped, counted in Stats().BrokerOverflows and QueueInfo.Dropped,
// and logged once per queue. Expiry is checked as
// messages are handed out and whenever a queue is looked at, against the
// broker's clock, so no timer runs (RabbitMQ runs one: a message it
// dead-letters on expiry arrives sooner there). A queue's consumer_timeout
// is not modelled: a delivery may stay unacked for ever.

// MaxQueueBacklog and MaxQueueBacklogBytes bound the messages one queue of
// the embedded broker holds, waiting or delivered and not yet acknowledged
// (in number, and in bytes of bodies); past either, the oldest waiting
// message is dropped and counted
// (Stats.BrokerOverflows, QueueInfo.Dropped). Give a durable
// subscription WithMaxBacklog to choose a lower bound.
const (
	MaxQueueBacklog      = 100000
	MaxQueueBacklogBytes = 64 << 20
)

type bqueue struct {
	name     string
	declared bool // by a topic SUBSCRIBE: an UNSUBSCRIBE with durable:true deletes it (not a /queue/ one)
	deleted  bool
	args     queueArgs
	bindings []string // routing patterns, "iv.agents.#"
	exact    string   // a plain client-ack subscription's queue: its destination, matched as plain subscriptions match

	ready      []*qmsg // waiting, oldest first
	readyBytes int
	subs       []*bsub
	next       int       // round-robin position
	unacked    int       // deliveries not yet settled
	unackedLen int       // their bodies' bytes
	held       bool      // PauseRequests: deliver nothing
	idleSince  time.Time // when the last consumer left (x-expires)
	owner      *bconn    // exclusive:true: the connection that owns it, nil for a shared queue
	returns    int       // quorum queues: the ready messages at the head that came back from a closed connection
	warned     bool      // the backlog cap was logged

	dropped, expired uint64
}

// qmsg is a message in a queue.
type qmsg struct {
	send        *frame.Frame // the SEND, read-only
	dest        string       // its concrete destination
	deadline    time.Time    // zero: never expires
	redelivered bool
	returns     int    // times it came back unsettled (quorum queues: x-delivery-count)
	seq         uint64 // its place in its queue (classic queues put messages back in place)
	deaths      []death
}

// delivery is an unsettled message of a connection (ack:client or
// ack:client-individual), from the queue of s.
type delivery struct {
	s   *bsub
	m   *qmsg
	tag uint64
}

// queueName returns the queue a /queue/ destination names.
func queueName(dest string) string { return strings.TrimPrefix(dest, "/queue/") }

// implicitQueue returns the queue of a /queue/ destination, making it;
// b.mu is held.
func (b *Broker) implicitQueue(name string) *bqueue {
	q := b.liveQueue(name, b.now())
	if q == nil {
		// RabbitMQ declares /queue/ destinations durable, not auto-delete.
		q = &bqueue{name: name, args: queueArgs{durable: true, args: map[string]string{}, maxLen: -1, maxBytes: -1}}
		b.queues[name] = q
	}
	return q
}

// liveQueue returns the queue name, or nil; a queue whose x-expires has
// run out is deleted first. b.mu is held.
func (b *Broker) liveQueue(name string, now time.Time) *bqueue {
	q := b.queues[name]
	if q != nil && q.args.expires > 0 && len(q.subs) == 0 && !now.Before(q.idleSince.Add(q.args.expires)) {
		b.deleteQueue(q)
		return nil
	}
	return q
}

// subscribeQueue handles a SUBSCRIBE to a queue: /queue/Q, /amq/queue/Q,
// or a topic with a named or durable queue. It returns an error text for
// an ERROR frame (the connection is then closed), or "". The caller
// dispatches the queue's waiting messages once it has queued the RECEIPT.
// b.mu is held.
func (b *Broker) subscribeQueue(c *bconn, s *bsub, f *frame.Frame) (message, body string) {
	var q *bqueue
	switch {
	case isQueue(s.dest):
		if q = b.liveQueue(queueName(s.dest), b.now()); q != nil && q.lockedTo(c) {
			return resourceLocked(q.name)
		}
		q = b.implicitQueue(queueName(s.dest))
	case isAmqQueue(s.dest):
		// An existing queue, whatever the SUBSCRIBE's queue headers.
		name := strings.TrimPrefix(s.dest, amqQueue)
		if q = b.liveQueue(name, b.now()); q == nil {
			return "not_found", "NOT_FOUND - no queue '" + name + "' in vhost '/'"
		} else if q.lockedTo(c) {
			return resourceLocked(q.name)
		}
	default:
		args, err := parseQueueArgs(f)
		if err != nil {
			return "precondition_failed", "PRECONDITION_FAILED - " + err.Error()
		}
		name, named := f.Header.Contains("x-queue-name")
		if (!named || name == "") && !args.durable {
			// A plain subscription with client acks: the connection's own
			// queue, as RabbitMQ's exclusive one, fed what a plain
			// subscription to the same destination gets (the ack mode
			// changes how messages are settled, never which arrive).
			q = &bqueue{name: "stomp-subscription-" + strings.TrimPrefix(c.session, "session-") + "-" + s.id,
				declared: true, args: args, exact: s.dest}
			b.queues[q.name] = q
			b.exact[s.dest] = append(b.exact[s.dest], q)
			break
		}
		if !named || name == "" {
			name = "stomp-subscription-" + s.id
		}
		if q, message, body = b.declare(c, name, args, f.Header.Get("exclusive") == "true"); message != "" {
			return message, body
		}
		if topic := strings.TrimPrefix(s.dest, "/topic/"); !slices.Contains(q.bindings, topic) {
			q.bindings = append(q.bindings, topic)
		}
	}
	s.q = q
	q.subs = append(q.subs, s)
	c.subs[s.id] = s
	return "", ""
}

// declare returns the named queue, made with args if it does not exist,
// or an ERROR's text: another connection's exclusive queue, or one that
// a connection asks for exclusively while it exists, is locked (checked
// before the arguments, as RabbitMQ does); an existing queue must have
// args. An exclusive queue is never durable. b.mu is held.
func (b *Broker) declare(c *bconn, name string, args queueArgs, exclusive bool) (q *bqueue, message, body string) {
	if exclusive {
		args.durable = false
	}
	q = b.liveQueue(name, b.now())
	switch {
	case q == nil:
		q = &bqueue{name: name, declared: true, args: args}
		b.queues[name] = q
		if exclusive {
			q.owner = c
			c.owned = append(c.owned, q)
		}
	case q.lockedTo(c) || (exclusive && q.owner != c):
		message, body = resourceLocked(name)
		return nil, message, body
	default:
		if msg := q.equivalent(args); msg != "" {
			return nil, "precondition_failed", msg
		}
	}
	q.declared = true
	b.bound[name] = q
	return q, "", ""
}

// lockedTo reports whether q is another connection's than c's exclusive
// queue.
func (q *bqueue) lockedTo(c *bconn) bool { return q.owner != nil && q.owner != c }

// resourceLocked is RabbitMQ's ERROR for a queue held exclusively by
// another connection (verified on 3.10).
func resourceLocked(name string) (message, body string) {
	return "resource_locked", "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '" + name +
		"' in vhost '/'. It could be originally declared on another connection or the exclusive property value " +
		"does not match that of the original declaration."
}

// enqueue adds the message m to q; b.mu is held.
func (b *Broker) enqueue(q *bqueue, m *qmsg, now time.Time) {
	f := m.send
	b.seq++
	m.seq = b.seq
	if q.args.ttl > 0 {
		m.deadline = now.Add(q.args.ttl)
	}
	if v, ok := f.Header.Contains("expiration"); ok {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms >= 0 {
			if d := now.Add(time.Duration(ms) * time.Millisecond); m.deadline.IsZero() || d.Before(m.deadline) {
				m.deadline = d
			}
		}
	}
	q.ready = append(q.ready, m)
	q.readyBytes += len(f.Body)
	for len(q.ready) > 0 {
		capped := len(q.ready)+q.unacked > b.maxBacklog || q.readyBytes+q.unackedLen > b.maxBacklogBytes
		limited := (q.args.maxLen >= 0 && len(q.ready) > q.args.maxLen) ||
			(q.args.maxBytes >= 0 && q.readyBytes > q.args.maxBytes)
		if !capped && !limited {
			break
		}
		dropped := b.popHead(q)
		q.dropped++
		if limited {
			b.deadLetter(q, dropped, "maxlen")
		}
		if capped && !limited {
			b.overflows.Add(1)
			if !q.warned {
				q.warned = true
				b.log.Warn("ivtest broker: a queue reached its backlog cap; dropping its oldest messages",
					"queue", q.name, "messages", b.maxBacklog, "bytes", b.maxBacklogBytes)
			}
		}
	}
}

func (b *Broker) popHead(q *bqueue) *qmsg {
	m := q.ready[0]
	q.ready[0] = nil
	q.ready = q.ready[1:]
	q.readyBytes -= len(m.send.Body)
	if q.returns > 0 {
		q.returns--
	}
	return m
}

// dispatch hands q's waiting messages to its consumers, round robin within
// their prefetch; b.mu is held.
func (b *Broker) dispatch(q *bqueue) {
	if q.held || q.deleted {
		return
	}
	now := b.now()
	for len(q.ready) > 0 {
		if m := q.ready[0]; !m.deadline.IsZero() && !now.Before(m.deadline) {
			q.expired++
			b.deadLetter(q, b.popHead(q), "expired")
			continue
		}
		s := q.pick()
		if s == nil {
			return
		}
		b.deliverQueued(s, b.popHead(q))
	}
}

// pick returns the next consumer with room under its prefetch, or nil.
func (q *bqueue) pick() *bsub {
	n := len(q.subs)
	for i := 0; i < n; i++ {
		j := (q.next + i) % n
		if s := q.subs[j]; s.prefetch == 0 || s.inflight < s.prefetch {
			q.next = (j + 1) % n
			return s
		}
	}
	return nil
}

// deliverQueued sends m to s; b.mu is held.
func (b *Broker) deliverQueued(s *bsub, m *qmsg) {
	count := 0
	if s.q.args.queueType == "quorum" {
		count = m.returns // quorum queues say how often a message came back
	}
	tag := b.deliver(s, m.send, m.dest, m.redelivered, count)
	if s.ack == frame.AckAuto {
		return
	}
	s.c.unacked[tag] = &delivery{s: s, m: m, tag: tag}
	s.inflight++
	s.q.unacked++
	s.q.unackedLen += len(m.send.Body)
}

// How deliveries are settled.
const (
	settleAck    = iota // ACK
	settleReject        // NACK requeue:false: dropped, or dead-lettered
	settleNack          // NACK: put back
	settleReturn        // the connection closed: put back
)

// settle ends the deliveries ds of c as how says. What is put back is
// marked redelivered; see requeue for where it goes. b.mu is held.
func (b *Broker) settle(c *bconn, ds []*delivery, how int) {
	sort.Slice(ds, func(i, j int) bool { return ds[i].tag < ds[j].tag })
	var queues []*bqueue
	back := map[*bqueue][]*qmsg{}
	for _, d := range ds {
		delete(c.unacked, d.tag)
		d.s.inflight--
		q := d.s.q
		q.unacked--
		q.unackedLen -= len(d.m.send.Body)
		if !slices.Contains(queues, q) {
			queues = append(queues, q)
		}
		switch {
		case q.deleted:
		case how == settleNack || how == settleReturn:
			d.m.redelivered = true
			d.m.returns++
			back[q] = append(back[q], d.m)
		case how == settleReject:
			b.deadLetter(q, d.m, "rejected")
		}
	}
	for _, q := range queues {
		b.requeue(q, back[q], how == settleReturn)
		b.dispatch(q) // returned messages, or room under a prefetch
	}
}

// requeue puts ms, in delivery order, back into q as RabbitMQ 3.10 does
// (measured): a classic queue puts each message back in its place, ahead
// of those that came after it; a quorum queue puts what a closed
// connection returns at the head, after what came back earlier, in
// delivery order, and a NACKed message at the tail. b.mu is held.
func (b *Broker) requeue(q *bqueue, ms []*qmsg, closed bool) {
	if len(ms) == 0 {
		return
	}
	for _, m := range ms {
		q.readyBytes += len(m.send.Body)
	}
	switch {
	case q.args.queueType != "quorum":
		slices.SortFunc(ms, func(a, b *qmsg) int { return cmp.Compare(a.seq, b.seq) })
		merged := make([]*qmsg, 0, len(q.ready)+len(ms))
		i, j := 0, 0
		for i < len(q.ready) || j < len(ms) {
			if j == len(ms) || (i < len(q.ready) && q.ready[i].seq < ms[j].seq) {
				merged = append(merged, q.ready[i])
				i++
			} else {
				merged = append(merged, ms[j])
				j++
			}
		}
		q.ready = merged
	case closed:
		q.ready = slices.Insert(q.ready, q.returns, ms...)
		q.returns += len(ms)
	default:
		q.ready = append(q.ready, ms...)
	}
}

// deleteDurable handles UNSUBSCRIBE with durable:true (or persistent:true)
// and x-queue-name: the queue is deleted with its messages, and its other
// consumers are cancelled. b.mu is held. It does nothing when id names no
// subscription of c.
func (b *Broker) deleteDurable(c *bconn, id, name string) {
	s, ok := c.subs[id]
	if !ok {
		return
	}
	delete(c.subs, id)
	b.removeSub(s)
	if s.q == nil || !s.q.declared {
		return // a /queue/ or plain subscription: nothing is deleted
	}
	if q := b.queues[name]; q != nil && q.declared {
		b.deleteQueue(q)
	}
}

// deleteQueue removes q; its consumers get RabbitMQ's cancellation ERROR
// (their connections stay open). b.mu is held.
func (b *Broker) deleteQueue(q *bqueue) {
	q.deleted = true
	if b.queues[q.name] == q {
		delete(b.queues, q.name)
	}
	if b.bound[q.name] == q {
		delete(b.bound, q.name)
	}
	if q.exact != "" {
		if qs := slices.DeleteFunc(b.exact[q.exact], func(x *bqueue) bool { return x == q }); len(qs) > 0 {
			b.exact[q.exact] = qs
		} else {
			delete(b.exact, q.exact)
		}
	}
	for _, s := range q.subs {
		if s.c.subs != nil {
			delete(s.c.subs, s.id)
		}
		e := errorFrame("Server cancelled subscription",
			"The server has canceled a subscription.\nNo more messages will be delivered for \"id='"+s.id+"'\".\n")
		e.Header.Add(frame.Subscription, s.id)
		s.c.enqueue(e, false)
	}
	q.subs = nil
	q.ready = nil
	q.readyBytes = 0
}

// holdQueue stops (or resumes) deliveries from the queue name, as if its
// consumers were gone; messages wait and expire meanwhile.
func (b *Broker) holdQueue(name string, hold bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.implicitQueue(name)
	q.held = hold
	b.dispatch(q)
}

// QueueInfo describes one queue of the embedded broker.
type QueueInfo struct {
	Name      string            // the queue's name: x-queue-name, or Q for /queue/Q
	Durable   bool              // declared durable:true
	Bindings  []string          // the topics bound to it, "/topic/iv.agents.#", in the order they were bound
	Args      map[string]string // the queue arguments it was declared with, "x-max-length": "5"
	Ready     int               // messages waiting for a consumer
	Unacked   int               // messages delivered and not yet acknowledged
	Consumers int               // subscriptions consuming it
	Dropped   uint64            // oldest messages dropped: x-max-length, x-max-length-bytes or MaxQueueBacklog
	Expired   uint64            // messages dropped because their TTL or expiration passed while they waited
}

func (b *Broker) queueInfo(name string) (QueueInfo, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	q := b.liveQueue(name, now)
	if q == nil {
		return QueueInfo{}, false
	}
	// Count what is due as expired, wherever it waits.
	var due []*qmsg
	kept := q.ready[:0]
	for i, m := range q.ready {
		if !m.deadline.IsZero() && !now.Before(m.deadline) {
			q.readyBytes -= len(m.send.Body)
			q.expired++
			if i < q.returns {
				q.returns--
			}
			due = append(due, m)
			continue
		}
		kept = append(kept, m)
	}
	clear(q.ready[len(kept):])
	q.ready = kept
	for _, m := range due {
		b.deadLetter(q, m, "expired")
	}
	info := QueueInfo{Name: q.name, Durable: q.args.durable, Ready: len(q.ready), Unacked: q.unacked,
		Consumers: len(q.subs), Dropped: q.dropped, Expired: q.expired, Args: map[string]string{}}
	for _, p := range q.bindings {
		info.Bindings = append(info.Bindings, "/topic/"+p)
	}
	for k, v := range q.args.args {
		info.Args[k] = v
	}
	return info, true
}
