package events_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/errs"
)

var (
	feedT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	login  = []byte(`{"type":"LOGIN","agent":"default_1001"}`)
)

func newFeed(t *testing.T, opts ...events.FeedOption) *events.Feed {
	t.Helper()
	f, err := events.NewFeed(opts...)
	require.NoError(t, err)
	return f
}

// fill delivers n LOGIN events and returns how many were queued.
func fill(f *events.Feed, n int) int {
	q := 0
	for i := 0; i < n; i++ {
		if f.Deliver(events.Delivery{Topic: "/topic/iv.agents.default_1001", Body: login, Received: feedT0}) {
			q++
		}
	}
	return q
}

func TestFeedBuffer(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []events.FeedOption
		want int
	}{
		{"default", nil, events.DefaultBuffer},
		{"three", []events.FeedOption{events.WithBuffer(3)}, 3},
		{"last wins", []events.FeedOption{events.WithBuffer(2), events.WithBuffer(5)}, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFeed(t, c.opts...)
			sub := f.Subscription()
			defer sub.Close()
			if got := fill(f, c.want+7); got != c.want {
				t.Fatalf("queued %d, want the buffer, %d", got, c.want)
			}
			if sub.Dropped() != 7 || sub.Delivered() != uint64(c.want) {
				t.Fatalf("dropped %d delivered %d", sub.Dropped(), sub.Delivered())
			}
		})
	}
}

// Bad options are errors wrapping ErrInvalidArgument, named first.
func TestFeedOptionsRefused(t *testing.T) {
	for _, c := range []struct {
		opt  events.FeedOption
		want string
	}{
		{events.WithBuffer(0), "events: NewFeed: invalid argument: WithBuffer: n must be at least 1, got 0"},
		{events.WithBuffer(-5), "events: NewFeed: invalid argument: WithBuffer: n must be at least 1, got -5"},
		{events.WithErrorHandler(nil), "events: NewFeed: invalid argument: WithErrorHandler: nil function"},
		{events.WithUnsubscribe(nil), "events: NewFeed: invalid argument: WithUnsubscribe: nil function"},
		{nil, "events: NewFeed: invalid argument: option 1 is nil"},
	} {
		f, err := events.NewFeed(events.WithAcks(), c.opt)
		assert.Nil(t, f)
		assert.ErrorIs(t, err, errs.ErrInvalidArgument)
		assert.EqualError(t, err, c.want)
	}
}

func TestFeedErrorHandler(t *testing.T) {
	var mu sync.Mutex
	var got []error
	f := newFeed(t, events.WithBuffer(1), events.WithErrorHandler(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, err)
	}))
	sub := f.Subscription()
	defer sub.Close()
	f.Deliver(events.Delivery{Topic: "t", Body: []byte(`[1]`)}) // malformed
	fill(f, 3)                                                  // one queued, two dropped: one slow period
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || !errors.Is(got[0], events.ErrMalformed) || !errors.Is(got[1], events.ErrSlowConsumer) {
		t.Fatalf("handler got %v; want a malformed body, then one ErrSlowConsumer", got)
	}
	if sub.Malformed() != 1 {
		t.Fatalf("Malformed %d", sub.Malformed())
	}
}

// A blocking feed waits for the consumer; it gives up when the
// subscription ends.
func TestFeedBlocking(t *testing.T) {
	for _, opt := range []events.FeedOption{events.WithBlocking(), events.WithAcks()} {
		f := newFeed(t, events.WithBuffer(1), opt)
		sub := f.Subscription()
		fill(f, 1)
		published := make(chan bool)
		go func() { published <- f.Deliver(events.Delivery{Topic: "t", Body: login}) }()
		select {
		case <-published:
			t.Fatal("a full blocking buffer did not wait")
		case <-time.After(20 * time.Millisecond):
		}
		<-sub.C() // room: the waiting publisher goes on
		if !<-published {
			t.Fatal("the waiting event was not queued")
		}
		go func() { published <- f.Deliver(events.Delivery{Topic: "t", Body: login}) }()
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

func TestFeedCloseAndEnd(t *testing.T) {
	calls := 0
	boom := errors.New("unsubscribe failed")
	f := newFeed(t, events.WithUnsubscribe(func() error { calls++; return boom }))
	sub := f.Subscription()
	fill(f, 2)
	select {
	case <-f.Done():
		t.Fatal("Done before Close")
	default:
	}
	if err := sub.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close = %v, want the unsubscribe error", err)
	}
	if err := sub.Close(); !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("second Close = %v, unsubscribe called %d times", err, calls)
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

	f2 := newFeed(t)
	f2.End(nil)
	f2.End(errors.New("later"))
	if _, ok := <-f2.Subscription().C(); ok || !errors.Is(f2.Subscription().Err(), events.ErrEnded) {
		t.Fatalf("End(nil): Err = %v", f2.Subscription().Err())
	}
}

func TestFeedDeliverWithAck(t *testing.T) {
	f := newFeed(t, events.WithAcks())
	sub := f.Subscription()
	defer sub.Close()
	acked := 0
	if !f.Deliver(events.Delivery{Topic: "/topic/t", Body: login, Received: feedT0, Redelivered: true,
		Ack: func() error { acked++; return nil }}) {
		t.Fatal("not queued")
	}
	// A malformed body is settled at once, never delivered.
	if f.Deliver(events.Delivery{Topic: "/topic/t", Body: []byte(`}`), Ack: func() error { acked += 10; return nil }}) {
		t.Fatal("a malformed body was queued")
	}
	if acked != 10 {
		t.Fatalf("malformed body acked %d", acked)
	}
	ev := <-sub.C()
	if !ev.Redelivered || ev.Topic != "/topic/t" || !ev.Received.Equal(feedT0) {
		t.Fatalf("event %+v", ev)
	}
	if err := sub.Ack(ev); err != nil || acked != 11 {
		t.Fatalf("Ack = %v, acked %d", err, acked)
	}
	if err := sub.Ack(ev); err != nil || acked != 11 {
		t.Fatalf("second Ack = %v, acked %d: a delivery is acknowledged once", err, acked)
	}
	if err := sub.Reject(ev, errors.New("late")); err != nil {
		t.Fatalf("Reject after Ack = %v, want a no-op", err)
	}
	// An event with no delivery cannot be acked on such a subscription.
	if !f.PublishEvent(events.Event{Type: events.Login, Agent: "default_1001"}) {
		t.Fatal("PublishEvent not queued")
	}
	if err := sub.Ack(<-sub.C()); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("Ack of an event without a delivery = %v", err)
	}
}

// Reject hands the cause's text to the transport once; a malformed body
// is dead-lettered with its decode error.
func TestFeedReject(t *testing.T) {
	f := newFeed(t, events.WithAcks())
	sub := f.Subscription()
	var causes []string
	reject := func(cause string) error { causes = append(causes, cause); return nil }
	f.Deliver(events.Delivery{Body: []byte(`{`), Ack: func() error { t.Error("malformed body acked, not rejected"); return nil }, Reject: reject})
	require.Len(t, causes, 1)
	assert.Contains(t, causes[0], "malformed")

	lost := errors.New("connection lost")
	fail := true
	f.Deliver(events.Delivery{Body: login, Ack: func() error { return nil }, Reject: func(cause string) error {
		if fail {
			return lost
		}
		return reject(cause)
	}})
	ev := <-sub.C()
	assert.ErrorIs(t, sub.Reject(ev, errors.New("db down")), lost, "a failed Reject returns the transport's error")
	fail = false
	assert.NoError(t, sub.Reject(ev, errors.New("db down")), "after an error Reject may be tried again")
	assert.NoError(t, sub.Reject(ev, errors.New("again")), "twice is a no-op")
	assert.NoError(t, sub.Ack(ev), "Ack after Reject is a no-op")
	assert.Equal(t, []string{causes[0], "db down"}, causes)

	// Without a reject function the event cannot be dead-lettered: an
	// error, and the event stays unsettled (Ack still works).
	acked := false
	f.Deliver(events.Delivery{Body: login, Ack: func() error { acked = true; return nil }})
	ev = <-sub.C()
	assert.EqualError(t, sub.Reject(ev, errors.New("x")), "events: Reject: the transport cannot dead-letter this event; it stays unsettled")
	assert.NoError(t, sub.Ack(ev))
	assert.True(t, acked)

	// Another subscription's event is refused.
	other := newFeed(t, events.WithAcks())
	other.Deliver(events.Delivery{Body: login, Ack: func() error { return nil }, Reject: reject})
	assert.ErrorIs(t, sub.Reject(<-other.Subscription().C(), nil), errs.ErrInvalidArgument)
	_ = other.Subscription().Close()
	_ = sub.Close()

	// On a subscription not settled by Ack, Reject does nothing.
	plain := newFeed(t)
	fill(plain, 1)
	assert.NoError(t, plain.Subscription().Reject(<-plain.Subscription().C(), errors.New("x")))
}
