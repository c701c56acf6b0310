package events

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// broker is a fake transport behind a feed made WithAcks: it numbers the
// deliveries and records how each was settled.
type broker struct {
	t    *testing.T
	feed *Feed
	sub  *Subscription

	mu       sync.Mutex
	conn     chan struct{} // the current connection: closed when lost
	next     int
	acked    map[int]int    // delivery -> acks
	rejected map[int]string // delivery -> cause
	bodies   map[int]string
	errs     []error
	noReject bool // the transport cannot dead-letter: deliveries come without Reject
	// The next settlements that fail on the live connection, sending
	// nothing (as stompx's when its connection is not writing).
	ackFails, rejectFails int
}

// errNotWriting is the failure of a settlement that sent nothing.
var errNotWriting = fmt.Errorf("the connection is not writing; nothing sent, retry")

func newBroker(t *testing.T, buffer int) *broker {
	b := &broker{t: t, conn: make(chan struct{}), acked: map[int]int{}, rejected: map[int]string{}, bodies: map[int]string{}}
	f, err := NewFeed(WithAcks(), WithBuffer(buffer), WithErrorHandler(func(err error) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.errs = append(b.errs, err)
	}))
	require.NoError(t, err)
	b.feed, b.sub = f, f.Subscription()
	return b
}

// evBody is an event's JSON as the platform sends it.
func evBody(typ Type, agent, uid string, extra ...string) []byte {
	m := map[string]string{"type": string(typ), "agent": agent}
	if uid != "" {
		m["uniqueid"] = uid
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	b, _ := json.Marshal(m)
	return b
}

// send delivers body on the current connection; it returns the delivery.
func (b *broker) send(raw []byte, redelivered bool, at time.Time) int {
	b.mu.Lock()
	b.next++
	id, lost, noReject := b.next, b.conn, b.noReject
	b.bodies[id] = string(raw)
	b.mu.Unlock()
	d := Delivery{Topic: TopicPrefix + "x", Body: raw, Received: at, Redelivered: redelivered, Lost: lost,
		Ack: func() error {
			b.mu.Lock()
			defer b.mu.Unlock()
			if isClosed(lost) {
				return fmt.Errorf("connection lost")
			}
			if b.ackFails > 0 {
				b.ackFails--
				return errNotWriting
			}
			b.acked[id]++
			return nil
		},
		Reject: func(cause string) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			if isClosed(lost) {
				return fmt.Errorf("connection lost")
			}
			if b.rejectFails > 0 {
				b.rejectFails--
				return errNotWriting
			}
			b.rejected[id] = cause
			return nil
		}}
	if noReject {
		d.Reject = nil
	}
	require.True(b.t, b.feed.Deliver(d))
	return id
}

// failSettlements makes the next acks and rejects fail, sending nothing.
func (b *broker) failSettlements(acks, rejects int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ackFails, b.rejectFails = acks, rejects
}

// lose ends the current connection: its unsettled deliveries come again.
func (b *broker) lose() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.conn)
	b.conn = make(chan struct{})
}

// settled returns how many deliveries were acked and rejected.
func (b *broker) settled() (acked, rejected int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.acked), len(b.rejected)
}

func (b *broker) ackedTimes(id int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.acked[id]
}

func (b *broker) rejectCause(id int) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.rejected[id]
	return c, ok
}

// unsettled returns the bodies of the deliveries neither acked nor
// rejected, in order.
func (b *broker) unsettled() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for id := 1; id <= b.next; id++ {
		if b.acked[id] == 0 && b.rejected[id] == "" {
			out = append(out, b.bodies[id])
		}
	}
	return out
}

// reported returns the errors the subscription's error handler was told.
func (b *broker) reported() []error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]error(nil), b.errs...)
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// withTestClock makes ConsumeCalls read now and look at it every
// millisecond, with a HANGUP grace of grace.
func withTestClock(now func() time.Time, grace time.Duration) ConsumeOption {
	return consumeOption(func(c *consumeConfig) error {
		c.now, c.tick, c.grace = now, time.Millisecond, grace
		return nil
	})
}

// eventually waits up to 10 s for cond.
func eventually(t *testing.T, cond func() bool, msg string, args ...any) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, time.Millisecond, append([]any{msg}, args...)...)
}
