package integration

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// flaky says whether a handler fails the attempt-th try (0 first) of the
// thing called key: about one in three keys fails its first try, and one in
// nine its second as well.
func flaky(key string, attempt int) bool {
	h := fnv.New32a()
	h.Write([]byte(key))
	v := h.Sum32()
	return (attempt == 0 && v%3 == 0) || (attempt == 1 && v%9 == 0)
}

var errFlaky = errors.New("the store is busy")

// handledLog keeps, per agent, what a handler finished, in order, and how
// often each key was tried.
type handledLog struct {
	mu    sync.Mutex
	order map[string][]string // agent: keys, in the order the handler returned nil
	tries map[string]int
	fails int
}

func newHandledLog() *handledLog {
	return &handledLog{order: map[string][]string{}, tries: map[string]int{}}
}

// try counts a try of key and says whether it fails.
func (l *handledLog) try(agent, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.tries[key]
	l.tries[key] = n + 1
	if flaky(key, n) {
		l.fails++
		return fmt.Errorf("%s: %w", key, errFlaky)
	}
	l.order[agent] = append(l.order[agent], key)
	return nil
}

func (l *handledLog) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ks := range l.order {
		n += len(ks)
	}
	return n
}

// TestCallsFailures consumes calls on a durable name with handlers that
// fail transiently (a third of the events or calls fail their first try, a
// ninth their second too), on 8 lanes with retries: every event (Consume)
// or call (ConsumeCalls) is handled, once, each agent's in the order
// published. The subscription is to every agent (events.AllAgents, the
// SDK's default), as one SUBSCRIBE keeps the broker's order; events of
// other tests' agents on the shared broker are settled without a check.
func TestCallsFailures(t *testing.T) {
	b := needRabbit(t)
	t.Run("Consume", func(t *testing.T) { testTransient(t, b, false, false) })
	t.Run("ConsumeCalls", func(t *testing.T) { testTransient(t, b, true, false) })
}

// testTransient runs the test; perAgent subscribes to each agent's topic
// instead of every agent's.
func testTransient(t *testing.T, b *durableBroker, calls, perAgent bool) {
	ctx, cancel := context.WithTimeout(context.Background(), durableLimit)
	defer cancel()
	topics := agentTopics("itf"+randHex(4), 20)
	script := newCallScript(randHex(6), topics, 300, uint64(time.Now().UnixNano()))
	name := durableName("flaky")
	addr, dopts := b.dialOpts(0)
	deleteDurable(t, addr, dopts, name, testDurableOpts())
	tr, err := stompx.Dial(ctx, addr, dopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	subTopics := []string{events.AllAgents}
	if perAgent {
		subTopics = topics
	}
	sub, err := tr.SubscribeDurable(ctx, name, subTopics, testDurableOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	// What each agent should see handled, in order.
	want := map[string][]string{}
	for _, st := range script.steps {
		c := script.calls[st.call]
		if !calls {
			want[c.agent] = append(want[c.agent], eventKey(c.uid, st.typ))
		} else if st.typ == events.Hangup {
			want[c.agent] = append(want[c.agent], c.uid)
		}
	}
	total := 0
	for _, ks := range want {
		total += len(ks)
	}

	hl := newHandledLog()
	var wrong []string
	opts := []events.ConsumeOption{events.WithLanes(8), events.WithRetry(5, 5*time.Millisecond)}
	cctx, stop := context.WithCancel(ctx)
	consumed := background(t, func() error {
		if !calls {
			return events.Consume(cctx, sub, func(_ context.Context, ev events.Event) error {
				if want[ev.Agent] == nil {
					return nil // another test's
				}
				return hl.try(ev.Agent, eventKey(ev.UniqueID, ev.Type))
			}, opts...)
		}
		idx := script.byUID()
		return events.ConsumeCalls(cctx, sub, func(_ context.Context, c events.Call) error {
			if want[c.Agent] == nil {
				return nil // another test's
			}
			if i, ok := idx[c.UniqueID]; !ok || script.calls[i].direction != c.Direction || script.calls[i].reason != c.Reason || c.Expired {
				hl.mu.Lock()
				wrong = append(wrong, fmt.Sprintf("%+v", c))
				hl.mu.Unlock()
			}
			return hl.try(c.Agent, c.UniqueID)
		}, opts...)
	})
	pub := b.publisher(t, 0).(rawSender)
	if err := script.publishSteps(ctx, pub, 0, len(script.steps), 0, nil); err != nil {
		t.Fatal(err)
	}
	for prev, since := -1, time.Now(); hl.total() < total; {
		if n := hl.total(); n != prev {
			prev, since = n, time.Now()
		} else if time.Since(since) > phaseLimit {
			t.Errorf("%d of %d handled, and nothing more for %v", n, total, phaseLimit)
			break
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	// Late doubles, if any, would come now.
	_ = sleepCtx(ctx, 500*time.Millisecond)
	stop()
	if err := consumed(); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("consuming: %v", err)
	}
	hl.mu.Lock()
	defer hl.mu.Unlock()
	for agent, ks := range want {
		if got := hl.order[agent]; !slices.Equal(got, ks) {
			t.Errorf("agent %s: handled %d in an order other than the %d published:\n got  %v\n want %v", agent, len(got), len(ks), got, ks)
		}
	}
	if len(wrong) > 0 {
		t.Errorf("%d calls handed over other than published, e.g. %s", len(wrong), wrong[0])
	}
	if hl.fails == 0 {
		t.Errorf("no try failed: the test tested nothing")
	}
	what := "events (Consume)"
	if calls {
		what = "calls (ConsumeCalls)"
	}
	t.Logf("%d %s over %d agents (subscribed to %d topics), 8 lanes, WithRetry(5, 5ms): %d tries failed; every one handled once, each agent's in order", total, what, len(topics), len(subTopics), hl.fails)
}
