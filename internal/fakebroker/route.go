package fakebroker

import (
	"strconv"
	"strings"

	"github.com/go-stomp/stomp/v3/frame"
)

// Subscriptions and routing.

// detach ends c's subscriptions; what c had not settled goes back to its
// queues, for the next consumer, marked redelivered; c's exclusive queues
// are deleted. b.mu is held.
func (b *Broker) detach(c *bconn) {
	for _, s := range c.subs {
		b.removeSub(s)
	}
	c.subs = nil
	ds := make([]*delivery, 0, len(c.unacked))
	for _, d := range c.unacked {
		ds = append(ds, d)
	}
	b.settle(c, ds, settleReturn)
	for _, q := range c.owned {
		if !q.deleted {
			b.deleteQueue(q)
		}
	}
	c.owned = nil
}

func (b *Broker) unsubscribe(c *bconn, id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := c.subs[id]; ok {
		delete(c.subs, id)
		b.removeSub(s)
	}
}

// removeSub forgets s; its unsettled deliveries stay the connection's
// (they can still be acknowledged) until it closes. b.mu is held.
func (b *Broker) removeSub(s *bsub) {
	if q := s.q; q != nil {
		q.subs = without(q.subs, s)
		if len(q.subs) == 0 && !q.deleted {
			q.idleSince = b.now()
			if q.declared && q.args.autoDelete {
				b.deleteQueue(q)
				return
			}
		}
		b.dispatch(q) // what s could not take may suit another consumer
		return
	}
	subs := without(b.topics[s.dest], s)
	if len(subs) == 0 {
		delete(b.topics, s.dest)
	} else {
		b.topics[s.dest] = subs
	}
}

func without(list []*bsub, s *bsub) []*bsub {
	for i, x := range list {
		if x == s {
			out := make([]*bsub, 0, len(list)-1)
			out = append(out, list[:i]...)
			return append(out, list[i+1:]...)
		}
	}
	return list
}

func isQueue(dest string) bool { return strings.HasPrefix(dest, "/queue/") }

// amqQueue is RabbitMQ's destination of an existing queue by name, through
// the default exchange: /amq/queue/<name>.
const amqQueue = "/amq/queue/"

func isAmqQueue(dest string) bool { return strings.HasPrefix(dest, amqQueue) }

// route delivers a SEND from c: to a /queue/ (made if need be), to an
// existing queue by name (/amq/queue/; to a missing one it is dropped, as
// on RabbitMQ), or to a topic's subscribers and the queues bound to it. It
// returns an error text for an ERROR frame (the connection is then
// closed), or "".
func (b *Broker) route(c *bconn, dest string, f *frame.Frame) (message, body string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case isQueue(dest):
		q := b.liveQueue(queueName(dest), b.now())
		if q != nil && q.lockedTo(c) {
			return resourceLocked(q.name)
		}
		b.publishTo(b.implicitQueue(queueName(dest)), dest, f, nil)
	case isAmqQueue(dest):
		name := strings.TrimPrefix(dest, amqQueue)
		if q := b.liveQueue(name, b.now()); q != nil {
			b.publishTo(q, "/queue/"+name, f, nil)
		}
	default:
		b.publishTopic(dest, f, nil)
	}
	return "", ""
}

// publishTo adds f to q, bound for dest, and hands it out; deaths are the
// queues it was dead-lettered from. b.mu is held.
func (b *Broker) publishTo(q *bqueue, dest string, f *frame.Frame, deaths []death) {
	b.enqueue(q, &qmsg{send: f, dest: dest, deaths: deaths}, b.now())
	b.dispatch(q)
}

// publishTopic delivers f to the subscribers of the topic dest and to the
// queues bound to it. b.mu is held.
func (b *Broker) publishTopic(dest string, f *frame.Frame, deaths []death) {
	now := b.now()
	for _, s := range b.topics[dest] {
		b.deliver(s, f, dest, false, 0)
	}
	for _, q := range b.exact[dest] {
		b.publishTo(q, dest, f, deaths)
	}
	if len(b.bound) == 0 {
		return
	}
	key, ok := strings.CutPrefix(dest, "/topic/")
	if !ok || isPattern(key) {
		return // see the routing note in broker_durable.go
	}
	for name, q := range b.bound {
		if q = b.liveQueue(name, now); q == nil {
			continue
		}
		for _, p := range q.bindings {
			if topicMatch(p, key) {
				b.publishTo(q, dest, f, deaths) // once, however many bindings match
				break
			}
		}
	}
}

// deliver turns the SEND f into a MESSAGE for s and returns its delivery
// tag; b.mu is held. The SEND's headers are kept, except those that belong
// to the SEND itself. count > 0 adds x-delivery-count (quorum queues).
func (b *Broker) deliver(s *bsub, f *frame.Frame, dest string, redelivered bool, count int) uint64 {
	c := s.c
	c.tag++
	id := "T_" + s.id + "@@" + c.session + "@@" + strconv.FormatUint(c.tag, 10)
	m := frame.New(frame.MESSAGE)
	for i := 0; i < f.Header.Len(); i++ {
		k, v := f.Header.GetAt(i)
		switch k {
		case frame.Receipt, frame.Transaction, frame.ContentLength, frame.Destination,
			frame.MessageId, frame.Subscription, frame.Ack, "redelivered", "x-delivery-count":
			continue
		}
		m.Header.Add(k, v)
	}
	m.Header.Set(frame.Subscription, s.id)
	m.Header.Set(frame.Destination, dest)
	m.Header.Set(frame.MessageId, id)
	m.Header.Set("redelivered", strconv.FormatBool(redelivered))
	if s.ack != frame.AckAuto {
		m.Header.Set(frame.Ack, id)
	}
	if count > 0 {
		m.Header.Set("x-delivery-count", strconv.Itoa(count))
	}
	m.Header.Set(frame.ContentLength, strconv.Itoa(len(f.Body)))
	m.Body = f.Body // read-only from here on, shared by every copy
	c.enqueue(m, false)
	return c.tag
}
