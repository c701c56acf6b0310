package integration

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// TestCallsManyOpen publishes the NEWCALL of 5,000 calls (over 500 agents)
// before any HANGUP, to ConsumeCalls on a durable subscription with the
// default options: all 5,000 are handed over whole, none stalls at the
// prefetch limit. It logs what holding them cost in memory.
func TestCallsManyOpen(t *testing.T) {
	b := needRabbit(t)
	const n, agents = 5000, 500
	ctx, cancel := context.WithTimeout(context.Background(), durableLimit)
	defer cancel()
	topics := agentTopics("ito"+randHex(4), agents)
	script := newCallScript(randHex(6), topics, n, 1)
	script.steps = script.steps[:0]
	for i := range script.calls {
		script.calls[i].answered = false
		script.calls[i].reason = events.ReasonNoAnswer
		script.steps = append(script.steps, callStep{i, events.NewCall})
	}
	for i := range script.calls {
		script.steps = append(script.steps, callStep{i, events.Hangup})
	}
	mine := map[string]bool{}
	for _, tp := range topics {
		mine[strings.TrimPrefix(tp, events.TopicPrefix)] = true
	}
	name := durableName("open")
	addr, dopts := b.dialOpts(0)
	deleteDurable(t, addr, dopts, name, testDurableOpts())
	tr, err := stompx.Dial(ctx, addr, dopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	sub, err := tr.SubscribeDurable(ctx, name, []string{events.AllAgents}, testDurableOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	idx := script.byUID()
	var mu sync.Mutex
	got, wrong := map[string]int{}, []string{}
	cctx, stop := context.WithCancel(ctx)
	consumed := background(t, func() error {
		return events.ConsumeCalls(cctx, sub, func(_ context.Context, c events.Call) error {
			if !mine[c.Agent] {
				return nil // another test's
			}
			mu.Lock()
			defer mu.Unlock()
			got[c.UniqueID]++
			if i, ok := idx[c.UniqueID]; !ok || c.Expired || c.Open || c.Direction != script.calls[i].direction || c.Reason != events.ReasonNoAnswer {
				wrong = append(wrong, fmt.Sprintf("%+v", c))
			}
			return nil
		})
	})
	defer func() { stop(); _ = consumed() }()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}

	pub := b.publisher(t, 0).(rawSender)
	runtime.GC()
	var before, held runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	if err := script.publishSteps(ctx, pub, 0, n, 0, nil); err != nil {
		t.Fatal(err)
	}
	// Every NEWCALL is out; give the consumer time to take them all in.
	time.Sleep(2 * time.Second)
	runtime.GC()
	runtime.ReadMemStats(&held)
	if c := count(); c != 0 {
		t.Errorf("%d calls handed over before any HANGUP", c)
	}
	if err := script.publishSteps(ctx, pub, n, 2*n, 0, nil); err != nil {
		t.Fatal(err)
	}
	for prev, since := -1, time.Now(); count() < n; {
		if c := count(); c != prev {
			prev, since = c, time.Now()
		} else if time.Since(since) > phaseLimit {
			t.Fatalf("stalled: %d of %d calls handed over, none for %v", c, n, phaseLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	done := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	if len(wrong) > 0 {
		t.Errorf("%d calls handed over other than published, e.g. %s", len(wrong), wrong[0])
	}
	for uid, k := range got {
		if k != 1 {
			t.Errorf("call %s handed over %d times", uid, k)
		}
	}
	t.Logf("%d calls open at once (%d NEWCALLs held unsettled), default options: all handed over whole in %v; the heap grew %.1f MB while they were held (%.0f bytes a call)",
		n, n, done.Round(time.Millisecond), float64(int64(held.HeapAlloc)-int64(before.HeapAlloc))/1e6, float64(int64(held.HeapAlloc)-int64(before.HeapAlloc))/n)
}

// TestCallsMigration makes a durable queue as the previous release did
// (SubscribeDurable without the new options), leaves events of calls
// waiting in it, and subscribes with WithSingleActive and ConsumeCalls:
// the calls are handed over whole, or SubscribeDurable fails with an error
// wrapping ErrDurableMismatch that says what to do.
func TestCallsMigration(t *testing.T) {
	b := needRabbit(t)
	ctx, cancel := context.WithTimeout(context.Background(), durableLimit)
	defer cancel()
	topics := agentTopics("itm"+randHex(4), 5)
	script := newCallScript(randHex(6), topics, 50, 3)
	name := durableName("migrate")
	addr, dopts := b.dialOpts(0)
	sa := singleActive(nil)
	t.Cleanup(func() {
		// Whichever way the queue ended up: try both.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tr, err := stompx.Dial(ctx, addr, dopts...)
		if err != nil {
			t.Errorf("deleting %s: %v", name, err)
			return
		}
		defer tr.Close()
		if err := tr.DeleteDurable(ctx, name, testDurableOpts(sa...)...); err != nil {
			if err := tr.DeleteDurable(ctx, name, testDurableOpts()...); err != nil {
				t.Errorf("deleting %s: %v", name, err)
			}
		}
	})
	makeQueue(ctx, t, addr, dopts, name, topics, testDurableOpts())
	pub := b.publisher(t, 0).(rawSender)
	if err := script.publishSteps(ctx, pub, 0, len(script.steps), 0, nil); err != nil {
		t.Fatal(err)
	}

	tr, err := stompx.Dial(ctx, addr, dopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	active := make(chan bool, 4)
	opts := singleActive(func(a bool) { active <- a })
	sub, err := tr.SubscribeDurable(ctx, name, topics, testDurableOpts(opts...)...)
	if err != nil {
		if !errors.Is(err, stompx.ErrDurableMismatch) || !strings.Contains(err.Error(), "DeleteDurable") {
			t.Fatalf("SubscribeDurable with WithSingleActive on a queue of the previous release: %v; want it to work, or ErrDurableMismatch saying what to do", err)
		}
		t.Logf("a queue of the previous release refuses WithSingleActive: %v", err)
		return
	}
	defer sub.Close()
	if a := <-active; !a {
		t.Fatalf("the only consumer of %s is a standby", name)
	}
	idx := script.byUID()
	var mu sync.Mutex
	got, wrong := map[string]int{}, 0
	cctx, stop := context.WithCancel(ctx)
	consumed := background(t, func() error {
		return events.ConsumeCalls(cctx, sub, func(_ context.Context, c events.Call) error {
			mu.Lock()
			defer mu.Unlock()
			got[c.UniqueID]++
			if i, ok := idx[c.UniqueID]; !ok || c.Reason != script.calls[i].reason || c.Direction != script.calls[i].direction {
				wrong++
			}
			return nil
		})
	})
	defer func() { stop(); _ = consumed() }()
	for deadline := time.Now().Add(phaseLimit); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == len(script.calls) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d waiting calls handed over", n, len(script.calls))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if wrong > 0 {
		t.Errorf("%d calls handed over other than published", wrong)
	}
	t.Logf("a queue made by the previous release with %d calls waiting: WithSingleActive and ConsumeCalls handed all %d over whole", len(script.calls), len(got))
}
