package events

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/errs"
)

func TestRun(t *testing.T) {
	s, feed := newSubscription(feedConfig{})
	defer s.Close()
	var got collector
	tr := mustTracker(WithFinished(got.add))
	b := mustBoard()
	p := mustPoller()
	var seen []Type
	sink := SinkFunc(func(ev Event) { seen = append(seen, ev.Type) })

	for _, st := range []step{
		{0, Login, agentA, "", "", "", ""},
		{time.Second, NewCall, agentA, "r1", "INBOUND", "555", ""},
		{2 * time.Second, Connect, agentA, "r1", "", "555", ""},
		{9 * time.Second, Hangup, agentA, "r1", "", "555", ReasonByCaller},
	} {
		feed.PublishEvent(st.event())
	}
	lost := errors.New("connection lost")
	feed.End(lost)
	if err := Run(context.Background(), s, tr, b, p, sink); err != lost {
		t.Fatalf("Run = %v, want the subscription's error", err)
	}
	if calls := got.get(); len(calls) != 1 || calls[0].TalkDuration() != 7*time.Second {
		t.Fatalf("calls %+v", calls)
	}
	if st, _ := b.Get(agentA); st.Status() != StatusIdle {
		t.Fatalf("board %+v", st)
	}
	if p.Len() != 4 || len(seen) != 4 {
		t.Fatalf("poller %d, sink %d", p.Len(), len(seen))
	}
}

func TestRunClosedAndCancelled(t *testing.T) {
	s, _ := newSubscription(feedConfig{})
	s.Close()
	if err := Run(context.Background(), s); err != nil {
		t.Fatalf("Run after Close = %v", err)
	}

	s2, _ := newSubscription(feedConfig{})
	defer s2.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Run(ctx, s2, mustTracker()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	//lint:ignore SA1012 a nil context is what this checks
	if err := Run(nil, s2); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("Run(nil) = %v, want an error matching ivclient.ErrInvalidArgument", err)
	}
}

// TestRunExpires checks that Run expires calls while no events arrive. The
// clock is fake; only the ticker is shortened.
func TestRunExpires(t *testing.T) {
	clock := newFakeClock()
	expired := make(chan Call, 1)
	tr := mustTracker(WithClock(clock.Now), WithExpiry(time.Minute), WithFinished(func(c Call) { expired <- c }))
	s, feed := newSubscription(feedConfig{})
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- run(ctx, s, time.Millisecond, []Sink{tr}) }()
	feed.PublishEvent(Event{Type: NewCall, Agent: agentA, UniqueID: "x", Received: t0})
	clock.Advance(time.Hour)
	c := <-expired
	if !c.Expired || c.UniqueID != "x" {
		t.Fatalf("call %+v", c)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
}

func TestRunRefusesNil(t *testing.T) {
	s, _ := newSubscription(feedConfig{})
	defer s.Close()
	var nilCtx context.Context
	for err, want := range map[error]string{
		Run(nilCtx, s):                                 "events: Run: invalid argument: nil context",
		Run(context.Background(), nil):                 "events: Run: invalid argument: nil subscription",
		Run(context.Background(), s, nil):              "events: Run: invalid argument: sink 0 is nil",
		Run(context.Background(), s, mustBoard(), nil): "events: Run: invalid argument: sink 1 is nil",
	} {
		if err == nil || err.Error() != want || !errors.Is(err, errs.ErrInvalidArgument) {
			t.Errorf("Run = %v, want %s", err, want)
		}
	}
}
