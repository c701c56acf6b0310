package fakebroker

import (
	"strconv"
	"strings"

	"github.com/go-stomp/stomp/v3/frame"
)

// Frames from clients: what each command does.

// handle processes one client frame; false ends the connection's reading.
func (c *bconn) handle(f *frame.Frame) bool {
	if _, ok := f.Header.Contains(frame.MessageId); ok && f.Command == frame.SEND {
		// RabbitMQ: not sent, no RECEIPT; the connection stays.
		c.sendError("Invalid header", "'message-id' is not allowed on 'SEND'.\n")
		return true
	}
	if tx, ok := f.Header.Contains(frame.Transaction); ok && (f.Command == frame.SEND || f.Command == frame.ACK || f.Command == frame.NACK) {
		if _, open := c.tx[tx]; !open {
			return c.fail("unknown transaction", f)
		}
		f.Header.Del(frame.Transaction)
		c.receipt(f)
		f.Header.Del(frame.Receipt)
		c.tx[tx] = append(c.tx[tx], f)
		return true
	}
	switch f.Command {
	case frame.SEND:
		dest, ok := f.Header.Contains(frame.Destination)
		if !ok || dest == "" {
			return c.fail("SEND without destination", f)
		}
		if !c.send(dest, f) {
			return false
		}
	case frame.SUBSCRIBE:
		dest, ok := f.Header.Contains(frame.Destination)
		id, ok2 := f.Header.Contains(frame.Id)
		if !ok || dest == "" {
			return c.fail("SUBSCRIBE without destination", f)
		}
		if !ok2 {
			if c.version != "1.0" {
				return c.fail("SUBSCRIBE without id", f)
			}
			id = dest
		}
		return c.subscribe(id, dest, f)
	case frame.UNSUBSCRIBE:
		return c.unsubscribeFrame(f)
	case frame.ACK, frame.NACK:
		return c.ackFrame(f)
	case frame.BEGIN, frame.COMMIT, frame.ABORT:
		if !c.txFrame(f) {
			return false
		}
	case frame.DISCONNECT:
		// Its RECEIPT proves that nothing more is delivered to it.
		c.b.mu.Lock()
		c.b.detach(c)
		c.b.mu.Unlock()
		c.receipt(f)
		c.enqueue(nil, true)
		return false
	default:
		return c.fail("unexpected command "+f.Command, f)
	}
	c.receipt(f)
	return true
}

// send routes a SEND; false ends the connection (RabbitMQ: ERROR, no
// RECEIPT, close).
func (c *bconn) send(dest string, f *frame.Frame) bool {
	if message, body := c.b.route(c, dest, f); message != "" {
		c.enqueue(errorFrame(message, body), true)
		return false
	}
	return true
}

// unsubscribeFrame handles UNSUBSCRIBE; false ends the connection. When it
// deletes a queue, its RECEIPT comes before the cancellation of the
// connection's other subscriptions to the queue, as on RabbitMQ.
func (c *bconn) unsubscribeFrame(f *frame.Frame) bool {
	id, ok := f.Header.Contains(frame.Id)
	if !ok {
		id, ok = f.Header.Contains(frame.Destination)
	}
	if !ok {
		return c.fail("UNSUBSCRIBE without id", f)
	}
	name, named := f.Header.Contains("x-queue-name")
	if named && (f.Header.Get("durable") == "true" || f.Header.Get("persistent") == "true") {
		c.b.mu.Lock()
		defer c.b.mu.Unlock()
		if _, found := c.subs[id]; !found {
			c.sendError("No subscription found", "UNSUBSCRIBE must refer to an existing subscription.\n"+
				"Subscription to \"id='"+id+"'\" not found.\n")
		}
		c.receipt(f)
		c.b.deleteDurable(c, id, name)
		return true
	}
	c.b.unsubscribe(c, id)
	c.receipt(f)
	return true
}

// txFrame handles BEGIN, COMMIT and ABORT, but for their RECEIPT; false
// ends the connection.
func (c *bconn) txFrame(f *frame.Frame) bool {
	tx, ok := f.Header.Contains(frame.Transaction)
	if !ok {
		return c.fail(f.Command+" without transaction", f)
	}
	if c.tx == nil {
		c.tx = make(map[string][]*frame.Frame)
	}
	frames, open := c.tx[tx]
	switch {
	case f.Command == frame.BEGIN && open:
		return c.fail("transaction already begun", f)
	case f.Command == frame.BEGIN:
		c.tx[tx] = nil
	case !open:
		return c.fail("unknown transaction", f)
	default:
		delete(c.tx, tx)
		if f.Command == frame.COMMIT {
			for _, g := range frames {
				if g.Command == frame.SEND {
					if !c.send(g.Header.Get(frame.Destination), g) {
						return false
					}
				} else if !c.ackFrame(g) {
					return false
				}
			}
		}
	}
	return true
}

// receipt queues a RECEIPT when f asked for one. Frames of one connection are
// handled in order and routed before their receipt is queued, so a receipt
// proves the broker has acted on every earlier frame of the connection.
func (c *bconn) receipt(f *frame.Frame) {
	if id, ok := f.Header.Contains(frame.Receipt); ok {
		c.enqueue(frame.New(frame.RECEIPT, frame.ReceiptId, id), false)
	}
}

// fail queues an ERROR frame, after which the connection is closed.
func (c *bconn) fail(msg string, f *frame.Frame) bool {
	e := frame.New(frame.ERROR, frame.Message, msg)
	if f != nil {
		if id, ok := f.Header.Contains(frame.Receipt); ok {
			e.Header.Set(frame.ReceiptId, id)
		}
	}
	c.enqueue(e, true)
	return false
}

// errorFrame returns an ERROR frame with RabbitMQ's headers.
func errorFrame(message, body string) *frame.Frame {
	e := frame.New(frame.ERROR, frame.Message, message, frame.ContentType, "text/plain", frame.Version, "1.0,1.1,1.2",
		frame.ContentLength, strconv.Itoa(len(body)))
	e.Body = []byte(body)
	return e
}

// sendError queues an ERROR frame that leaves the connection open.
func (c *bconn) sendError(message, body string) { c.enqueue(errorFrame(message, body), false) }

// failAfterReceipt queues f's RECEIPT (if it asked for one), then an
// ERROR frame with a body, then closes the connection, as RabbitMQ does
// when a frame it took fails.
func (c *bconn) failAfterReceipt(message, body string, f *frame.Frame) bool {
	c.receipt(f)
	c.enqueue(errorFrame(message, body), true)
	return false
}

// subscribe handles SUBSCRIBE; false ends the connection.
func (c *bconn) subscribe(id, dest string, f *frame.Frame) bool {
	ack := frame.AckAuto
	if v, ok := f.Header.Contains(frame.Ack); ok {
		switch v {
		case frame.AckAuto, frame.AckClient, frame.AckClientIndividual:
			ack = v
		default:
			return c.fail("invalid ack header "+strconv.Quote(v), f)
		}
	}
	prefetch := 0
	if v, ok := f.Header.Contains("prefetch-count"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c.fail("invalid prefetch-count "+strconv.Quote(v), f)
		}
		prefetch = n
	}
	_, named := f.Header.Contains("x-queue-name")
	durable := f.Header.Get("durable") == "true" || f.Header.Get("persistent") == "true"
	b := c.b
	b.mu.Lock()
	if c.subs == nil { // closing
		b.mu.Unlock()
		return true
	}
	if _, dup := c.subs[id]; dup {
		b.mu.Unlock()
		return c.fail("subscription id already in use", f)
	}
	s := &bsub{c: c, id: id, dest: dest, ack: ack, prefetch: prefetch}
	// A topic subscription with client acks is, as on RabbitMQ, a queue of
	// its own (exclusive, deleted with the subscription), so that its
	// prefetch-count bounds what it holds unsettled and a NACK requeues.
	if isQueue(dest) || isAmqQueue(dest) || (strings.HasPrefix(dest, "/topic/") && (named || durable || ack != frame.AckAuto)) {
		if message, body := b.subscribeQueue(c, s, f); message != "" {
			b.mu.Unlock()
			// RabbitMQ: the ERROR, then the SUBSCRIBE's RECEIPT, then
			// the connection closes.
			c.enqueue(errorFrame(message, body), false)
			c.receipt(f)
			c.enqueue(nil, true)
			return false
		}
	} else {
		c.subs[id] = s
		b.topics[dest] = append(b.topics[dest], s)
	}
	// The RECEIPT goes before the messages that were waiting.
	c.receipt(f)
	if s.q != nil {
		b.dispatch(s.q)
	}
	b.mu.Unlock()
	return true
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
	how := settleAck
	if f.Command == frame.NACK {
		how = settleNack
		if f.Header.Get("requeue") == "false" {
			how = settleReject
		}
	}
	b.settle(c, ds, how)
	b.mu.Unlock()
	c.receipt(f)
	return true
}
