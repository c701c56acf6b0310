package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// callSink collects the calls handed to a ConsumeCalls handler.
type callSink struct {
	mu    sync.Mutex
	calls []Call
	fail  func(Call) error // nil: every call succeeds
}

func (s *callSink) handle(_ context.Context, c Call) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(c); err != nil {
			return err
		}
	}
	s.calls = append(s.calls, c)
	return nil
}

func (s *callSink) get() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

func (s *callSink) count() int { return len(s.get()) }

// callsRun is ConsumeCalls on a fake broker with a fake clock.
type callsRun struct {
	b     *broker
	clock *fakeClock
	sink  *callSink
	done  chan error
}

func startCalls(t *testing.T, buffer int, sink *callSink, opts ...ConsumeOption) *callsRun {
	r := &callsRun{b: newBroker(t, buffer), clock: newFakeClock(), sink: sink, done: make(chan error, 1)}
	opts = append([]ConsumeOption{withTestClock(r.clock.Now, hangupGrace), WithRetry(3, time.Millisecond)}, opts...)
	go func() { r.done <- ConsumeCalls(context.Background(), r.b.sub, sink.handle, opts...) }()
	t.Cleanup(func() {
		r.b.feed.End(nil)
		<-r.done
	})
	return r
}

func (r *callsRun) send(typ Type, agent, uid string, redelivered bool, extra ...string) int {
	return r.b.send(evBody(typ, agent, uid, extra...), redelivered, r.clock.Now())
}

// A call is handed over whole, once, and its events are settled only after
// the handler returned nil; events of no call are settled at once.
func TestConsumeCallsWhole(t *testing.T) {
	release := make(chan struct{})
	sink := &callSink{}
	held := func(ctx context.Context, c Call) error {
		<-release
		return sink.handle(ctx, c)
	}
	r := &callsRun{b: newBroker(t, 64), clock: newFakeClock(), sink: sink, done: make(chan error, 1)}
	go func() {
		r.done <- ConsumeCalls(context.Background(), r.b.sub, held, withTestClock(r.clock.Now, hangupGrace))
	}()

	login := r.send(Login, "default_1001", "", false)
	r.send(NewCall, "default_1001", "1.1", false, "direction", "INBOUND", "callerid", "555")
	r.clock.Advance(3 * time.Second)
	r.send(Connect, "default_1001", "1.1", false)
	r.clock.Advance(60 * time.Second)
	r.send(Hangup, "default_1001", "1.1", false, "reason", ReasonByCaller)
	eventually(t, func() bool { return r.b.ackedTimes(login) == 1 }, "LOGIN settled at once")
	time.Sleep(20 * time.Millisecond)
	assert.Len(t, r.b.unsettled(), 3, "a call's events were settled before its handler returned")
	close(release)
	eventually(t, func() bool { return len(r.b.unsettled()) == 0 }, "the call's events settled")
	r.b.feed.End(nil)
	require.ErrorIs(t, <-r.done, ErrEnded)
	calls := sink.get()
	require.Len(t, calls, 1)
	c := calls[0]
	assert.Equal(t, "INBOUND", c.Direction)
	assert.Equal(t, "555", c.CallerID)
	assert.Equal(t, ReasonByCaller, c.Reason)
	assert.Equal(t, 3, c.Events)
	assert.Equal(t, 60*time.Second, c.TalkDuration())
	assert.False(t, c.Redelivered || c.Open || c.Expired)
}

// WithOtherEvents hands the events of no call to their own handler.
func TestConsumeCallsOtherEvents(t *testing.T) {
	var mu sync.Mutex
	var others []Type
	sink := &callSink{}
	r := startCalls(t, 1024, sink, WithOtherEvents(func(_ context.Context, ev Event) error {
		mu.Lock()
		defer mu.Unlock()
		others = append(others, ev.Type)
		return nil
	}))
	r.send(Login, "default_1001", "", false)
	r.send(NewCall, "default_1001", "2.1", false, "direction", "OUTBOUND")
	r.send(Hangup, "default_1001", "2.1", false)
	r.send(Pause, "default_1001", "", false)
	eventually(t, func() bool { return len(r.b.unsettled()) == 0 }, "all settled")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []Type{Login, Pause}, others)
	assert.Equal(t, 1, sink.count())
}

// A call its handler keeps failing is dead-lettered: all its events are
// rejected with the last error; other calls go on.
func TestConsumeCallsDeadLetter(t *testing.T) {
	sink := &callSink{fail: func(c Call) error {
		if c.UniqueID == "bad" {
			return errors.New("record rejected by the CRM")
		}
		return nil
	}}
	r := startCalls(t, 1024, sink)
	ids := []int{r.send(NewCall, "default_1001", "bad", false), r.send(Connect, "default_1001", "bad", false)}
	r.send(NewCall, "default_1002", "good", false)
	r.send(Hangup, "default_1002", "good", false)
	ids = append(ids, r.send(Hangup, "default_1001", "bad", false))
	eventually(t, func() bool { a, rj := r.b.settled(); return a == 2 && rj == 3 }, "2 acked, 3 rejected")
	for _, id := range ids {
		cause, ok := r.b.rejectCause(id)
		assert.True(t, ok)
		assert.Equal(t, "record rejected by the CRM", cause)
	}
	require.Len(t, sink.get(), 1)
	assert.Equal(t, "good", sink.get()[0].UniqueID)
}

// After a takeover the HANGUP may come before the requeued NEWCALL: the
// call is still handed over whole, once.
func TestConsumeCallsHangupBeforeNewCall(t *testing.T) {
	sink := &callSink{}
	r := startCalls(t, 1024, sink)
	r.send(Hangup, "default_1001", "3.1", false, "reason", ReasonNoAnswer)
	r.clock.Advance(hangupGrace / 2)
	time.Sleep(10 * time.Millisecond)
	assert.Zero(t, sink.count(), "handed before the grace was over")
	r.send(NewCall, "default_1001", "3.1", true, "direction", "INBOUND", "callerid", "777")
	eventually(t, func() bool { return len(r.b.unsettled()) == 0 }, "settled")
	r.clock.Advance(time.Hour)
	time.Sleep(10 * time.Millisecond)
	calls := sink.get()
	require.Len(t, calls, 1)
	assert.Equal(t, "INBOUND", calls[0].Direction)
	assert.Equal(t, "777", calls[0].CallerID)
	assert.Equal(t, ReasonNoAnswer, calls[0].Reason)
	assert.True(t, calls[0].Redelivered)
	assert.Equal(t, 2, calls[0].Events)
}

// A HANGUP whose earlier events never come is handed over as it is after
// the grace; an event of it coming later is settled, not handed.
func TestConsumeCallsHangupAlone(t *testing.T) {
	sink := &callSink{}
	r := startCalls(t, 1024, sink)
	r.send(Hangup, "default_1001", "4.1", false, "reason", ReasonBusy)
	time.Sleep(10 * time.Millisecond)
	r.clock.Advance(hangupGrace)
	eventually(t, func() bool { return sink.count() == 1 }, "handed after the grace")
	c := sink.get()[0]
	assert.True(t, c.NewCallAt.IsZero())
	assert.Equal(t, ReasonBusy, c.Reason)
	late := r.send(NewCall, "default_1001", "4.1", true)
	eventually(t, func() bool { return r.b.ackedTimes(late) == 1 }, "late NEWCALL settled")
	assert.Equal(t, 1, sink.count())
}

// Events of a call handed over and settled, delivered again (a consumer
// died while settling them), are settled without handing the call again.
func TestConsumeCallsRedeliveredSettledCall(t *testing.T) {
	sink := &callSink{}
	r := startCalls(t, 1024, sink)
	r.send(NewCall, "default_1001", "5.1", false)
	r.send(Hangup, "default_1001", "5.1", false)
	eventually(t, func() bool { return sink.count() == 1 && len(r.b.unsettled()) == 0 }, "handed and settled")
	again := []int{r.send(NewCall, "default_1001", "5.1", true), r.send(Hangup, "default_1001", "5.1", true)}
	eventually(t, func() bool { return r.b.ackedTimes(again[0]) == 1 && r.b.ackedTimes(again[1]) == 1 }, "settled again")
	assert.Equal(t, 1, sink.count())
}

// A call whose connection is lost before it ends is not handed over; its
// events, delivered again on the next connection, make it whole, marked
// Redelivered.
func TestConsumeCallsConnectionLost(t *testing.T) {
	sink := &callSink{}
	r := startCalls(t, 1024, sink)
	r.send(NewCall, "default_1001", "6.1", false, "direction", "INBOUND")
	r.send(Connect, "default_1001", "6.1", false)
	time.Sleep(10 * time.Millisecond)
	r.b.lose()
	r.send(NewCall, "default_1001", "6.1", true, "direction", "INBOUND")
	r.send(Connect, "default_1001", "6.1", true)
	r.send(Hangup, "default_1001", "6.1", false)
	eventually(t, func() bool { return sink.count() == 1 }, "handed")
	eventually(t, func() bool { return len(r.b.unsettled()) == 2 }, "the 3 events of the new connection settled")
	c := sink.get()[0]
	assert.True(t, c.Redelivered)
	assert.Equal(t, 3, c.Events)
	assert.Equal(t, "INBOUND", c.Direction)
}

// A long call is handed over Open after WithMaxHold, its events so far
// settled, then whole when it ends; a call that never ends is handed
// Expired.
func TestConsumeCallsLongAndExpired(t *testing.T) {
	sink := &callSink{}
	r := startCalls(t, 1024, sink, WithMaxHold(20*time.Minute))
	r.send(NewCall, "default_1001", "7.1", false, "direction", "INBOUND")
	r.send(Connect, "default_1001", "7.1", false)
	r.send(NewCall, "default_1002", "7.2", false, "direction", "OUTBOUND")
	time.Sleep(10 * time.Millisecond)
	r.clock.Advance(20 * time.Minute)
	eventually(t, func() bool { return sink.count() == 2 && len(r.b.unsettled()) == 0 }, "both handed Open and settled")
	for _, c := range sink.get() {
		assert.True(t, c.Open, c.UniqueID)
		assert.False(t, c.Expired)
	}
	r.clock.Advance(10 * time.Minute)
	r.send(Hangup, "default_1001", "7.1", false, "reason", ReasonByCallee)
	eventually(t, func() bool { return sink.count() == 3 && len(r.b.unsettled()) == 0 }, "the end handed")
	end := sink.get()[2]
	assert.Equal(t, "7.1", end.UniqueID)
	assert.False(t, end.Open)
	assert.Equal(t, "INBOUND", end.Direction, "the same consumer hands the whole call at its end")
	assert.Equal(t, 30*time.Minute, end.TalkDuration())
	assert.Equal(t, 3, end.Events)

	r.clock.Advance(DefaultExpiry)
	eventually(t, func() bool { return sink.count() == 4 }, "7.2 expired")
	exp := sink.get()[3]
	assert.Equal(t, "7.2", exp.UniqueID)
	assert.True(t, exp.Expired)
	assert.False(t, exp.Open)
}

// 5,000 calls open at once (every NEWCALL before any HANGUP) are all handed
// over, every event settled once.
func TestConsumeCallsManyOpen(t *testing.T) {
	const n = 5000
	sink := &callSink{}
	r := startCalls(t, 4*n, sink, WithLanes(8)) // as a prefetch that holds every event
	for i := 0; i < n; i++ {
		r.send(NewCall, fmt.Sprintf("default_%d", 1000+i%60), fmt.Sprintf("9.%d", i), false, "direction", "INBOUND")
	}
	for i := 0; i < n; i++ {
		r.send(Hangup, fmt.Sprintf("default_%d", 1000+i%60), fmt.Sprintf("9.%d", i), false)
	}
	eventually(t, func() bool { return sink.count() == n && len(r.b.unsettled()) == 0 }, "all handed and settled")
	seen := map[string]bool{}
	for _, c := range sink.get() {
		assert.False(t, seen[c.UniqueID], "handed twice: %s", c.UniqueID)
		seen[c.UniqueID] = true
		assert.Equal(t, "INBOUND", c.Direction)
		assert.Equal(t, 2, c.Events)
	}
	for id := 1; id <= 2*n; id++ {
		assert.Equal(t, 1, r.b.ackedTimes(id))
	}
}

// When the events held fill the subscription's buffer (at least the
// broker's prefetch, past which it sends nothing more), the oldest calls
// are handed over Open instead of waiting for HANGUPs that cannot come.
func TestConsumeCallsHeldFillBuffer(t *testing.T) {
	sink := &callSink{}
	b := newBroker(t, 4)
	done := make(chan error, 1)
	clock := newFakeClock()
	go func() {
		done <- ConsumeCalls(context.Background(), b.sub, sink.handle, withTestClock(clock.Now, hangupGrace))
	}()
	for i := 0; i < 6; i++ {
		b.send(evBody(NewCall, "default_1001", fmt.Sprintf("f.%d", i)), false, clock.Now())
	}
	eventually(t, func() bool { return sink.count() == 3 }, "the oldest three handed Open")
	for i, c := range sink.get() {
		assert.True(t, c.Open)
		assert.Equal(t, fmt.Sprintf("f.%d", i), c.UniqueID)
	}
	assert.Len(t, b.unsettled(), 3)
	b.feed.End(nil)
	<-done
}

// A consumer whose connection drops while its handler stores a call: the
// settlement fails, the broker delivers the call's events again, and they are
// settled without handing the call a second time.
func TestConsumeCallsLostWhileSettling(t *testing.T) {
	release := make(chan struct{})
	sink := &callSink{}
	r := &callsRun{b: newBroker(t, 64), clock: newFakeClock(), sink: sink, done: make(chan error, 1)}
	started := make(chan struct{})
	go func() {
		r.done <- ConsumeCalls(context.Background(), r.b.sub, func(ctx context.Context, c Call) error {
			close(started)
			<-release
			return sink.handle(ctx, c)
		}, withTestClock(r.clock.Now, hangupGrace))
	}()
	r.send(NewCall, "default_1001", "8.1", false)
	r.send(Hangup, "default_1001", "8.1", false)
	<-started
	r.b.lose()
	close(release)
	eventually(t, func() bool { return sink.count() == 1 }, "handed")
	again := []int{r.send(NewCall, "default_1001", "8.1", true), r.send(Hangup, "default_1001", "8.1", true)}
	eventually(t, func() bool { return r.b.ackedTimes(again[0]) == 1 && r.b.ackedTimes(again[1]) == 1 }, "settled on their second delivery")
	time.Sleep(10 * time.Millisecond)
	assert.Equal(t, 1, sink.count(), "handed twice")
	r.b.feed.End(nil)
	<-r.done
}
