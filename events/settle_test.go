package events

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A call whose last attempt fails while its connection is down cannot be
// dead-lettered: its events, delivered again, make the call anew, with
// fresh attempts, and are dead-lettered then; none is acked as a late
// event of a call handed over.
func TestConsumeCallsFailedOnLostConnectionComesAgain(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	var tries atomic.Int32
	r := &callsRun{b: newBroker(t, 64), clock: newFakeClock(), sink: &callSink{}, done: make(chan error, 1)}
	go func() {
		r.done <- ConsumeCalls(context.Background(), r.b.sub, func(ctx context.Context, c Call) error {
			if tries.Add(1) == 1 {
				started <- struct{}{}
				<-release
			}
			return errors.New("database down")
		}, withTestClock(r.clock.Now, hangupGrace), WithRetry(1, time.Millisecond))
	}()
	r.send(NewCall, "default_1001", "r1", false, "direction", "INBOUND")
	r.send(Hangup, "default_1001", "r1", false)
	<-started
	r.b.lose()
	close(release)
	again := []int{r.send(NewCall, "default_1001", "r1", true, "direction", "INBOUND"), r.send(Hangup, "default_1001", "r1", true)}
	eventually(t, func() bool { _, rj := r.b.settled(); return rj == 2 }, "the copies dead-lettered")
	for _, id := range again {
		cause, ok := r.b.rejectCause(id)
		assert.True(t, ok)
		assert.Equal(t, "database down", cause)
		assert.Zero(t, r.b.ackedTimes(id), "an event of a call never handled was acked")
	}
	assert.Equal(t, int32(2), tries.Load(), "the call was not handed again")
	r.b.feed.End(nil)
	<-r.done
}

// A copy of an event of a call whose work was abandoned (its connection
// lost), arriving before ConsumeCalls took the work back, makes one call:
// one table entry, handed over whole with its NEWCALL, every copy settled.
// Driven step by step as ConsumeCalls' goroutine does, the work's end
// noticed only at the next event.
func TestConsumeCallsCopyOfAbandonedCallMakesOneCall(t *testing.T) {
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
	cfg, err := consumeSetup("t", ctx, b.sub, true, true, []ConsumeOption{withTestClock(clock.Now, hangupGrace)})
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

	// x holds the only lane; y is handed and queued behind it.
	take(evBody(NewCall, "a", "x"), false)
	take(evBody(Hangup, "a", "x"), false)
	take(evBody(NewCall, "b", "y", "direction", "INBOUND"), false)
	take(evBody(Hangup, "b", "y"), false)
	<-xStarted
	b.lose()
	// y's NEWCALL comes again and is attached to y's queued work.
	copies := []int{take(evBody(NewCall, "b", "y", "direction", "INBOUND"), true)}
	wy := cc.inflight[callKey{"b", "y"}]
	close(gate) // x ends; y is found lost and abandoned
	eventually(t, func() bool { wy.mu.Lock(); defer wy.mu.Unlock(); return wy.state == workAbandoned }, "y abandoned")
	// y's HANGUP comes again before ConsumeCalls reaps.
	copies = append(copies, take(evBody(Hangup, "b", "y"), true))
	n := 0
	cc.table.calls.each(func(*lruEntry[callKey, openCall]) { n++ })
	assert.Equal(t, cc.table.calls.len(), n, "an entry linked in the table's list is not in its map")
	eventually(t, func() bool { return sink.count() == 2 }, "y handed")
	y := sink.get()[1]
	assert.Equal(t, "y", y.UniqueID)
	assert.Equal(t, "INBOUND", y.Direction, "y handed without its NEWCALL")
	assert.True(t, y.Redelivered)
	eventually(t, func() bool { return b.ackedTimes(copies[0]) == 1 && b.ackedTimes(copies[1]) == 1 }, "y's copies settled")
	cc.reap()
	assert.Zero(t, cc.held, "events counted as held")
	assert.Zero(t, cc.table.calls.len())
}

// A NEWCALL that was never delivered before, of a uniqueid whose previous
// call is still being handled, is a new call, as the Tracker takes it: it
// is not folded into the previous call and settled with it.
func TestConsumeCallsFreshNewCallOfCallInFlight(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	sink := &callSink{}
	r := &callsRun{b: newBroker(t, 64), clock: newFakeClock(), sink: sink, done: make(chan error, 1)}
	go func() {
		r.done <- ConsumeCalls(context.Background(), r.b.sub, func(ctx context.Context, c Call) error {
			if sink.count() == 0 {
				select {
				case started <- struct{}{}:
				default:
				}
				<-release
			}
			return sink.handle(ctx, c)
		}, withTestClock(r.clock.Now, hangupGrace), WithLanes(2))
	}()
	r.send(NewCall, "default_1001", "u", false, "callerid", "100")
	r.send(Hangup, "default_1001", "u", false)
	<-started
	r.send(NewCall, "default_1001", "u", false, "callerid", "200")
	r.send(Hangup, "default_1001", "u", false)
	time.Sleep(10 * time.Millisecond)
	close(release)
	eventually(t, func() bool { return sink.count() == 2 }, "the second call handed")
	eventually(t, func() bool { return len(r.b.unsettled()) == 0 }, "every event settled")
	calls := sink.get()
	assert.Equal(t, "100", calls[0].CallerID)
	assert.Equal(t, 2, calls[0].Events)
	assert.Equal(t, "200", calls[1].CallerID)
	assert.Equal(t, 2, calls[1].Events)
	r.b.feed.End(nil)
	<-r.done
}

// When the transport cannot dead-letter (no Delivery.Reject), a poison
// event is acked after its last attempt and reported as a drop: it does
// not keep a prefetch slot, and the other events go on.
func TestConsumePoisonDroppedWithoutDeadLetters(t *testing.T) {
	b := newBroker(t, 8)
	b.noReject = true
	var tries atomic.Int32
	cause := errors.New("unparseable")
	done := runConsume(t, context.Background(), b, func(_ context.Context, ev Event) error {
		if ev.UniqueID == "poison" {
			tries.Add(1)
			return cause
		}
		return nil
	}, WithRetry(2, time.Millisecond))
	poison := b.send(evBody(Pause, "default_1", "poison"), false, t0)
	next := b.send(evBody(Pause, "default_1", "next"), false, t0)
	eventually(t, func() bool {
		return b.ackedTimes(poison) == 1 && b.ackedTimes(next) == 1 && len(b.reported()) > 0
	}, "both settled, the drop reported")
	b.feed.End(nil)
	require.ErrorIs(t, <-done, ErrEnded)
	assert.Equal(t, int32(2), tries.Load())
	_, rejected := b.settled()
	assert.Zero(t, rejected)
	errs := b.reported()
	require.Len(t, errs, 1)
	assert.EqualError(t, errs[0], `events: Consume: gave up on PAUSE poison of "default_1" after 2 attempts, dropped`)
	assert.ErrorIs(t, errs[0], cause)
}

// The same for a call: its events are acked and the drop reported.
func TestConsumeCallsPoisonDroppedWithoutDeadLetters(t *testing.T) {
	sink := &callSink{fail: func(Call) error { return errors.New("record refused") }}
	r := startCalls(t, 64, sink)
	r.b.noReject = true
	ids := []int{r.send(NewCall, "default_1001", "p", false), r.send(Hangup, "default_1001", "p", false)}
	eventually(t, func() bool {
		return r.b.ackedTimes(ids[0]) == 1 && r.b.ackedTimes(ids[1]) == 1 && len(r.b.reported()) > 0
	}, "the call's events acked, the drop reported")
	errs := r.b.reported()
	require.Len(t, errs, 1)
	assert.EqualError(t, errs[0], `events: ConsumeCalls: gave up on call p of "default_1001" after 3 attempts, dropped`)
}

// Retries never hold an event unsettled past WithMaxHold (the broker would
// take it back and its tries would start again): a failure whose backoff
// would end past it is the last. Here each try takes ten minutes of the
// default 25.
func TestConsumeRetriesBoundedByMaxHold(t *testing.T) {
	b := newBroker(t, 8)
	clock := newFakeClock()
	var tries atomic.Int32
	done := runConsume(t, context.Background(), b, func(context.Context, Event) error {
		tries.Add(1)
		clock.Advance(10 * time.Minute)
		return errors.New("slow database")
	}, withTestClock(clock.Now, hangupGrace), WithRetry(5, time.Millisecond))
	id := b.send(evBody(Pause, "default_1", "u"), false, t0)
	eventually(t, func() bool { _, ok := b.rejectCause(id); return ok }, "dead-lettered")
	b.feed.End(nil)
	<-done
	assert.Equal(t, int32(3), tries.Load(), "tried past WithMaxHold")
}

// WithMaxHold bounds the backoffs themselves: with WithRetry(3, 20
// minutes) the second wait would end 40 minutes after the event was
// taken, past the default 25.
func TestConsumeLongBackoffBoundedByMaxHold(t *testing.T) {
	b := newBroker(t, 8)
	clock := newFakeClock()
	var tries atomic.Int32
	done := runConsume(t, context.Background(), b, func(context.Context, Event) error {
		tries.Add(1)
		return errors.New("down")
	}, withTestClock(clock.Now, hangupGrace), WithRetry(3, 20*time.Minute), WithMaxHold(10*time.Minute))
	id := b.send(evBody(Pause, "default_1", "u"), false, t0)
	eventually(t, func() bool { _, ok := b.rejectCause(id); return ok }, "dead-lettered at the first failure")
	b.feed.End(nil)
	<-done
	assert.Equal(t, int32(1), tries.Load())
}

// A work waiting for its retry whose connection is lost is abandoned at
// once: its agent's copies, delivered again on the new connection, do not
// wait for the backoff.
func TestConsumeLostConnectionEndsBackoff(t *testing.T) {
	b := newBroker(t, 8)
	failed := make(chan struct{}, 1)
	var mu sync.Mutex
	var handled []bool
	done := runConsume(t, context.Background(), b, func(_ context.Context, ev Event) error {
		if !ev.Redelivered {
			failed <- struct{}{}
			return errors.New("down")
		}
		mu.Lock()
		handled = append(handled, ev.Redelivered)
		mu.Unlock()
		return nil
	}, WithRetry(5, 10*time.Minute))
	b.send(evBody(Login, "default_1", ""), false, t0)
	<-failed
	b.lose()
	copyID := b.send(evBody(Login, "default_1", ""), true, t0)
	eventually(t, func() bool { return b.ackedTimes(copyID) == 1 }, "the copy handled before the backoff ended")
	b.feed.End(nil)
	require.ErrorIs(t, <-done, ErrEnded)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []bool{true}, handled)
}

// A call whose last attempt fails after its connection was lost, with a
// copy of one of its events already attached from the new connection:
// nothing is dead-lettered, the copy is taken back, and the call made
// anew from the copies succeeds with every copy acked.
func TestConsumeCallsFailedOnLostConnectionDeadLettersNoCopy(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	sink := &callSink{}
	var tries atomic.Int32
	r := &callsRun{b: newBroker(t, 64), clock: newFakeClock(), sink: sink, done: make(chan error, 1)}
	go func() {
		r.done <- ConsumeCalls(context.Background(), r.b.sub, func(ctx context.Context, c Call) error {
			if tries.Add(1) == 1 {
				started <- struct{}{}
				<-release
				return errors.New("database down")
			}
			return sink.handle(ctx, c)
		}, withTestClock(r.clock.Now, hangupGrace), WithRetry(1, time.Millisecond))
	}()
	r.send(NewCall, "default_1001", "c1", false, "direction", "OUTBOUND")
	r.send(Hangup, "default_1001", "c1", false)
	<-started
	r.b.lose()
	first := r.send(NewCall, "default_1001", "c1", true, "direction", "OUTBOUND")
	time.Sleep(10 * time.Millisecond) // attached to the running call
	close(release)
	second := r.send(Hangup, "default_1001", "c1", true)
	eventually(t, func() bool { return sink.count() == 1 }, "the call handed again")
	eventually(t, func() bool { return r.b.ackedTimes(first) == 1 && r.b.ackedTimes(second) == 1 }, "the copies acked")
	_, rejected := r.b.settled()
	assert.Zero(t, rejected, "a copy was dead-lettered though its call came again")
	c := sink.get()[0]
	assert.Equal(t, "OUTBOUND", c.Direction)
	assert.True(t, c.Redelivered)
	r.b.feed.End(nil)
	<-r.done
}
