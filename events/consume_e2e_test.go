package events_test

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

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// durable dials p and subscribes durably to every agent's events as name.
func durable(tb testing.TB, p *ivtest.Platform, name string, opts ...stompx.DurableOption) (*stompx.Transport, *events.Subscription) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := stompx.Dial(ctx, p.STOMPAddr())
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = tr.Close() })
	s, err := tr.SubscribeDurable(ctx, name, []string{events.AllAgents}, opts...)
	require.NoError(tb, err)
	return tr, s
}

func agentName(i int) string { return fmt.Sprintf("default_%d", 1000+i) }

// Over stompx and ivtest's broker: a handler that fails transiently gets
// every event, in order per agent; a poison event is tried WithRetry's
// attempts, then settled (dead-lettered, or dropped where the transport
// cannot dead-letter), and the other agents go on.
func TestConsumeOverStompx(t *testing.T) {
	p := ivtest.NewPlatform(t)
	_, s := durable(t, p, "consume-e2e")
	const agents, perAgent = 12, 25
	var mu sync.Mutex
	got := map[string][]string{}
	tries := map[string]int{}
	h := func(_ context.Context, ev events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		tries[ev.UniqueID]++
		if ev.UniqueID == "poison" {
			return errors.New("unparseable queue name")
		}
		if tries[ev.UniqueID] == 1 && len(got[ev.Agent])%4 == 1 {
			return errors.New("database busy")
		}
		got[ev.Agent] = append(got[ev.Agent], ev.UniqueID)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- events.Consume(ctx, s, h, events.WithLanes(4), events.WithRetry(3, time.Millisecond)) }()
	for i := 0; i < perAgent; i++ {
		for a := 0; a < agents; a++ {
			uid := fmt.Sprintf("%d.%d", a, i)
			if a == 3 && i == 10 {
				uid = "poison"
			}
			require.NoError(t, p.PublishEvent(events.Event{Type: events.Pause, Agent: agentName(a), UniqueID: uid}))
		}
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, l := range got {
			n += len(l)
		}
		return n == agents*perAgent-1
	}, 10*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 3, tries["poison"])
	for a := 0; a < agents; a++ {
		var want []string
		for i := 0; i < perAgent; i++ {
			if a != 3 || i != 10 {
				want = append(want, fmt.Sprintf("%d.%d", a, i))
			}
		}
		assert.Equal(t, want, got[agentName(a)], "order of %s", agentName(a))
	}
	require.NoError(t, s.Close())

	// The poison event was settled: dead-lettered where the transport can,
	// otherwise acked and reported as a drop. Either way the name's next
	// consumer does not get it again: its first event is one published
	// after.
	require.NoError(t, p.PublishEvent(events.Event{Type: events.Pause, Agent: agentName(0), UniqueID: "marker"}))
	_, again := durable(t, p, "consume-e2e")
	select {
	case ev := <-again.C():
		assert.Equal(t, "marker", ev.UniqueID, "the poison event was left unsettled")
	case <-time.After(10 * time.Second):
		t.Fatal("the marker was not delivered")
	}
	require.NoError(t, again.Close())
}

// 5,000 calls open at once over stompx, every NEWCALL before any HANGUP:
// all handed over, once. The prefetch must let the consumer hold every
// NEWCALL.
func TestConsumeCallsManyOpenOverStompx(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 events")
	}
	const n = 5000
	p := ivtest.NewPlatform(t)
	_, s := durable(t, p, "calls-many-open", stompx.WithPrefetch(3*n))
	var handed atomic.Int64
	var dup atomic.Bool
	var seen sync.Map
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- events.ConsumeCalls(ctx, s, func(_ context.Context, c events.Call) error {
			if _, again := seen.LoadOrStore(c.UniqueID, true); again || c.Direction != "INBOUND" {
				dup.Store(true)
			}
			handed.Add(1)
			return nil
		}, events.WithLanes(8))
	}()
	for i := 0; i < n; i++ {
		require.NoError(t, p.PublishEvent(events.Event{Type: events.NewCall, Direction: "INBOUND", Agent: agentName(i % 60), UniqueID: fmt.Sprintf("m.%d", i)}))
	}
	for i := 0; i < n; i++ {
		require.NoError(t, p.PublishEvent(events.Event{Type: events.Hangup, Agent: agentName(i % 60), UniqueID: fmt.Sprintf("m.%d", i)}))
	}
	require.Eventually(t, func() bool { return handed.Load() == n }, 30*time.Second, 5*time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	assert.False(t, dup.Load(), "a call handed twice or not whole")
	require.NoError(t, s.Close())
}

// A consumer that dies holding a call's NEWCALL (here: its subscription
// closed with the call open) leaves it with the broker; the next consumer
// receives the HANGUP and the NEWCALL again and hands the call over whole,
// once, marked Redelivered.
func TestConsumeCallsTakeoverOverStompx(t *testing.T) {
	p := ivtest.NewPlatform(t)
	_, first := durable(t, p, "calls-takeover")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var firstCalls atomic.Int64
	go func() {
		done <- events.ConsumeCalls(ctx, first, func(context.Context, events.Call) error { firstCalls.Add(1); return nil })
	}()
	require.NoError(t, p.PublishEvent(events.Event{Type: events.NewCall, Direction: "OUTBOUND", CallerID: "6100", Agent: agentName(1), UniqueID: "t.1"}))
	require.NoError(t, p.Sync(context.Background()))
	require.Eventually(t, func() bool { return first.Delivered() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	<-done
	require.NoError(t, first.Close()) // the NEWCALL goes back to the queue
	require.NoError(t, p.PublishEvent(events.Event{Type: events.Hangup, Agent: agentName(1), UniqueID: "t.1", Reason: events.ReasonByCallee}))

	_, second := durable(t, p, "calls-takeover")
	calls := make(chan events.Call, 4)
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() {
		done <- events.ConsumeCalls(ctx2, second, func(_ context.Context, c events.Call) error { calls <- c; return nil })
	}()
	c := <-calls
	assert.Equal(t, "OUTBOUND", c.Direction)
	assert.Equal(t, "6100", c.CallerID)
	assert.Equal(t, events.ReasonByCallee, c.Reason)
	assert.True(t, c.Redelivered)
	assert.Zero(t, firstCalls.Load())
	time.Sleep(50 * time.Millisecond)
	assert.Empty(t, calls, "the call was handed twice")
	cancel2()
	<-done
	require.NoError(t, second.Close())
}
