package stompx

import (
	"sync"

	"github.com/go-stomp/stomp/v3"
)

// go-stomp has one goroutine for a connection's reading and writing (its
// processLoop): it hands each MESSAGE to its subscription's channel, which
// holds 16, and writes nothing meanwhile. A pump that waits, while it
// handles a message, for anything that goroutine must do (a SEND written,
// a round trip's message read: Reject's dead-lettering, confirm) waits for
// ever once 16 more messages of its subscription are in flight behind it,
// and so does everyone else on the connection. So the pumps of durable
// subscriptions, which settle (a malformed body is dead-lettered by the
// pump itself, events.Feed.Deliver), take go-stomp's messages on a
// goroutine of their own that never waits (relay), into a queue that the
// broker's prefetch bounds, and handle them from there: no goroutine of
// the transport or of a consumer can hold go-stomp's up, and any of them
// may wait for a round trip.

// relay starts taking ss's messages, at once and as they come, into a
// queue, on a goroutine of the transport's; each hands them to f, in
// order, on the calling goroutine, until go-stomp lets go of ss (see
// forEach) and the queue is empty. The queue grows as needed: what the
// broker sends a subscription settled by ACK is bounded by its
// prefetch-count.
func (c *conn) relay(ss *stomp.Subscription) (each func(f func(*stomp.Message))) {
	q := &msgQueue{ready: make(chan struct{}, 1)}
	if !c.spawn(func() {
		defer q.close()
		c.forEach(ss, q.push)
	}) {
		q.close()
	}
	return q.each
}

// msgQueue is relay's queue: one goroutine pushes, one takes.
type msgQueue struct {
	mu     sync.Mutex
	msgs   []*stomp.Message
	closed bool
	ready  chan struct{} // a push or the close since the taker last looked
}

func (q *msgQueue) push(m *stomp.Message) {
	q.mu.Lock()
	q.msgs = append(q.msgs, m)
	q.mu.Unlock()
	q.wake()
}

func (q *msgQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}

func (q *msgQueue) wake() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// each hands every message to f, in order, until the queue is closed and
// empty.
func (q *msgQueue) each(f func(*stomp.Message)) {
	var batch []*stomp.Message
	for {
		q.mu.Lock()
		batch, q.msgs = q.msgs, batch[:0]
		closed := q.closed
		q.mu.Unlock()
		for i, m := range batch {
			f(m)
			batch[i] = nil
		}
		if len(batch) == 0 {
			if closed {
				return
			}
			<-q.ready
		}
	}
}
