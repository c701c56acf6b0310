package events

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestBoardTransitions(t *testing.T) {
	b := mustBoard()
	apply := func(s step) AgentState {
		t.Helper()
		b.Apply(s.event())
		st, ok := b.Get(s.agent)
		if !ok {
			t.Fatalf("agent %s unknown after %s", s.agent, s.typ)
		}
		return st
	}
	check := func(st AgentState, status Status, since time.Duration) {
		t.Helper()
		if st.Status() != status || !st.Since.Equal(at(since)) {
			t.Fatalf("state %+v: status %s since %v, want %s since %v", st, st.Status(), st.Since.Sub(t0), status, since)
		}
	}
	check(apply(step{0, Login, agentA, "", "", "", ""}), StatusIdle, 0)
	st := apply(step{time.Minute, Pause, agentA, "", "Almoço", "", ""})
	check(st, StatusPaused, time.Minute)
	if !st.Paused || st.PauseReason != "Almoço" || !st.LoggedIn {
		t.Fatalf("paused state %+v", st)
	}
	// A second PAUSE (a new description) changes the description, not Since.
	st = apply(step{2 * time.Minute, Pause, agentA, "", "Café", "", ""})
	if st.PauseReason != "Café" || !st.Since.Equal(at(time.Minute)) {
		t.Fatalf("re-paused state %+v", st)
	}
	check(apply(step{3 * time.Minute, Unpause, agentA, "", "", "", ""}), StatusIdle, 3*time.Minute)
	st = apply(step{4 * time.Minute, NewCall, agentA, "u1", "INBOUND", "555", ""})
	check(st, StatusOnCall, 4*time.Minute)
	if st.UniqueID != "u1" || st.Answered || st.Calls != 1 {
		t.Fatalf("ringing state %+v", st)
	}
	st = apply(step{4*time.Minute + 5*time.Second, Connect, agentA, "u1", "", "", ""})
	if !st.Answered || !st.Since.Equal(at(4*time.Minute)) {
		t.Fatalf("talking state %+v", st)
	}
	// Paused during a call: still on the call.
	st = apply(step{5 * time.Minute, Pause, agentA, "", "After call", "", ""})
	if st.Status() != StatusOnCall || !st.Paused {
		t.Fatalf("paused on a call %+v", st)
	}
	check(apply(step{6 * time.Minute, Hangup, agentA, "u1", "", "", ReasonByCaller}), StatusPaused, 6*time.Minute)
	check(apply(step{7 * time.Minute, Logout, agentA, "", "", "", ""}), StatusLoggedOut, 7*time.Minute)
	if st, _ := b.Get(agentA); st.Paused || st.PauseReason != "" || st.LastEventAt != at(7*time.Minute) {
		t.Fatalf("logged out state %+v", st)
	}
	if _, ok := b.Get("nobody"); ok {
		t.Fatal("unknown agent found")
	}
}

func TestBoardNewCallFlowAndTransfer(t *testing.T) {
	b := mustBoard()
	for _, s := range []step{
		{0, NewCall, agentA, "n1", "OUTBOUND", "6100", ""},
		{time.Second, Connect, agentA, "n1", "", "", ""},
		{2 * time.Second, DNewCall, agentA, "n1", "", "6100", ""},
		{5 * time.Second, DConnect, agentA, "n1", "", "6100", ""},
	} {
		b.Apply(s.event())
	}
	st, _ := b.Get(agentA)
	if st.Status() != StatusOnCall || !st.LoggedIn || st.UniqueID != "n1" || st.Calls != 1 || !st.Answered || !st.Since.Equal(t0) {
		t.Fatalf("NewCall state %+v", st)
	}
	// A blind transfer: A's call ends, B's begins.
	b.Apply(step{9 * time.Second, Hangup, agentA, "n1", "", "", ReasonBTransfer}.event())
	b.Apply(step{10 * time.Second, NewCall, agentB, "n1", "INBOUND", "6100", ""}.event())
	a, _ := b.Get(agentA)
	bb, _ := b.Get(agentB)
	if a.Status() != StatusIdle || bb.Status() != StatusOnCall {
		t.Fatalf("after transfer: A %s, B %s", a.Status(), bb.Status())
	}
	snap := b.Snapshot()
	if len(snap) != 2 || snap[0].Agent != agentA || snap[1].Agent != agentB || b.Len() != 2 {
		t.Fatalf("snapshot %+v", snap)
	}
}

func TestBoardTwoCalls(t *testing.T) {
	b := mustBoard()
	b.Apply(step{0, NewCall, agentA, "c1", "INBOUND", "1", ""}.event())
	b.Apply(step{time.Second, NewCall, agentA, "c2", "INBOUND", "2", ""}.event())
	b.Apply(step{2 * time.Second, Hangup, agentA, "c2", "", "", ReasonNoAnswer}.event())
	st, _ := b.Get(agentA)
	if !st.OnCall || st.UniqueID != "c1" || st.Calls != 1 {
		t.Fatalf("state %+v", st)
	}
	// A stray HANGUP of an unknown call changes nothing.
	b.Apply(step{3 * time.Second, Hangup, agentA, "zz", "", "", ReasonByCaller}.event())
	if st2, _ := b.Get(agentA); st2.Calls != 1 || !st2.Since.Equal(st.Since) {
		t.Fatalf("state after stray hangup %+v", st2)
	}
	for i := 0; i < 20; i++ {
		b.Apply(step{4 * time.Second, NewCall, agentA, fmt.Sprint(i), "INBOUND", "1", ""}.event())
	}
	if st, _ := b.Get(agentA); st.Calls != maxAgentCalls || st.UniqueID != "19" {
		t.Fatalf("calls per agent not bounded: %+v", st)
	}
}

func TestBoardExpiry(t *testing.T) {
	clock := newFakeClock()
	b := mustBoard(WithClock(clock.Now), WithExpiry(time.Hour))
	b.Apply(Event{Type: NewCall, Agent: agentA, UniqueID: "lost"})
	b.Apply(Event{Type: Login, Agent: agentB})
	clock.Advance(time.Hour - time.Second)
	if n := b.Expire(); n != 0 {
		t.Fatalf("Expire = %d early", n)
	}
	clock.Advance(time.Second)
	if n := b.Expire(); n != 1 {
		t.Fatalf("Expire = %d", n)
	}
	st, _ := b.Get(agentA)
	if st.OnCall || st.Status() != StatusIdle || !st.Since.Equal(t0.Add(time.Hour)) {
		t.Fatalf("state after expiry %+v", st)
	}
	// Expiry on the agent's next event, by the event's time.
	b.Apply(Event{Type: NewCall, Agent: agentB, UniqueID: "b1", Received: t0})
	b.Apply(Event{Type: Pause, Agent: agentB, Direction: "x", Received: t0.Add(2 * time.Hour)})
	if st, _ := b.Get(agentB); st.OnCall || st.Status() != StatusPaused {
		t.Fatalf("state %+v", st)
	}
}

func TestBoardIgnores(t *testing.T) {
	b := mustBoard()
	b.Apply(Event{Type: "XFER", Agent: agentA})
	b.Apply(Event{Type: Login})
	if b.Len() != 0 {
		t.Fatalf("board holds %d agents", b.Len())
	}
	b.Apply(Event{Type: Login, Topic: AgentTopic("default", "1003"), Received: t0})
	if st, ok := b.Get("default_1003"); !ok || !st.LoggedIn {
		t.Fatal("agent from the topic not recorded")
	}
}

func TestBoardMaxAgents(t *testing.T) {
	b := mustBoard(WithMaxAgents(5))
	for i := 0; i < 12; i++ {
		b.Apply(Event{Type: Login, Agent: fmt.Sprintf("default_%d", 1000+i), Received: t0})
	}
	if b.Len() != 5 {
		t.Fatalf("board holds %d agents", b.Len())
	}
	if _, ok := b.Get("default_1011"); !ok {
		t.Fatal("the newest agent was evicted")
	}
	if _, ok := b.Get("default_1000"); ok {
		t.Fatal("the oldest agent was kept")
	}
}

// TestBoardConcurrent reads while events arrive; run with -race.
func TestBoardConcurrent(t *testing.T) {
	b := mustBoard(WithClock(newFakeClock().Now))
	var wg sync.WaitGroup
	for a := 0; a < 4; a++ {
		wg.Add(1)
		go func(a int) {
			defer wg.Done()
			agent := fmt.Sprintf("default_%d", 1000+a)
			for i := 0; i < 200; i++ {
				uid := fmt.Sprint(i)
				for _, typ := range []Type{Login, Pause, Unpause, NewCall, Connect, Hangup, Logout} {
					b.Apply(Event{Type: typ, Agent: agent, UniqueID: uid, Received: t0})
				}
			}
		}(a)
	}
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				for _, st := range b.Snapshot() {
					if st.OnCall && st.Calls == 0 {
						t.Error("inconsistent state")
					}
				}
				b.Get("default_1000")
				b.Expire()
			}
		}()
	}
	wg.Wait()
	for _, st := range b.Snapshot() {
		if st.Status() != StatusLoggedOut {
			t.Fatalf("final state %+v", st)
		}
	}
}
