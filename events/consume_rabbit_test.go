package events_test

// The end-to-end tests of Consume and ConsumeCalls against RabbitMQ:
//
//	IV_RABBITMQ_ADDR=127.0.0.1:61613 go test -race -run Rabbit ./events
//
// Without IV_RABBITMQ_ADDR they skip, unless IV_REQUIRE_BROKER is set. Each
// test uses agents and a durable name of its own, so that they can share a
// broker with other tests.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// rabbit is a test's view of RabbitMQ: a platform publishing on it, and
// agents and a durable name of the test's own.
type rabbit struct {
	p      *ivtest.Platform
	addr   string
	name   string
	agents []string
}

func newRabbit(t *testing.T, agents int) *rabbit {
	t.Helper()
	addr := os.Getenv("IV_RABBITMQ_ADDR")
	if addr == "" {
		if os.Getenv("IV_REQUIRE_BROKER") != "" {
			t.Fatal("IV_REQUIRE_BROKER is set but IV_RABBITMQ_ADDR is empty")
		}
		t.Skip("set IV_RABBITMQ_ADDR (e.g. 127.0.0.1:61613) to run against RabbitMQ")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	r := &rabbit{addr: addr, name: "events-test-" + id}
	r.p = ivtest.NewPlatform(t, ivtest.WithExternalBroker(addr, "instantvoice", "sT0MpM3"),
		ivtest.WithRequestQueue("/queue/events.test.config."+id))
	for i := 0; i < agents; i++ {
		r.agents = append(r.agents, fmt.Sprintf("ev%s%d", id, i))
	}
	return r
}

// subscribe dials RabbitMQ and subscribes durably to the test's agents.
func (r *rabbit) subscribe(t *testing.T) *events.Subscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := stompx.Dial(ctx, r.addr)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tr.DeleteDurable(ctx, r.name)
		_ = tr.Close()
	})
	var topics []string
	for _, a := range r.agents {
		topics = append(topics, events.AgentTopic("", a))
	}
	s, err := tr.SubscribeDurable(ctx, r.name, topics)
	require.NoError(t, err)
	return s
}

// Transient failures on RabbitMQ: every event handled, in order per agent.
func TestRabbitConsumeTransientFailures(t *testing.T) {
	const perAgent = 20
	r := newRabbit(t, 6)
	s := r.subscribe(t)
	var mu sync.Mutex
	got := map[string][]string{}
	tries := map[string]int{}
	h := func(_ context.Context, ev events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		tries[ev.UniqueID]++
		if tries[ev.UniqueID] == 1 && len(got[ev.Agent])%3 == 1 {
			return errors.New("database busy")
		}
		got[ev.Agent] = append(got[ev.Agent], ev.UniqueID)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- events.Consume(ctx, s, h, events.WithLanes(4), events.WithRetry(3, time.Millisecond)) }()
	for i := 0; i < perAgent; i++ {
		for _, a := range r.agents {
			require.NoError(t, r.p.PublishEvent(events.Event{Type: events.Pause, Agent: a, UniqueID: fmt.Sprintf("%s.%d", a, i)}))
		}
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, l := range got {
			n += len(l)
		}
		return n == len(r.agents)*perAgent
	}, 20*time.Second, 5*time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	mu.Lock()
	defer mu.Unlock()
	for _, a := range r.agents {
		var want []string
		for i := 0; i < perAgent; i++ {
			want = append(want, fmt.Sprintf("%s.%d", a, i))
		}
		assert.Equal(t, want, got[a], "order of %s", a)
	}
}

// A takeover on RabbitMQ: the first consumer holds a call's NEWCALL and
// goes; the next receives the HANGUP and the requeued NEWCALL, in whatever
// order RabbitMQ gives them, and hands the call over whole, once.
func TestRabbitConsumeCallsTakeover(t *testing.T) {
	r := newRabbit(t, 1)
	agent := r.agents[0]
	first := r.subscribe(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- events.ConsumeCalls(ctx, first, func(context.Context, events.Call) error {
			t.Error("the first consumer handed a call")
			return nil
		})
	}()
	require.NoError(t, r.p.PublishEvent(events.Event{Type: events.NewCall, Direction: "INBOUND", CallerID: "555", Agent: agent, UniqueID: "r.1"}))
	require.Eventually(t, func() bool { return first.Delivered() == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	<-done
	require.NoError(t, first.Close())
	require.NoError(t, r.p.PublishEvent(events.Event{Type: events.Hangup, Agent: agent, UniqueID: "r.1", Reason: events.ReasonByCaller}))

	second := r.subscribe(t)
	calls := make(chan events.Call, 4)
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() {
		done <- events.ConsumeCalls(ctx2, second, func(_ context.Context, c events.Call) error { calls <- c; return nil })
	}()
	var c events.Call
	select {
	case c = <-calls:
	case <-time.After(20 * time.Second):
		t.Fatal("no call handed over")
	}
	assert.Equal(t, "INBOUND", c.Direction)
	assert.Equal(t, "555", c.CallerID)
	assert.Equal(t, events.ReasonByCaller, c.Reason)
	assert.True(t, c.Redelivered)
	time.Sleep(100 * time.Millisecond)
	assert.Empty(t, calls, "the call was handed twice")
	cancel2()
	<-done
}
