package ivtest

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// Queues, acknowledgements and durable subscriptions, as RabbitMQ 3.10's
// STOMP adapter shows them (../shared/research/rabbitmq-durable-events.md).
//
// Every queue is a bqueue, named as RabbitMQ names it: SEND and SUBSCRIBE
// to /queue/Q use the queue Q (made on first use, forgotten again once it
// is empty and unused); a SUBSCRIBE to /topic/<pattern> with x-queue-name:Q
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
// it, NACK requeues it (requeue:false drops it), or the connection ends,
// which requeues it at the head of its queue for the next consumer,
// marked redelivered:true, with a new message-id. Message ids are
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
// is dropped, counted in Stats().BrokerOverflows and BrokerQueue.Dropped,
// and logged once per queue. Expiry is checked as
// messages are handed out and whenever a queue is looked at, against the
// broker's clock, so no timer runs.

// MaxQueueBacklog and MaxQueueBacklogBytes bound the messages one queue of
// the embedded broker holds, waiting or delivered and not yet acknowledged
// (in number, and in bytes of bodies); past either, the oldest waiting
// message is dropped and counted
// (Stats.BrokerOverflows, BrokerQueue.Dropped). Give a durable
// subscription WithMaxBacklog to choose a lower bound.
const (
	MaxQueueBacklog      = 100000
	MaxQueueBacklogBytes = 64 << 20
)

// The queue arguments a SUBSCRIBE header may carry, in the order RabbitMQ
// checks them, with their AMQP types. Others (x-overflow, x-queue-mode,
// x-single-active-consumer) RabbitMQ's STOMP adapter does not apply.
var queueArgKeys = [...]struct{ key, typ string }{
	{"x-queue-type", "longstr"},
	{"x-expires", "long"},
	{"x-message-ttl", "long"},
	{"x-dead-letter-exchange", "longstr"},
	{"x-dead-letter-routing-key", "longstr"},
	{"x-max-length", "long"},
	{"x-max-length-bytes", "long"},
	{"x-max-priority", "long"},
}

// maxArgMillis bounds the durations of queue arguments (about 100 years),
// so that they fit a time.Duration.
const maxArgMillis = 100 * 365 * 24 * 3600 * 1000

// queueArgs are the properties a queue was declared with.
type queueArgs struct {
	durable, autoDelete bool
	args                map[string]string // x-* arguments as sent; numbers canonical
	queueType           string            // "quorum", or "" for classic
	ttl, expires        time.Duration     // x-message-ttl, x-expires; 0: none
	maxLen, maxBytes    int               // x-max-length, x-max-length-bytes; -1: none
}

type bqueue struct {
	name     string
	declared bool // by a topic SUBSCRIBE: kept until deleted; else forgotten when empty and unused
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
	warned     bool      // the backlog cap was logged

	dropped, expired uint64
}

// qmsg is a message in a queue.
type qmsg struct {
	send        *frame.Frame // the SEND, read-only
	dest        string       // its concrete destination
	deadline    time.Time    // zero: never expires
	redelivered bool
	returns     int // times it came back unsettled (quorum queues: x-delivery-count)
}

// delivery is an unsettled message of a connection (ack:client or
// ack:client-individual), from the queue of s.
type delivery struct {
	s   *bsub
	m   *qmsg
	tag uint64
}

// parseQueueArgs reads the queue properties of a topic SUBSCRIBE.
func parseQueueArgs(f *frame.Frame) (queueArgs, error) {
	a := queueArgs{args: map[string]string{}, maxLen: -1, maxBytes: -1}
	a.durable = f.Header.Get("durable") == "true" || f.Header.Get("persistent") == "true"
	a.autoDelete = !a.durable
	if v, ok := f.Header.Contains("auto-delete"); ok {
		a.autoDelete = v == "true"
	}
	for _, k := range queueArgKeys {
		v, ok := f.Header.Contains(k.key)
		if !ok {
			continue
		}
		if k.typ == "long" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return a, fmt.Errorf("invalid arg '%s': %q is not a non-negative integer", k.key, v)
			}
			v = strconv.FormatInt(n, 10)
			ms := time.Duration(min(n, maxArgMillis)) * time.Millisecond
			switch k.key {
			case "x-message-ttl":
				a.ttl = ms
			case "x-expires":
				if n == 0 {
					return a, fmt.Errorf("invalid arg 'x-expires': must be positive")
				}
				a.expires = ms
			case "x-max-length": // past the cap, the cap applies anyway
				a.maxLen = int(min(n, MaxQueueBacklog+1))
			case "x-max-length-bytes":
				a.maxBytes = int(min(n, MaxQueueBacklogBytes+1))
			}
		}
		if k.key == "x-queue-type" {
			if v != "classic" && v != "quorum" {
				return a, fmt.Errorf("invalid arg 'x-queue-type': unknown queue type %q", v)
			}
			if v == "classic" {
				continue // the default: the same as none
			}
			a.queueType = v
		}
		a.args[k.key] = v
	}
	return a, nil
}

// equivalent returns RabbitMQ's PRECONDITION_FAILED text when a SUBSCRIBE
// with the arguments got declares the existing queue q differently, or "".
func (q *bqueue) equivalent(got queueArgs) string {
	fail := func(key, received, current string) string {
		return fmt.Sprintf("PRECONDITION_FAILED - inequivalent arg '%s' for queue '%s' in vhost '/': received %s but current is %s",
			key, q.name, received, current)
	}
	if got.durable != q.args.durable {
		return fail("durable", quoteBool(got.durable), quoteBool(q.args.durable))
	}
	if got.autoDelete != q.args.autoDelete {
		return fail("auto_delete", quoteBool(got.autoDelete), quoteBool(q.args.autoDelete))
	}
	for _, k := range queueArgKeys {
		g, gok := got.args[k.key]
		c, cok := q.args.args[k.key]
		switch {
		case gok && cok && g != c:
			return fail(k.key, "'"+g+"'", "'"+c+"'")
		case gok && !cok:
			return fail(k.key, "the value '"+g+"' of type '"+k.typ+"'", "none")
		case !gok && cok:
			return fail(k.key, "none", "the value '"+c+"' of type '"+k.typ+"'")
		}
	}
	return ""
}

func quoteBool(b bool) string { return "'" + strconv.FormatBool(b) + "'" }

// topicMatch reports whether the routing key matches the binding pattern,
// as RabbitMQ's topic exchange matches: words are separated by dots, '*'
// matches exactly one, '#' zero or more.
func topicMatch(pattern, key string) bool {
	return matchWords(strings.Split(pattern, "."), strings.Split(key, "."))
}

// matchWords matches in time len(p)*len(k), whatever the pattern (a
// backtracking match is exponential in the number of '#' words): after
// the loop for pattern word i, next[j] says whether p[i:] matches k[j:].
func matchWords(p, k []string) bool {
	next := make([]bool, len(k)+1)
	cur := make([]bool, len(k)+1)
	next[len(k)] = true // the empty pattern matches the empty key only
	for i := len(p) - 1; i >= 0; i-- {
		for j := len(k); j >= 0; j-- {
			switch {
			case p[i] == "#": // zero words, or one more
				cur[j] = next[j] || (j < len(k) && cur[j+1])
			case j == len(k):
				cur[j] = false
			case p[i] == "*" || p[i] == k[j]:
				cur[j] = next[j+1]
			default:
				cur[j] = false
			}
		}
		next, cur = cur, next
	}
	return next[0]
}

// isPattern reports whether a topic has a wildcard word, so that it is a
// pattern rather than a routing key (see the routing note above).
func isPattern(topic string) bool {
	for topic != "" {
		w, rest, _ := strings.Cut(topic, ".")
		if w == "#" || w == "*" || w == ">" {
			return true
		}
		topic = rest
	}
	return false
}

// queueName returns the queue a /queue/ destination names.
func queueName(dest string) string { return strings.TrimPrefix(dest, "/queue/") }

// implicitQueue returns the queue of a /queue/ destination, making it;
// b.mu is held.
func (b *broker) implicitQueue(name string) *bqueue {
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
func (b *broker) liveQueue(name string, now time.Time) *bqueue {
	q := b.queues[name]
	if q != nil && q.args.expires > 0 && len(q.subs) == 0 && !now.Before(q.idleSince.Add(q.args.expires)) {
		b.deleteQueue(q)
		return nil
	}
	return q
}

// subscribeQueue handles a SUBSCRIBE to a queue: /queue/Q, or a topic with
// a named or durable queue. It returns an error text for an ERROR frame
// (the connection is then closed), or "". The caller dispatches the
// queue's waiting messages once it has queued the RECEIPT. b.mu is held.
func (b *broker) subscribeQueue(c *bconn, s *bsub, f *frame.Frame) (message, body string) {
	now := b.now()
	var q *bqueue
	if isQueue(s.dest) {
		q = b.implicitQueue(queueName(s.dest))
	} else {
		topic := strings.TrimPrefix(s.dest, "/topic/")
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
		} else {
			if !named || name == "" {
				name = "stomp-subscription-" + s.id
			}
			q = b.liveQueue(name, now)
			if q == nil {
				q = &bqueue{name: name, declared: true, args: args}
				b.queues[name] = q
			} else if msg := q.equivalent(args); msg != "" {
				return "precondition_failed", msg
			}
			q.declared = true
			if !slices.Contains(q.bindings, topic) {
				q.bindings = append(q.bindings, topic)
			}
			b.bound[name] = q
		}
	}
	s.q = q
	q.subs = append(q.subs, s)
	c.subs[s.id] = s
	return "", ""
}

// enqueue adds the SEND f, bound for dest, to q; b.mu is held.
func (b *broker) enqueue(q *bqueue, dest string, f *frame.Frame, now time.Time) {
	m := &qmsg{send: f, dest: dest}
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
		b.popHead(q)
		q.dropped++
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

func (b *broker) popHead(q *bqueue) *qmsg {
	m := q.ready[0]
	q.ready[0] = nil
	q.ready = q.ready[1:]
	q.readyBytes -= len(m.send.Body)
	return m
}

// dispatch hands q's waiting messages to its consumers, round robin within
// their prefetch; b.mu is held.
func (b *broker) dispatch(q *bqueue) {
	if q.held || q.deleted {
		return
	}
	now := b.now()
	for len(q.ready) > 0 {
		if m := q.ready[0]; !m.deadline.IsZero() && !now.Before(m.deadline) {
			b.popHead(q)
			q.expired++
			continue
		}
		s := q.pick()
		if s == nil {
			return
		}
		b.deliverQueued(s, b.popHead(q))
	}
	b.maybeForget(q)
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
func (b *broker) deliverQueued(s *bsub, m *qmsg) {
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

// maybeForget forgets an implicit queue nobody uses; b.mu is held.
func (b *broker) maybeForget(q *bqueue) {
	if !q.declared && !q.held && len(q.subs) == 0 && len(q.ready) == 0 && q.unacked == 0 && b.queues[q.name] == q {
		delete(b.queues, q.name)
	}
}

// settle ends the deliveries ds of c: acknowledged or dropped (requeue
// false), or returned to the head of their queues in delivery order
// (requeue true), marked redelivered. b.mu is held.
func (b *broker) settle(c *bconn, ds []*delivery, requeue bool) {
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
		if requeue && !q.deleted {
			d.m.redelivered = true
			d.m.returns++
			back[q] = append(back[q], d.m)
		}
	}
	for _, q := range queues {
		if ms := back[q]; len(ms) > 0 {
			for _, m := range ms {
				q.readyBytes += len(m.send.Body)
			}
			q.ready = append(ms, q.ready...)
		}
		b.dispatch(q) // returned messages, or room under a prefetch
		b.maybeForget(q)
	}
}

// ackFrame handles ACK and NACK as RabbitMQ does (verified on 3.10): an
// id that is missing, not of the T_<subscription>@@<session>@@<tag> form,
// or names no subscription of the connection gets an ERROR and nothing
// more; an id whose delivery tag is not unsettled on the connection is
// fatal. Only the tag counts, not the session, so an id from an earlier
// connection settles whatever has that tag on this one. It returns false
// when the connection is to end.
func (c *bconn) ackFrame(f *frame.Frame) bool {
	id, ok := f.Header.Contains(frame.Id)
	if !ok {
		id, ok = f.Header.Contains(frame.MessageId) // STOMP 1.0 and 1.1
	}
	if !ok {
		c.sendError("Missing header", `"`+f.Command+`" must include the "id" header`+"\n")
		return true
	}
	parts := strings.Split(strings.TrimPrefix(id, "T_"), "@@")
	tag, err := strconv.ParseUint(parts[len(parts)-1], 10, 64)
	if !strings.HasPrefix(id, "T_") || len(parts) != 3 || err != nil {
		c.sendError("Invalid header", `"`+f.Command+`" must include a valid "id" header`+"\n")
		return true
	}
	b := c.b
	b.mu.Lock()
	if _, ok := c.subs[parts[0]]; !ok {
		b.mu.Unlock()
		c.sendError("Subscription not found", `Message with id "`+id+`" has no subscription`)
		return true
	}
	d := c.unacked[tag]
	if d == nil {
		b.mu.Unlock()
		return c.failAfterReceipt("precondition_failed", "PRECONDITION_FAILED - unknown delivery tag "+strconv.FormatUint(tag, 10), f)
	}
	ds := []*delivery{d}
	if d.s.ack == frame.AckClient {
		// AMQP's multiple flag: every earlier delivery of the connection.
		for t, e := range c.unacked {
			if t < tag {
				ds = append(ds, e)
			}
		}
	}
	requeue := f.Command == frame.NACK && f.Header.Get("requeue") != "false"
	b.settle(c, ds, requeue)
	b.mu.Unlock()
	c.receipt(f)
	return true
}

// sendError queues an ERROR frame that leaves the connection open.
func (c *bconn) sendError(message, body string) {
	e := frame.New(frame.ERROR, frame.Message, message, frame.ContentType, "text/plain")
	e.Body = []byte(body)
	c.enqueue(e, false)
}

// failAfterReceipt queues f's RECEIPT (if it asked for one), then an
// ERROR frame with a body, then closes the connection, as RabbitMQ does
// when a frame it took fails.
func (c *bconn) failAfterReceipt(message, body string, f *frame.Frame) bool {
	c.receipt(f)
	e := frame.New(frame.ERROR, frame.Message, message, frame.ContentType, "text/plain")
	e.Body = []byte(body)
	c.enqueue(e, true)
	return false
}

// deleteDurable handles UNSUBSCRIBE with durable:true (or persistent:true)
// and x-queue-name: the queue is deleted with its messages, and its other
// consumers are cancelled. b.mu is held. It reports false when id names no
// subscription of c.
func (b *broker) deleteDurable(c *bconn, id, name string) bool {
	s, ok := c.subs[id]
	if !ok {
		return false
	}
	delete(c.subs, id)
	b.removeSub(s)
	if s.q == nil || !s.q.declared {
		return true // a /queue/ or plain subscription: nothing is deleted
	}
	if q := b.queues[name]; q != nil && q.declared {
		b.deleteQueue(q)
	}
	return true
}

// deleteQueue removes q; its consumers get RabbitMQ's cancellation ERROR
// (their connections stay open). b.mu is held.
func (b *broker) deleteQueue(q *bqueue) {
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
		e := frame.New(frame.ERROR, frame.Message, "Server cancelled subscription", frame.Subscription, s.id,
			frame.ContentType, "text/plain")
		e.Body = []byte("The server has canceled a subscription.\nNo more messages will be delivered for \"id='" + s.id + "'\".")
		s.c.enqueue(e, false)
	}
	q.subs = nil
	q.ready = nil
	q.readyBytes = 0
}

// holdQueue stops (or resumes) deliveries from the queue name, as if its
// consumers were gone; messages wait and expire meanwhile.
func (b *broker) holdQueue(name string, hold bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.implicitQueue(name)
	q.held = hold
	b.dispatch(q)
}

// BrokerQueue describes one queue of the embedded broker.
type BrokerQueue struct {
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

func (b *broker) queueInfo(name string) (BrokerQueue, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	q := b.liveQueue(name, now)
	if q == nil {
		return BrokerQueue{}, false
	}
	// Count what is due as expired, wherever it waits.
	kept := q.ready[:0]
	for _, m := range q.ready {
		if !m.deadline.IsZero() && !now.Before(m.deadline) {
			q.readyBytes -= len(m.send.Body)
			q.expired++
			continue
		}
		kept = append(kept, m)
	}
	clear(q.ready[len(kept):])
	q.ready = kept
	info := BrokerQueue{Name: q.name, Durable: q.args.durable, Ready: len(q.ready), Unacked: q.unacked,
		Consumers: len(q.subs), Dropped: q.dropped, Expired: q.expired, Args: map[string]string{}}
	for _, p := range q.bindings {
		info.Bindings = append(info.Bindings, "/topic/"+p)
	}
	for k, v := range q.args.args {
		info.Args[k] = v
	}
	return info, true
}
