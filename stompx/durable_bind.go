package stompx

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// A subscription to several topics consumes its queue by name, with one
// SUBSCRIBE: each consumer of a queue takes its share of the messages, and
// deliveries to several consumers would interleave (one agent's events out
// of order). Binding the topics takes a topic SUBSCRIBE each, which is a
// consumer too, so the binding is made on a connection of its own (the
// binder), closed before the subscription consumes. The binder's
// SUBSCRIBEs take one event each at most (prefetch 1); the broker gives
// them back when the binder's connection ends, in their place in the
// queue, but only once it has handled the end, which may come after the
// subscription's consumer has started and filled its prefetch with later
// events (measured on RabbitMQ 3.10: the DISCONNECT's RECEIPT and the
// socket's close both come before it). So the subscription delivers the
// binder's events first itself (pumpInOrder).

// heldEvent is an event the binder held: its destination and body.
type heldEvent struct {
	dest        string
	body        []byte
	redelivered bool // as the broker marked it for the binder
}

// bind declares the queue of dc's subscription and binds every one of its
// topics, on the binder, whose held events it keeps in dc.held. The
// binder's refusal of the queue's arguments is dc's (verdict); any other
// failure loses dc's connection. False means dc ended.
func (dc *durableConn) bind(ctx context.Context) bool {
	ds := dc.ds
	o := *ds.opts
	o.prefetch = len(ds.topics) // one each (subscribeHeaders)
	o.singleActive, o.onActive = false, nil
	b := newDurableSub(ds.t, ds.name, ds.topics, &o)
	b.binder = true
	defer b.cancel()
	feed, err := events.NewFeed(events.WithBuffer(1), events.WithAcks())
	if err != nil {
		dc.abort(err)
		return false
	}
	b.sub, b.feed = feed.Subscription(), feed
	defer b.sub.Close()
	bc, err := b.connect(ctx, dc.addr)
	switch {
	case err == nil:
		bc.release(ctx)
		bc.waitPumps() // go-stomp hands on every frame read before the end
		bc.mu.Lock()
		dc.held = bc.held
		bc.mu.Unlock()
		return !dc.ended()
	case errors.Is(err, ErrDurableMismatch) || errors.Is(err, ivclient.ErrNotSupported):
		dc.refuse(err, "binding: "+err.Error())
	default:
		dc.abort(errors.New("binding: " + err.Error()))
	}
	return false
}

// keep records an event the binder received.
func (dc *durableConn) keep(m *stomp.Message) {
	dc.mu.Lock()
	dc.held = append(dc.held, heldEvent{dest: m.Destination, body: m.Body, redelivered: m.Header.Get("redelivered") == "true"})
	dc.mu.Unlock()
}

// release ends the binder's connection: a DISCONNECT, then the wait for
// the broker to close the socket (disconnectGrace at most, within ctx).
func (c *conn) release(ctx context.Context) {
	if _, err := c.raw.Write([]byte("DISCONNECT\n\n\x00")); err == nil {
		tm := time.NewTimer(disconnectGrace)
		select {
		case <-c.done:
		case <-tm.C:
		case <-ctx.Done():
		}
		tm.Stop()
	}
	c.abort(errClosed)
}

// pumpInOrder is pump for the queue consumed by name after bind. The
// events the binder held were the first of the queue, in the order the
// binder got them: they are delivered first, from the binder's copies,
// before anything of ss. Each copy is settled (Ack, Reject) as any event;
// the broker's own delivery of it, when it comes back on ss, is acked by
// the transport once both have happened. A copy settled while its event
// has not come back is delivered again if the connection ends first (the
// broker delivers the event again, marked redelivered).
func (dc *durableConn) pumpInOrder(ss *stomp.Subscription, want []heldEvent) {
	each := dc.relay(ss) // ss's messages wait meanwhile, without holding up go-stomp
	slots := make([]heldSlot, len(want))
	var mu sync.Mutex
	for i, h := range want {
		settle := func() error {
			if err := dc.settleable("stompx: Ack"); err != nil {
				return err
			}
			mu.Lock()
			slots[i].settled = true
			m := slots[i].real
			mu.Unlock()
			if m != nil {
				return dc.ackMessage(ss, m)
			}
			return nil
		}
		reject := dc.rejecter(h.dest, h.body, settle)
		dc.ds.t.stats.events.Add(1)
		dc.ds.feed.Deliver(events.Delivery{Topic: h.dest, Body: h.body, Received: time.Now(),
			Redelivered: h.redelivered, Ack: settle, Reject: reject, Lost: dc.done})
	}
	each(func(m *stomp.Message) {
		if m.Err != nil {
			dc.brokerError(m.Err)
			return
		}
		mu.Lock()
		i := matchHeld(want, slots, m)
		settled := false
		if i >= 0 {
			slots[i].real, settled = m, slots[i].settled
		}
		mu.Unlock()
		switch {
		case i < 0:
			dc.deliver(ss, m)
		case settled:
			_ = dc.ackMessage(ss, m)
		}
	})
}

// heldSlot is the state of one of the binder's events in pumpInOrder.
type heldSlot struct {
	settled bool           // its copy was settled
	real    *stomp.Message // the broker's delivery of it, once it has come back
}

// matchHeld returns the first held event that m, marked redelivered, is
// and that has not come back yet, or -1. Events alike in destination and
// body are interchangeable.
func matchHeld(want []heldEvent, slots []heldSlot, m *stomp.Message) int {
	if m.Header.Get("redelivered") != "true" {
		return -1
	}
	for i, h := range want {
		if slots[i].real == nil && h.dest == m.Destination && bytes.Equal(h.body, m.Body) {
			return i
		}
	}
	return -1
}

// ackMessage acks m, received on ss.
func (dc *durableConn) ackMessage(ss *stomp.Subscription, m *stomp.Message) error {
	ackID, _ := m.Header.Contains(frame.Ack)
	msgID, _ := m.Header.Contains(frame.MessageId)
	return dc.ack(ss, ackID, msgID)
}
