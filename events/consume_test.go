package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// runConsume runs Consume on b's subscription until the test ends it.
func runConsume(t *testing.T, ctx context.Context, b *broker, h Handler, opts ...ConsumeOption) <-chan error {
	t.Helper()
	res := make(chan error, 1)
	go func() { res <- Consume(ctx, b.sub, h, opts...) }()
	return res
}

// A handler that fails transiently: every event is handled and acked once,
// an agent's events in the order they came and never two at once.
func TestConsumeTransientFailuresKeepOrder(t *testing.T) {
	const agents, perAgent = 24, 40
	b := newBroker(t, 4096)
	var mu sync.Mutex
	handled := map[string][]string{}
	busy := map[string]bool{}
	tries := map[string]int{}
	var overlap atomic.Bool
	h := func(ctx context.Context, ev Event) error {
		mu.Lock()
		if busy[ev.Agent] {
			overlap.Store(true)
		}
		busy[ev.Agent] = true
		tries[ev.UniqueID]++
		n := tries[ev.UniqueID]
		mu.Unlock()
		time.Sleep(50 * time.Microsecond)
		mu.Lock()
		defer mu.Unlock()
		busy[ev.Agent] = false
		if len(ev.UniqueID)%3 == 0 && n < 3 { // a third of the events fail twice
			return errors.New("database unavailable")
		}
		handled[ev.Agent] = append(handled[ev.Agent], ev.UniqueID)
		return nil
	}
	done := runConsume(t, context.Background(), b, h, WithLanes(8), WithRetry(4, time.Millisecond))
	for i := 0; i < perAgent; i++ {
		for a := 0; a < agents; a++ {
			b.send(evBody(Pause, fmt.Sprintf("default_%d", 1000+a), fmt.Sprintf("u%d.%d", a, i)), false, t0)
		}
	}
	eventually(t, func() bool { n, _ := b.settled(); return n == agents*perAgent }, "every event acked")
	b.feed.End(nil)
	require.ErrorIs(t, <-done, ErrEnded)

	assert.False(t, overlap.Load(), "two events of one agent were handled at once")
	for a := 0; a < agents; a++ {
		agent := fmt.Sprintf("default_%d", 1000+a)
		want := make([]string, perAgent)
		for i := range want {
			want[i] = fmt.Sprintf("u%d.%d", a, i)
		}
		assert.Equal(t, want, handled[agent], "order of %s", agent)
	}
	_, rejected := b.settled()
	assert.Zero(t, rejected)
	for id := 1; id <= agents*perAgent; id++ {
		assert.Equal(t, 1, b.ackedTimes(id), "delivery %d", id)
	}
}

// A poison event is tried WithRetry's attempts, then rejected with the
// handler's error; its agent goes on after it, and the other agents are not
// held up meanwhile, on one lane.
func TestConsumePoisonEvent(t *testing.T) {
	b := newBroker(t, 64)
	var mu sync.Mutex
	var order []string
	poisonTries := 0
	otherDone := make(chan struct{})
	h := func(ctx context.Context, ev Event) error {
		mu.Lock()
		defer mu.Unlock()
		if ev.UniqueID == "poison" {
			poisonTries++
			return fmt.Errorf("cannot store call %d", poisonTries)
		}
		order = append(order, ev.Agent+"/"+ev.UniqueID)
		if ev.UniqueID == "b2" {
			close(otherDone)
		}
		return nil
	}
	// A long backoff: the other agent is handled while the poison waits.
	done := runConsume(t, context.Background(), b, h, WithRetry(3, 20*time.Millisecond))
	b.send(evBody(Pause, "default_1", "a1"), false, t0)
	poison := b.send(evBody(Pause, "default_1", "poison"), false, t0)
	b.send(evBody(Pause, "default_1", "a3"), false, t0)
	b.send(evBody(Pause, "default_2", "b1"), false, t0)
	b.send(evBody(Pause, "default_2", "b2"), false, t0)
	<-otherDone
	mu.Lock()
	assert.NotContains(t, order, "default_1/a3", "an agent's later event ran before its failing one was given up")
	mu.Unlock()
	eventually(t, func() bool { a, r := b.settled(); return a == 4 && r == 1 }, "4 acked, 1 rejected")
	b.feed.End(nil)
	<-done
	cause, ok := b.rejectCause(poison)
	require.True(t, ok)
	assert.Equal(t, "cannot store call 3", cause, "rejected with the last error")
	assert.Equal(t, 3, poisonTries)
	assert.Equal(t, []string{"default_1/a1", "default_2/b1", "default_2/b2", "default_1/a3"}, order)
}

// An event whose connection is lost is neither handed nor settled; Consume
// returns ctx.Err() when ctx ends, after its running handler returned, and
// leaves the events it did not handle unsettled.
func TestConsumeLostAndCancel(t *testing.T) {
	b := newBroker(t, 64)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan string, 10)
	h := func(hctx context.Context, ev Event) error {
		started <- ev.UniqueID
		if ev.UniqueID == "block" {
			<-hctx.Done()
			return hctx.Err()
		}
		return nil
	}
	b.send(evBody(Login, "default_1", "gone"), false, t0)
	b.lose()
	done := runConsume(t, ctx, b, h)
	b.send(evBody(Login, "default_1", "block"), true, t0)
	b.send(evBody(Login, "default_1", "never"), true, t0)
	assert.Equal(t, "block", <-started, "the event of the lost connection was handed")
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	assert.Empty(t, started)
	acked, rejected := b.settled()
	assert.Zero(t, acked+rejected)
	_ = b.sub.Close()
}

// On a subscription without acks, an event given up is dropped and the
// error handler is told.
func TestConsumeGiveUpWithoutAcks(t *testing.T) {
	var mu sync.Mutex
	var got []error
	f, err := NewFeed(WithErrorHandler(func(err error) { mu.Lock(); got = append(got, err); mu.Unlock() }))
	require.NoError(t, err)
	f.publish(TopicPrefix+"x", evBody(Login, "default_1", ""), t0)
	f.End(nil)
	err = Consume(context.Background(), f.Subscription(), func(context.Context, Event) error { return errors.New("nope") },
		WithRetry(2, time.Millisecond))
	require.ErrorIs(t, err, ErrEnded)
	require.Len(t, got, 1)
	assert.EqualError(t, got[0], `events: Consume: gave up on LOGIN of "default_1" after 2 attempts, dropped`)
}

func TestConsumeArguments(t *testing.T) {
	b := newBroker(t, 1)
	defer b.sub.Close()
	h := func(context.Context, Event) error { return nil }
	ch := func(context.Context, Call) error { return nil }
	ctx := context.Background()
	var nilCtx context.Context // refused, not a panic
	for _, c := range []struct {
		err  error
		want string
	}{
		{Consume(nilCtx, b.sub, h), "events: Consume: invalid argument: nil context"},
		{Consume(ctx, nil, h), "events: Consume: invalid argument: nil subscription"},
		{Consume(ctx, b.sub, nil), "events: Consume: invalid argument: nil handler"},
		{ConsumeCalls(ctx, b.sub, nil), "events: ConsumeCalls: invalid argument: nil handler"},
		{Consume(ctx, b.sub, h, nil), "events: Consume: invalid argument: option 0 is nil"},
		{Consume(ctx, b.sub, h, WithLanes(0)), "events: Consume: invalid argument: WithLanes: n must be 1..10000, got 0"},
		{Consume(ctx, b.sub, h, WithLanes(10001)), "events: Consume: invalid argument: WithLanes: n must be 1..10000, got 10001"},
		{Consume(ctx, b.sub, h, WithRetry(0, time.Second)), "events: Consume: invalid argument: WithRetry: attempts must be at least 1, got 0"},
		{Consume(ctx, b.sub, h, WithRetry(3, 0)), "events: Consume: invalid argument: WithRetry: backoff must be more than zero, got 0s"},
		{Consume(ctx, b.sub, h, WithOtherEvents(h)), "events: Consume: invalid argument: WithOtherEvents: only ConsumeCalls takes it"},
		{Consume(ctx, b.sub, h, WithMaxHold(0)), "events: Consume: invalid argument: WithMaxHold: d must be more than zero, got 0s"},
		{ConsumeCalls(ctx, b.sub, ch, WithOtherEvents(nil)), "events: ConsumeCalls: invalid argument: WithOtherEvents: nil handler"},
		{ConsumeCalls(ctx, b.sub, ch, WithMaxHold(-time.Second)), "events: ConsumeCalls: invalid argument: WithMaxHold: d must be more than zero, got -1s"},
		{ConsumeCalls(ctx, b.sub, ch, WithCallExpiry(0)), "events: ConsumeCalls: invalid argument: WithCallExpiry: d must be more than zero, got 0s"},
		{Consume(ctx, b.sub, h, WithCallExpiry(time.Hour)), "events: Consume: invalid argument: WithCallExpiry: only ConsumeCalls takes it"},
	} {
		assert.ErrorIs(t, c.err, errs.ErrInvalidArgument)
		assert.EqualError(t, c.err, c.want)
	}
}

func TestRetryBackoffDoubles(t *testing.T) {
	p := retryPolicy{attempts: 10, backoff: time.Second}
	var got []time.Duration
	for i := 1; i <= 8; i++ {
		got = append(got, p.wait(i))
	}
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
		32 * time.Second, time.Minute, time.Minute}, got)
	long := retryPolicy{attempts: 3, backoff: 2 * time.Minute}
	assert.Equal(t, 2*time.Minute, long.wait(1))
	assert.Equal(t, 2*time.Minute, long.wait(3))
}

// An event whose connection is lost while it waits for its retry is given
// up without being rejected: the broker delivers it again.
func TestConsumeLostDuringBackoff(t *testing.T) {
	b := newBroker(t, 8)
	failed := make(chan struct{}, 1)
	var tries atomic.Int64
	done := runConsume(t, context.Background(), b, func(context.Context, Event) error {
		tries.Add(1)
		failed <- struct{}{}
		return errors.New("down")
	}, WithRetry(5, 50*time.Millisecond))
	b.send(evBody(Login, "default_1", ""), false, t0)
	<-failed
	b.lose()
	b.feed.End(nil)
	require.ErrorIs(t, <-done, ErrEnded)
	assert.Equal(t, int64(1), tries.Load(), "retried on a lost connection")
	acked, rejected := b.settled()
	assert.Zero(t, acked+rejected)
}

// When s ends, Consume hands the events it already took before it
// returns.
func TestConsumeDrainsAtEnd(t *testing.T) {
	f, err := NewFeed(WithBuffer(64))
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		f.publish(TopicPrefix+"x", evBody(Pause, fmt.Sprintf("default_%d", i%3), fmt.Sprint(i)), t0)
	}
	f.End(errors.New("broker gone"))
	var mu sync.Mutex
	tries := map[string]int{}
	handled := map[string]bool{}
	err = Consume(context.Background(), f.Subscription(), func(_ context.Context, ev Event) error {
		mu.Lock()
		defer mu.Unlock()
		if tries[ev.UniqueID]++; tries[ev.UniqueID] == 1 && len(ev.UniqueID)%2 == 0 {
			return errors.New("once more")
		}
		handled[ev.UniqueID] = true
		return nil
	}, WithLanes(3), WithRetry(2, time.Millisecond))
	require.EqualError(t, err, "broker gone")
	assert.Len(t, handled, 20, "every event taken before the end handled")
}
