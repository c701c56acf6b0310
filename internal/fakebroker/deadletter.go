package fakebroker

import "strings"

// Dead letters, as RabbitMQ 3.10 makes them (measured). A queue declared
// with x-dead-letter-exchange republishes a message it drops for one of
// three reasons: a NACK with requeue:false ("rejected"), x-max-length or
// x-max-length-bytes ("maxlen"; not MaxQueueBacklog, which is ivtest's
// own), or x-message-ttl or expiration ("expired", noticed as expiry is:
// when the queue is next looked at). It goes to the exchange with
// x-dead-letter-routing-key, or with the routing key it was published
// with. Of RabbitMQ's exchanges this broker has two: "" (the default
// exchange: the queue of that name, if it exists; delivered with
// destination /queue/<key>) and "amq.topic" (/topic/<key>, routed as a
// SEND there); a message dead-lettered to any other is dropped, as
// RabbitMQ drops one sent to an exchange that does not exist. The copy
// keeps the SEND's headers but expiration and gains, unless it has them
// from an earlier death, x-first-death-exchange ("amq.topic" for /topic/,
// "" for /queue/ and /amq/queue/), x-first-death-queue and
// x-first-death-reason; it arrives with redelivered:false. A message
// dead-lettered back to a queue it already died in, with no rejection on
// the way, is dropped (RabbitMQ's cycle rule).

// death is one dead-lettering of a message.
type death struct {
	queue, reason string
}

// exchangeOf returns the exchange and routing key a message bound for dest
// was published with.
func exchangeOf(dest string) (exchange, key string) {
	if key, ok := strings.CutPrefix(dest, "/topic/"); ok {
		return "amq.topic", key
	}
	return "", strings.TrimPrefix(dest, "/queue/")
}

// deadLetter republishes m, which q dropped for reason, when q has a
// dead-letter exchange. b.mu is held.
func (b *Broker) deadLetter(q *bqueue, m *qmsg, reason string) {
	ex, ok := q.args.args["x-dead-letter-exchange"]
	if !ok {
		return
	}
	if reason != "rejected" {
		cycle, rejected := false, false
		for _, d := range m.deaths {
			cycle = cycle || d.queue == q.name
			rejected = rejected || d.reason == "rejected"
		}
		if cycle && !rejected {
			return
		}
	}
	from, key := exchangeOf(m.dest)
	if rk, ok := q.args.args["x-dead-letter-routing-key"]; ok {
		key = rk
	}
	f := m.send.Clone()
	f.Header.Del("expiration")
	if _, ok := f.Header.Contains("x-first-death-reason"); !ok {
		f.Header.Add("x-first-death-exchange", from)
		f.Header.Add("x-first-death-queue", q.name)
		f.Header.Add("x-first-death-reason", reason)
	}
	deaths := append(m.deaths[:len(m.deaths):len(m.deaths)], death{q.name, reason})
	switch ex {
	case "":
		if to := b.liveQueue(key, b.now()); to != nil {
			b.publishTo(to, "/queue/"+key, f, deaths)
		}
	case "amq.topic":
		b.publishTopic("/topic/"+key, f, deaths)
	}
}
