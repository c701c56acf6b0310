package events

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hand-offs of ConsumeCalls that are not a call's plain end: Open
// hand-offs meeting a lost connection, and early HANGUPs meeting a full
// buffer.

// A call handed over Open whose work still waits in a busy lane when its
// connection drops: the copies of its events and its fresh HANGUP, which
// meanwhile attach to the queued work, are taken back when the work is
// abandoned, and the call's end is handed over and settled.
func TestConsumeCallsAbandonedOpenWorkKeepsAttached(t *testing.T) {
	b := newBroker(t, 64)
	clock := newFakeClock()
	gate := make(chan struct{})
	xStarted := make(chan struct{}, 1)
	sink := &callSink{}
	h := func(ctx context.Context, c Call) error {
		if c.UniqueID == "x" {
			xStarted <- struct{}{}
			<-gate
		}
		return sink.handle(ctx, c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg, err := consumeSetup("t", ctx, b.sub, true, true, []ConsumeOption{withTestClock(clock.Now, hangupGrace), WithMaxHold(20 * time.Minute)})
	require.NoError(t, err)
	sinkCfg := defaultSinkConfig()
	sinkCfg.now = cfg.now
	cc := &callConsumer{ctx: ctx, s: b.sub, h: h, cfg: cfg, table: newCallTable(&sinkCfg, settledWindow, 1), inflight: map[callKey]*callWork{}}
	cc.lanes = startLanes(ctx, 1, cfg)
	defer func() {
		cancel()
		cc.lanes.stop()
		cc.lanes.wait()
	}()
	take := func(raw []byte, redelivered bool) int {
		id := b.send(raw, redelivered, clock.Now())
		cc.take("t", <-b.sub.C())
		return id
	}
	// y begins; then x, of another agent, holds the only lane.
	take(evBody(NewCall, "b", "y", "direction", "INBOUND", "callerid", "555"), false)
	clock.Advance(time.Minute)
	take(evBody(NewCall, "a", "x"), false)
	take(evBody(Hangup, "a", "x"), false)
	<-xStarted
	// y is held WithMaxHold: handed over Open, its work queued behind x.
	clock.Advance(20 * time.Minute)
	cc.clock(clock.Now())
	require.NotNil(t, cc.inflight[callKey{"b", "y"}], "y handed over Open")
	take(evBody(DConnect, "b", "y"), false)
	b.lose()
	// The broker delivers y's unsettled events again, then its HANGUP.
	live := []int{
		take(evBody(NewCall, "b", "y", "direction", "INBOUND", "callerid", "555"), true),
		take(evBody(DConnect, "b", "y"), true),
		take(evBody(Hangup, "b", "y", "reason", ReasonByCaller), false),
	}
	close(gate)
	eventually(t, func() bool {
		cc.reap()
		cc.clock(clock.Now())
		for _, id := range live {
			if b.ackedTimes(id) == 0 {
				return false
			}
		}
		return true
	}, "the events of the live connection settled")
	var ends []Call
	for _, c := range sink.get() {
		if c.UniqueID == "y" {
			ends = append(ends, c)
		}
	}
	require.Len(t, ends, 1, "y handed over once: its Open hand-off was abandoned (lost)")
	y := ends[0]
	assert.False(t, y.Open)
	assert.True(t, y.Redelivered)
	assert.Equal(t, "INBOUND", y.Direction)
	assert.Equal(t, ReasonByCaller, y.Reason)
	assert.False(t, y.DConnectAt.IsZero())
	for _, id := range live {
		assert.Equal(t, 1, b.ackedTimes(id), "delivery %d acked once", id)
	}
}

// A call handed over Open, then its consumer's connection is lost: another
// consumer (a standby taking over) receives the rest of the call and
// finishes it. This consumer, receiving nothing more of the call, never
// hands it again, Expired: that record would overwrite the real one.
func TestConsumeCallsOpenThenLostNotExpired(t *testing.T) {
	sink := &callSink{}
	r := startCalls(t, 64, sink, WithMaxHold(20*time.Minute))
	r.send(NewCall, "default_1001", "L", false, "direction", "INBOUND", "callerid", "555")
	r.send(Connect, "default_1001", "L", false)
	time.Sleep(10 * time.Millisecond)
	r.clock.Advance(20 * time.Minute)
	eventually(t, func() bool { return sink.count() == 1 && len(r.b.unsettled()) == 0 }, "L handed over Open and settled")
	r.b.lose()
	r.clock.Advance(DefaultExpiry)
	// A call of the same agent on the next connection: L, expiring, would
	// be handed before it.
	r.send(NewCall, "default_1001", "M", false, "direction", "OUTBOUND", "callerid", "556")
	r.send(Hangup, "default_1001", "M", false, "reason", ReasonByCallee)
	eventually(t, func() bool { return sink.count() >= 2 }, "M handed over")
	got := sink.get()
	require.Len(t, got, 2)
	assert.True(t, got[0].Open)
	assert.Equal(t, "M", got[1].UniqueID)
}

// The same, but the consumer itself receives the rest of the call on its
// next connection (no takeover): the call's end is handed over whole.
func TestConsumeCallsOpenThenReconnected(t *testing.T) {
	sink := &callSink{}
	r := startCalls(t, 64, sink, WithMaxHold(20*time.Minute))
	r.send(NewCall, "default_1001", "L", false, "direction", "INBOUND", "callerid", "555")
	time.Sleep(10 * time.Millisecond)
	r.clock.Advance(20 * time.Minute)
	eventually(t, func() bool { return sink.count() == 1 && len(r.b.unsettled()) == 0 }, "L handed over Open and settled")
	r.b.lose()
	r.send(Connect, "default_1001", "L", false)
	r.send(Hangup, "default_1001", "L", false, "reason", ReasonByCaller)
	eventually(t, func() bool { return sink.count() == 2 && len(r.b.unsettled()) == 0 }, "L's end handed over and settled")
	end := sink.get()[1]
	assert.False(t, end.Open)
	assert.False(t, end.Expired)
	assert.Equal(t, "INBOUND", end.Direction, "whole: the consumer saw the call through")
	assert.Equal(t, ReasonByCaller, end.Reason)
	assert.Equal(t, 3, end.Events)
}

// A call whose HANGUP came first, waiting for its NEWCALL, when the events
// held fill the buffer: it is handed over as it is, ended (not Open), once;
// the end of its grace hands nothing more.
func TestConsumeCallsEarlyHangupWhenBufferFull(t *testing.T) {
	sink := &callSink{}
	r := startCalls(t, 4, sink, WithMaxHold(hangupGrace+time.Minute))
	r.send(Hangup, "default_1001", "z", false, "reason", ReasonByCaller, "callerid", "555")
	for _, uid := range []string{"o.0", "o.1", "o.2"} {
		r.send(NewCall, "default_1002", uid, false)
	}
	eventually(t, func() bool { return sink.count() == 1 && len(r.b.unsettled()) == 3 }, "z handed over and settled")
	// Past z's grace, and past WithMaxHold: the o calls are handed over
	// Open by the same look at the clock that ends z's grace, after it.
	r.clock.Advance(hangupGrace + time.Minute)
	eventually(t, func() bool { return sink.count() >= 4 }, "the o calls handed over Open")
	var zs []Call
	for _, c := range sink.get() {
		if c.UniqueID == "z" {
			zs = append(zs, c)
		} else {
			assert.True(t, c.Open, c.UniqueID)
		}
	}
	require.Len(t, zs, 1, "z handed over once")
	assert.False(t, zs[0].Open)
	assert.False(t, zs[0].HangupAt.IsZero())
	assert.Equal(t, ReasonByCaller, zs[0].Reason)
	assert.True(t, zs[0].NewCallAt.IsZero())
}

// A call talking longer than WithCallExpiry is handed over Expired; its
// HANGUP, coming after all, is handed over as the call's end, Redelivered,
// once: a copy of it is a late event.
func TestConsumeCallsHangupAfterExpiry(t *testing.T) {
	sink := &callSink{}
	r := startCalls(t, 64, sink, WithCallExpiry(time.Hour))
	r.send(NewCall, "default_1001", "E", false, "direction", "INBOUND", "callerid", "555")
	r.send(Connect, "default_1001", "E", false)
	time.Sleep(10 * time.Millisecond)
	r.clock.Advance(30 * time.Minute)
	eventually(t, func() bool { return sink.count() == 1 && len(r.b.unsettled()) == 0 }, "E handed over Open and settled")
	assert.True(t, sink.get()[0].Open)
	r.clock.Advance(30 * time.Minute)
	eventually(t, func() bool { return sink.count() == 2 }, "E handed over Expired")
	exp := sink.get()[1]
	assert.True(t, exp.Expired)
	assert.Equal(t, "INBOUND", exp.Direction)
	hangup := r.send(Hangup, "default_1001", "E", false, "reason", ReasonByCallee)
	eventually(t, func() bool { return sink.count() == 3 && r.b.ackedTimes(hangup) == 1 }, "the late HANGUP handed over and settled")
	end := sink.get()[2]
	assert.False(t, end.Expired)
	assert.False(t, end.Open)
	assert.True(t, end.Redelivered, "handed over before, Expired")
	assert.Equal(t, ReasonByCallee, end.Reason)
	assert.False(t, end.HangupAt.IsZero())
	copyOf := r.send(Hangup, "default_1001", "E", true, "reason", ReasonByCallee)
	// A call of the same agent after it: the copy, were it handed, would
	// be handed before.
	r.send(NewCall, "default_1001", "F", false)
	r.send(Hangup, "default_1001", "F", false)
	eventually(t, func() bool { return sink.count() >= 4 && r.b.ackedTimes(copyOf) == 1 }, "F handed over, the copy settled")
	got := sink.get()
	require.Len(t, got, 4)
	assert.Equal(t, "F", got[3].UniqueID)
}
