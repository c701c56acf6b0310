package eventfeed_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/events/eventfeed"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	t0    = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	login = []byte(`{"type":"LOGIN","agent":"default_1001"}`)
)

// fill publishes n LOGIN events and returns how many were queued.
func fill(f *eventfeed.Feed, n int) int {
	q := 0
	for i := 0; i < n; i++ {
		if f.Publish("/topic/iv.agents.default_1001", login, t0) {
			q++
		}
	}
	return q
}

func TestBufferAndClamp(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []eventfeed.Option
		want int
	}{
		{"default", nil, events.DefaultBuffer},
		{"three", []eventfeed.Option{eventfeed.WithBuffer(3)}, 3},
		{"zero means the default", []eventfeed.Option{eventfeed.WithBuffer(0)}, events.DefaultBuffer},
		{"negative means the default", []eventfeed.Option{eventfeed.WithBuffer(-5)}, events.DefaultBuffer},
		{"nil option skipped", []eventfeed.Option{nil, eventfeed.WithBuffer(2), nil}, 2},
		{"last wins", []eventfeed.Option{eventfeed.WithBuffer(2), eventfeed.WithBuffer(5)}, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub, f := eventfeed.New(nil, c.opts...)
			defer sub.Close()
			if got := fill(f, c.want+7); got != c.want {
				t.Fatalf("queued %d, want the buffer, %d", got, c.want)
			}
			if sub.Dropped() != 7 || sub.Delivered() != uint64(c.want) {
				t.Fatalf("dropped %d delivered %d", sub.Dropped(), sub.Delivered())
			}
			if f.Subscription() != sub {
				t.Fatal("Feed.Subscription is not the subscription New returned")
			}
		})
	}
}

func TestErrorHandler(t *testing.T) {
	var mu sync.Mutex
	var got []error
	sub, f := eventfeed.New(nil, eventfeed.WithBuffer(1), eventfeed.WithErrorHandler(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, err)
	}))
	defer sub.Close()
	f.Publish("t", []byte(`[1]`), t0) // malformed
	fill(f, 3)                        // one queued, two dropped: one slow period
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || !errors.Is(got[0], events.ErrMalformed) || !errors.Is(got[1], events.ErrSlowConsumer) {
		t.Fatalf("handler got %v; want a malformed body, then one ErrSlowConsumer", got)
	}
	if sub.Malformed() != 1 {
		t.Fatalf("Malformed %d", sub.Malformed())
	}

	// A nil handler is no handler.
	sub2, f2 := eventfeed.New(nil, eventfeed.WithBuffer(1), eventfeed.WithErrorHandler(nil))
	defer sub2.Close()
	f2.Publish("t", []byte(`nope`), t0)
	fill(f2, 3)
	if sub2.Malformed() != 1 || sub2.Dropped() != 2 {
		t.Fatalf("malformed %d dropped %d", sub2.Malformed(), sub2.Dropped())
	}
}

// A blocking feed waits for the consumer; it gives up when the
// subscription ends.
func TestBlocking(t *testing.T) {
	for _, opt := range []eventfeed.Option{eventfeed.WithBlocking(), eventfeed.WithAcks()} {
		sub, f := eventfeed.New(nil, eventfeed.WithBuffer(1), opt)
		fill(f, 1)
		published := make(chan bool)
		go func() { published <- f.Publish("t", login, t0) }()
		select {
		case <-published:
			t.Fatal("a full blocking buffer did not wait")
		case <-time.After(20 * time.Millisecond):
		}
		<-sub.C() // room: the waiting publisher goes on
		if !<-published {
			t.Fatal("the waiting event was not queued")
		}
		go func() { published <- f.Publish("t", login, t0) }()
		f.End(nil)
		if <-published {
			t.Fatal("an event was queued after End")
		}
		if sub.Dropped() != 0 {
			t.Fatalf("a blocking subscription dropped %d", sub.Dropped())
		}
		_ = sub.Close()
	}
}

func TestCloseAndEnd(t *testing.T) {
	calls := 0
	boom := errors.New("unsubscribe failed")
	sub, f := eventfeed.New(func() error { calls++; return boom })
	fill(f, 2)
	select {
	case <-f.Done():
		t.Fatal("Done before Close")
	default:
	}
	if err := sub.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close = %v, want onClose's error", err)
	}
	if err := sub.Close(); !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("second Close = %v, onClose called %d times", err, calls)
	}
	<-f.Done()
	if sub.Err() != nil {
		t.Fatalf("Err after Close = %v", sub.Err())
	}
	n := 0
	for range sub.C() {
		n++
	}
	if n != 2 {
		t.Fatalf("%d buffered events readable after Close, want 2", n)
	}

	sub2, f2 := eventfeed.New(nil)
	f2.End(nil)
	f2.End(errors.New("later"))
	if _, ok := <-sub2.C(); ok || !errors.Is(sub2.Err(), events.ErrEnded) {
		t.Fatalf("End(nil): Err = %v", sub2.Err())
	}
}

func TestPublishWithAck(t *testing.T) {
	sub, f := eventfeed.New(nil, eventfeed.WithAcks())
	defer sub.Close()
	acked := 0
	if !f.PublishWithAck("/topic/t", login, t0, true, func() error { acked++; return nil }) {
		t.Fatal("not queued")
	}
	// A malformed body is settled at once, never delivered.
	if f.PublishWithAck("/topic/t", []byte(`}`), t0, false, func() error { acked += 10; return nil }) {
		t.Fatal("a malformed body was queued")
	}
	if acked != 10 {
		t.Fatalf("malformed body acked %d", acked)
	}
	ev := <-sub.C()
	if !ev.Redelivered || ev.Topic != "/topic/t" || !ev.Received.Equal(t0) {
		t.Fatalf("event %+v", ev)
	}
	if err := sub.Ack(ev); err != nil || acked != 11 {
		t.Fatalf("Ack = %v, acked %d", err, acked)
	}
	if err := sub.Ack(ev); err != nil || acked != 11 {
		t.Fatalf("second Ack = %v, acked %d: a delivery is acknowledged once", err, acked)
	}
	// An event with no delivery cannot be acked on such a subscription.
	if !f.PublishEvent(events.Event{Type: events.Login, Agent: "default_1001"}) {
		t.Fatal("PublishEvent not queued")
	}
	if err := sub.Ack(<-sub.C()); err == nil {
		t.Fatal("Ack of an event without a delivery succeeded")
	}
}
