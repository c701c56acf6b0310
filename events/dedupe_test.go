package events

import (
	"fmt"
	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/stretchr/testify/assert"
	"testing"
	"time"
)

// platformEvent decodes a platform body, as a subscription would, received at
// t0+at; redelivered marks it as a durable subscription's redelivery.
func platformEvent(t *testing.T, at time.Duration, redelivered bool, typ Type, uid string) Event {
	t.Helper()
	ev, err := Decode(fmt.Appendf(nil, `{"direction":"INBOUND","callerid":"5551234","type":%q,"uniqueid":%q,"agent":"default_1001"}`, typ, uid))
	if err != nil {
		t.Fatal(err)
	}
	ev.Received, ev.Redelivered = t0.Add(at), redelivered
	return ev
}

func TestTrackerRedelivered(t *testing.T) {
	var got collector
	tr := mustTracker(WithFinished(got.add))
	flow := []Event{
		platformEvent(t, 0, false, NewCall, "u1"),
		platformEvent(t, time.Second, false, Connect, "u1"),
	}
	for _, ev := range flow {
		tr.Apply(ev)
	}
	before, _ := tr.Get("default_1001", "u1")
	// A consumer that did not ack gets both again, later: nothing changes.
	for _, ev := range flow {
		ev.Redelivered, ev.Received = true, ev.Received.Add(time.Minute)
		tr.Apply(ev)
	}
	if after, _ := tr.Get("default_1001", "u1"); after != before {
		t.Fatalf("a redelivery changed the call:\n%+v\n%+v", before, after)
	}
	hangup := platformEvent(t, 2*time.Second, false, Hangup, "u1")
	tr.Apply(hangup)
	stats := tr.Stats()
	// The whole call again, redelivered: still one finished call, and no
	// counter moves.
	for _, ev := range append(flow, hangup) {
		ev.Redelivered = true
		tr.Apply(ev)
	}
	if calls := got.get(); len(calls) != 1 || calls[0].Events != 3 {
		t.Fatalf("finished calls %+v", calls)
	}
	if s := tr.Stats(); s != stats {
		t.Fatalf("stats moved: %+v, was %+v", s, stats)
	}
	// Without the mark a repeat is an event like any other: a late HANGUP.
	tr.Apply(hangup)
	if s := tr.Stats(); s.Late != stats.Late+1 {
		t.Fatalf("an unmarked repeat was not taken: %+v", s)
	}
	// A redelivered event that was never taken is taken.
	tr.Apply(platformEvent(t, 3*time.Second, true, NewCall, "u2"))
	if _, ok := tr.Get("default_1001", "u2"); !ok {
		t.Fatal("a first redelivery was ignored")
	}
}

func TestTrackerRedeliveredBeyondWindow(t *testing.T) {
	// A window of 1 forgets the call's events at once: a finished call
	// still finishes once, whatever is redelivered after it.
	var got collector
	tr := mustTracker(WithFinished(got.add), WithDedupeWindow(1))
	flow := []Event{
		platformEvent(t, 0, false, NewCall, "u1"),
		platformEvent(t, time.Second, false, Connect, "u1"),
		platformEvent(t, 2*time.Second, false, Hangup, "u1"),
	}
	for _, ev := range flow {
		tr.Apply(ev)
	}
	for i := 0; i < 3; i++ {
		tr.Apply(platformEvent(t, time.Hour, false, Login, "")) // pushes nothing: not a call event
		for _, ev := range flow {
			ev.Redelivered = true
			tr.Apply(ev)
		}
	}
	tr.Apply(platformEvent(t, 5*time.Hour, false, NewCall, "u9")) // expires anything left over
	if calls := got.get(); len(calls) != 1 || calls[0].UniqueID != "u1" || calls[0].Expired {
		t.Fatalf("finished calls %+v", calls)
	}
	if s := tr.Stats(); s.Finished != 1 || s.Expired != 0 || s.Late != 0 || s.Active != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestBoardRedelivered(t *testing.T) {
	b := mustBoard()
	login := platformEvent(t, 0, false, Login, "")
	logout := platformEvent(t, time.Second, false, Logout, "")
	b.Apply(login)
	b.Apply(logout)
	before, _ := b.Get("default_1001")
	// Redelivered, later: no change, LastEventAt and Since included.
	for _, ev := range []Event{login, logout} {
		ev.Redelivered, ev.Received = true, ev.Received.Add(time.Hour)
		b.Apply(ev)
	}
	if after, _ := b.Get("default_1001"); after != before {
		t.Fatalf("a redelivery changed the agent:\n%+v\n%+v", before, after)
	}
	// LOGIN, LOGOUT, LOGIN: the third is an event of its own.
	again := login
	again.Received = t0.Add(2 * time.Second)
	b.Apply(again)
	a, _ := b.Get("default_1001")
	if !a.LoggedIn || !a.Since.Equal(again.Received) || !a.LastEventAt.Equal(again.Received) {
		t.Fatalf("the second LOGIN was not taken: %+v", a)
	}
}

func TestPollerRedelivered(t *testing.T) {
	p := mustPoller(WithDedupeWindow(2))
	a := platformEvent(t, 0, false, NewCall, "u1")
	p.Apply(a)
	redelivered := a
	redelivered.Redelivered = true
	p.Apply(redelivered)
	p.Apply(a) // an unmarked repeat is taken
	if p.Len() != 2 {
		t.Fatalf("Len = %d, want 2", p.Len())
	}
	// Past the window the poller no longer knows it: taken.
	p.Apply(platformEvent(t, 0, false, Connect, "u1"))
	p.Apply(platformEvent(t, 0, false, Hangup, "u1"))
	p.Apply(redelivered)
	if p.Len() != 5 {
		t.Fatalf("Len = %d, want 5", p.Len())
	}
	// Hand-made events (no Raw) are told apart by their fields.
	q := mustPoller()
	e1 := Event{Type: Pause, Agent: "a", Direction: "lunch", Redelivered: true}
	e2 := e1
	e2.Direction = "coffee"
	q.Apply(e1)
	q.Apply(e2)
	q.Apply(e1)
	if q.Len() != 2 {
		t.Fatalf("hand-made: Len = %d, want 2", q.Len())
	}
}

func TestSinkOptionsRefused(t *testing.T) {
	// Zero, negative, nil: an error naming the option, the same for every
	// option and constructor.
	for _, c := range []struct {
		err  error
		want string
	}{
		{second(NewTracker(WithDedupeWindow(0))), "events: NewTracker: invalid argument: WithDedupeWindow: n must be at least 1, got 0"},
		{second(NewBoard(WithDedupeWindow(-3))), "events: NewBoard: invalid argument: WithDedupeWindow: n must be at least 1, got -3"},
		{second(NewPoller(WithDedupeWindow(0))), "events: NewPoller: invalid argument: WithDedupeWindow: n must be at least 1, got 0"},
		{second(NewTracker(WithClock(nil))), "events: NewTracker: invalid argument: WithClock: nil function"},
		{second(NewBoard(WithExpiry(0))), "events: NewBoard: invalid argument: WithExpiry: d must be more than zero, got 0s"},
		{second(NewTracker(WithExpiry(-time.Second))), "events: NewTracker: invalid argument: WithExpiry: d must be more than zero, got -1s"},
		{second(NewTracker(WithMaxCalls(0))), "events: NewTracker: invalid argument: WithMaxCalls: n must be at least 1, got 0"},
		{second(NewTracker(WithFinished(nil))), "events: NewTracker: invalid argument: WithFinished: nil function"},
		{second(NewBoard(WithMaxAgents(0))), "events: NewBoard: invalid argument: WithMaxAgents: n must be at least 1, got 0"},
		{second(NewPoller(WithPollLimit(-1))), "events: NewPoller: invalid argument: WithPollLimit: n must be at least 1, got -1"},
		{second(NewTracker(WithExpiry(time.Hour), nil)), "events: NewTracker: invalid argument: option 1 is nil"},
		{second(NewBoard(nil)), "events: NewBoard: invalid argument: option 0 is nil"},
		{second(NewPoller(nil)), "events: NewPoller: invalid argument: option 0 is nil"},
	} {
		assert.ErrorIs(t, c.err, errs.ErrInvalidArgument)
		assert.EqualError(t, c.err, c.want)
	}
}

func second[T any](_ T, err error) error { return err }

// TestDedupeWindowHuge: a window far larger than memory costs nothing until
// events come (it used to be allocated whole, and panicked), and still
// recognises a redelivery.
func TestDedupeWindowHuge(t *testing.T) {
	tr := mustTracker(WithDedupeWindow(1 << 40))
	b := mustBoard(WithDedupeWindow(1 << 40))
	p := mustPoller(WithDedupeWindow(1 << 40))
	ev := platformEvent(t, 0, false, NewCall, "u1")
	again := ev
	again.Redelivered = true
	for _, s := range []Sink{tr, b, p} {
		s.Apply(ev)
		s.Apply(again)
	}
	if n := p.Len(); n != 1 {
		t.Errorf("the poller holds %d events, want 1 (the redelivery ignored)", n)
	}
	if c, ok := tr.Get("default_1001", "u1"); !ok || c.Events != 1 {
		t.Errorf("the tracker's call %+v, %v: want one event", c, ok)
	}
}

// TestKeyRingForgets: a ring of n keys remembers the last n, whether or not
// its memory was allocated up front.
func TestKeyRingForgets(t *testing.T) {
	for _, n := range []int{1, 3, 300} {
		r := newKeyRing[int](n)
		for i := 0; i < 2*n; i++ {
			r.add(i)
		}
		for i := 0; i < 2*n; i++ {
			if want := i >= n; r.has(i) != want {
				t.Fatalf("n=%d: has(%d) = %v, want %v", n, i, r.has(i), want)
			}
		}
	}
}
