package events

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A settlement that fails on a live connection without sending anything
// (stompx's Ack when the connection has not been writing for a second) is
// tried again: the event is settled once, and nothing is reported.
func TestConsumeSettlementRetried(t *testing.T) {
	b := newBroker(t, 8)
	b.failSettlements(1, 1)
	done := runConsume(t, context.Background(), b, func(_ context.Context, ev Event) error {
		if ev.UniqueID == "poison" {
			return errors.New("unparseable")
		}
		return nil
	}, WithRetry(1, time.Millisecond))
	ok := b.send(evBody(Pause, "default_1", "ok"), false, t0)
	poison := b.send(evBody(Pause, "default_2", "poison"), false, t0)
	eventually(t, func() bool {
		_, dead := b.rejectCause(poison)
		return b.ackedTimes(ok) == 1 && dead
	}, "both settled")
	b.feed.End(nil)
	require.ErrorIs(t, <-done, ErrEnded)
	assert.Empty(t, b.reported())
	assert.Zero(t, b.ackedTimes(poison))
}

// The same for the events of a call, settled together.
func TestConsumeCallsSettlementRetried(t *testing.T) {
	sink := &callSink{}
	r := startCalls(t, 64, sink)
	r.b.failSettlements(1, 0)
	ids := []int{r.send(NewCall, "default_1001", "s", false), r.send(Hangup, "default_1001", "s", false)}
	eventually(t, func() bool { return r.b.ackedTimes(ids[0]) == 1 && r.b.ackedTimes(ids[1]) == 1 }, "the call's events acked")
	assert.Equal(t, 1, sink.count())
	assert.Empty(t, r.b.reported())
}

// A settlement that keeps failing is reported after its retries, and the
// other events of its batch are tried once each: a connection that does
// not write holds the settling goroutine a bounded time.
func TestConsumeCallsSettlementRetriesBounded(t *testing.T) {
	sink := &callSink{}
	r := startCalls(t, 64, sink)
	r.b.failSettlements(1+settleRetries+1, 0)
	ids := []int{r.send(NewCall, "default_1001", "s", false), r.send(Connect, "default_1001", "s", false),
		r.send(Hangup, "default_1001", "s", false)}
	eventually(t, func() bool { return len(r.b.reported()) == 2 }, "two failures reported")
	eventually(t, func() bool { return r.b.ackedTimes(ids[2]) == 1 }, "the last event acked")
	assert.Zero(t, r.b.ackedTimes(ids[0]))
	assert.Zero(t, r.b.ackedTimes(ids[1]))
	for _, err := range r.b.reported() {
		assert.ErrorIs(t, err, errNotWriting)
	}
}
