package events

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

const (
	agentA = "default_1001"
	agentB = "default_1002"
)

func runFlow(t *testing.T, steps []step, opts ...TrackerOption) ([]Call, *Tracker) {
	t.Helper()
	var got collector
	tr := mustTracker(append([]TrackerOption{WithFinished(got.add)}, opts...)...)
	for _, s := range steps {
		tr.Apply(s.event())
	}
	return got.get(), tr
}

func at(d time.Duration) time.Time { return t0.Add(d) }

func checkCall(t *testing.T, c Call, want Call, ring, talk time.Duration) {
	t.Helper()
	if c != want {
		t.Errorf("call =\n%+v\nwant\n%+v", c, want)
	}
	if got := c.RingDuration(); got != ring {
		t.Errorf("RingDuration = %v, want %v", got, ring)
	}
	if got := c.TalkDuration(); got != talk {
		t.Errorf("TalkDuration = %v, want %v", got, talk)
	}
}

func TestTrackerInboundAnswered(t *testing.T) {
	calls, tr := runFlow(t, []step{
		{0, NewCall, agentA, "1282781304.2.5", "INBOUND", "2198765456", ""},
		{5 * time.Second, Connect, agentA, "1282781304.2.5", "", "2198765456", ""},
		{65 * time.Second, Hangup, agentA, "1282781304.2.5", "", "2198765456", ReasonByCaller},
	})
	if len(calls) != 1 {
		t.Fatalf("%d calls finished", len(calls))
	}
	checkCall(t, calls[0], Call{
		UniqueID: "1282781304.2.5", Agent: agentA, Direction: "INBOUND", CallerID: "2198765456", Reason: ReasonByCaller,
		NewCallAt: at(0), ConnectAt: at(5 * time.Second), HangupAt: at(65 * time.Second),
		FirstEventAt: at(0), LastEventAt: at(65 * time.Second), Events: 3,
	}, 5*time.Second, 60*time.Second)
	if !calls[0].Answered() || calls[0].Remote() || !calls[0].AnsweredAt().Equal(at(5*time.Second)) {
		t.Error("Answered/Remote/AnsweredAt wrong")
	}
	if st := tr.Stats(); st != (TrackerStats{Finished: 1}) {
		t.Errorf("stats %+v", st)
	}
}

func TestTrackerOutboundNewCall(t *testing.T) {
	// The NewCall method: the agent's phone rings and answers (NEWCALL,
	// CONNECT), then the destination is called and answers (DNEWCALL,
	// DCONNECT).
	calls, _ := runFlow(t, []step{
		{0, NewCall, agentA, "1282779516.1.6", "OUTBOUND", "6100", ""},
		{3 * time.Second, Connect, agentA, "1282779516.1.6", "", "6100", ""},
		{4 * time.Second, DNewCall, agentA, "1282779516.1.6", "OUTBOUND", "6100", ""},
		{14 * time.Second, DConnect, agentA, "1282779516.1.6", "", "6100", ""},
		{74 * time.Second, Hangup, agentA, "1282779516.1.6", "", "6100", ReasonByCallee},
	})
	if len(calls) != 1 {
		t.Fatalf("%d calls finished", len(calls))
	}
	checkCall(t, calls[0], Call{
		UniqueID: "1282779516.1.6", Agent: agentA, Direction: "OUTBOUND", CallerID: "6100", Reason: ReasonByCallee,
		NewCallAt: at(0), ConnectAt: at(3 * time.Second), DNewCallAt: at(4 * time.Second), DConnectAt: at(14 * time.Second),
		HangupAt: at(74 * time.Second), RemoteCallerID: "6100",
		FirstEventAt: at(0), LastEventAt: at(74 * time.Second), Events: 5,
	}, 10*time.Second, 60*time.Second)
	if !calls[0].Remote() || !calls[0].AnsweredAt().Equal(at(14*time.Second)) {
		t.Error("a NewCall call is answered by DCONNECT")
	}
}

func TestTrackerNoAnswer(t *testing.T) {
	t.Run("inbound", func(t *testing.T) {
		calls, _ := runFlow(t, []step{
			{0, NewCall, agentA, "u1", "INBOUND", "555", ""},
			{20 * time.Second, Hangup, agentA, "u1", "", "555", ReasonNoAnswer},
		})
		c := calls[0]
		if c.Answered() || c.Reason != ReasonNoAnswer || c.RingDuration() != 20*time.Second || c.TalkDuration() != 0 {
			t.Errorf("call %+v ring %v talk %v", c, c.RingDuration(), c.TalkDuration())
		}
	})
	t.Run("NewCall, remote party does not answer", func(t *testing.T) {
		calls, _ := runFlow(t, []step{
			{0, NewCall, agentA, "u2", "OUTBOUND", "6100", ""},
			{2 * time.Second, Connect, agentA, "u2", "", "6100", ""},
			{3 * time.Second, DNewCall, agentA, "u2", "", "6100", ""},
			{33 * time.Second, Hangup, agentA, "u2", "", "6100", ReasonNoAnswer},
		})
		c := calls[0]
		if c.Answered() || c.RingDuration() != 30*time.Second || c.TalkDuration() != 0 {
			t.Errorf("call %+v ring %v talk %v", c, c.RingDuration(), c.TalkDuration())
		}
	})
}

func TestTrackerAgentToAgent(t *testing.T) {
	// Each agent receives only its own events; the platform may or may
	// not give both legs the same uniqueid. Either way each agent gets a
	// call of its own.
	for _, uidB := range []string{"1300000000.1.1", "1300000000.1.2"} {
		t.Run("B's uniqueid "+uidB, func(t *testing.T) {
			calls, tr := runFlow(t, []step{
				{0, NewCall, agentA, "1300000000.1.1", "OUTBOUND", "1002", ""},
				{0, NewCall, agentB, uidB, "INBOUND", "1001", ""},
				{4 * time.Second, Connect, agentB, uidB, "", "1001", ""},
				{4 * time.Second, Connect, agentA, "1300000000.1.1", "", "1002", ""},
				{30 * time.Second, Hangup, agentA, "1300000000.1.1", "", "1002", ReasonByCaller},
				{30 * time.Second, Hangup, agentB, uidB, "", "1001", ReasonByCaller},
			})
			if len(calls) != 2 {
				t.Fatalf("%d calls finished, want 2", len(calls))
			}
			a, b := calls[0], calls[1]
			if a.Agent != agentA || a.Direction != "OUTBOUND" || a.CallerID != "1002" || a.TalkDuration() != 26*time.Second {
				t.Errorf("A's call %+v", a)
			}
			if b.Agent != agentB || b.Direction != "INBOUND" || b.CallerID != "1001" || b.TalkDuration() != 26*time.Second {
				t.Errorf("B's call %+v", b)
			}
			if tr.Stats().Active != 0 {
				t.Error("calls left active")
			}
		})
	}
}

func TestTrackerBlindTransfer(t *testing.T) {
	calls, _ := runFlow(t, []step{
		{0, NewCall, agentA, "u9", "INBOUND", "2198765456", ""},
		{2 * time.Second, Connect, agentA, "u9", "", "2198765456", ""},
		{40 * time.Second, Hangup, agentA, "u9", "", "2198765456", ReasonBTransfer},
		{41 * time.Second, NewCall, agentB, "u9", "INBOUND", "2198765456", ""},
		{44 * time.Second, Connect, agentB, "u9", "", "2198765456", ""},
		{100 * time.Second, Hangup, agentB, "u9", "", "2198765456", ReasonByCaller},
	})
	if len(calls) != 2 {
		t.Fatalf("%d calls finished", len(calls))
	}
	if c := calls[0]; c.Agent != agentA || c.Reason != ReasonBTransfer || c.TalkDuration() != 38*time.Second {
		t.Errorf("transferring agent's call %+v", c)
	}
	if c := calls[1]; c.Agent != agentB || c.Reason != ReasonByCaller || c.RingDuration() != 3*time.Second || c.TalkDuration() != 56*time.Second {
		t.Errorf("receiving agent's call %+v", c)
	}
}

func TestTrackerEveryReason(t *testing.T) {
	reasons := HangupReasons()
	if len(reasons) != 14 {
		t.Fatalf("%d reasons", len(reasons))
	}
	var steps []step
	for i, r := range reasons {
		uid := fmt.Sprintf("1.%d", i)
		steps = append(steps,
			step{time.Duration(i) * time.Second, NewCall, agentA, uid, "INBOUND", "1", ""},
			step{time.Duration(i)*time.Second + time.Second, Hangup, agentA, uid, "", "1", r})
	}
	calls, _ := runFlow(t, steps)
	if len(calls) != 14 {
		t.Fatalf("%d calls", len(calls))
	}
	for i, c := range calls {
		if c.Reason != reasons[i] || c.Expired || c.UniqueID != fmt.Sprintf("1.%d", i) {
			t.Errorf("call %d: %+v", i, c)
		}
	}
}

func TestTrackerExpiry(t *testing.T) {
	clock := newFakeClock()
	var got collector
	tr := mustTracker(WithFinished(got.add), WithExpiry(time.Hour), WithClock(clock.Now))
	// Events without a Received time take the clock's.
	tr.Apply(Event{Type: NewCall, Agent: agentA, UniqueID: "lost", Direction: "INBOUND", CallerID: "1"})
	clock.Advance(30 * time.Minute)
	tr.Apply(Event{Type: Connect, Agent: agentA, UniqueID: "lost"})
	clock.Advance(59 * time.Minute)
	if n := tr.Expire(); n != 0 || len(got.get()) != 0 {
		t.Fatalf("expired %d before the time", n)
	}
	if c, ok := tr.Get(agentA, "lost"); !ok || c.ConnectAt != t0.Add(30*time.Minute) {
		t.Fatalf("Get = %+v, %v", c, ok)
	}
	clock.Advance(time.Minute)
	if n := tr.Expire(); n != 1 {
		t.Fatalf("Expire = %d", n)
	}
	calls := got.get()
	if len(calls) != 1 || !calls[0].Expired || !calls[0].HangupAt.IsZero() || calls[0].TalkDuration() != 0 {
		t.Fatalf("expired calls %+v", calls)
	}
	if _, ok := tr.Get(agentA, "lost"); ok {
		t.Fatal("expired call still held")
	}
	// Its HANGUP, arriving late, is ignored, not a new call.
	tr.Apply(Event{Type: Hangup, Agent: agentA, UniqueID: "lost", Reason: ReasonByCaller})
	if st := tr.Stats(); st.Late != 1 || st.Active != 0 || st.Expired != 1 || len(got.get()) != 1 {
		t.Fatalf("stats %+v, calls %d", st, len(got.get()))
	}
}

func TestTrackerExpiryOnApply(t *testing.T) {
	// Expiry also happens as events arrive, by their Received time.
	calls, tr := runFlow(t, []step{
		{0, NewCall, agentA, "old", "INBOUND", "1", ""},
		{10 * time.Minute, NewCall, agentA, "new", "INBOUND", "2", ""},
		{61 * time.Minute, Connect, agentA, "new", "", "2", ""},
	}, WithExpiry(time.Hour))
	if len(calls) != 1 || calls[0].UniqueID != "old" || !calls[0].Expired {
		t.Fatalf("calls %+v", calls)
	}
	if st := tr.Stats(); st.Active != 1 || st.Expired != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTrackerMaxCalls(t *testing.T) {
	var steps []step
	for i := 0; i < 10; i++ {
		steps = append(steps, step{time.Duration(i) * time.Second, NewCall, agentA, fmt.Sprint(i), "INBOUND", "1", ""})
	}
	calls, tr := runFlow(t, steps, WithMaxCalls(3))
	if len(calls) != 7 || tr.Stats().Active != 3 {
		t.Fatalf("%d expired, %d active", len(calls), tr.Stats().Active)
	}
	for i, c := range calls {
		if c.UniqueID != fmt.Sprint(i) || !c.Expired {
			t.Errorf("expired call %d: %+v", i, c)
		}
	}
	active := tr.Active()
	if len(active) != 3 || active[0].UniqueID != "7" || active[2].UniqueID != "9" {
		t.Fatalf("active %+v", active)
	}
}

func TestTrackerDuplicatesAndStrays(t *testing.T) {
	// Two overlapping subscriptions (an agent's topic and all agents)
	// deliver every event twice.
	calls, tr := runFlow(t, []step{
		{0, NewCall, agentA, "d", "INBOUND", "1", ""},
		{0, NewCall, agentA, "d", "INBOUND", "1", ""},
		{time.Second, Connect, agentA, "d", "", "1", ""},
		{time.Second, Connect, agentA, "d", "", "1", ""},
		{9 * time.Second, Hangup, agentA, "d", "", "1", ReasonByCallee},
		{9 * time.Second, Hangup, agentA, "d", "", "1", ReasonByCallee},
		// Not call events, or no uniqueid: ignored.
		{10 * time.Second, Login, agentA, "", "", "", ""},
		{10 * time.Second, Pause, agentA, "", "Lunch", "", ""},
		{10 * time.Second, NewCall, agentA, "", "", "", ""},
		{10 * time.Second, Type("XFER"), agentA, "x", "", "", ""},
		// A HANGUP of a call that began before the tracker: reported,
		// with what is known.
		{11 * time.Second, Hangup, agentB, "before", "", "77", ReasonBusy},
		// The same uniqueid again, with a NEWCALL: a new call.
		{20 * time.Second, NewCall, agentA, "d", "INBOUND", "1", ""},
	})
	if len(calls) != 2 {
		t.Fatalf("%d calls: %+v", len(calls), calls)
	}
	if c := calls[0]; c.Events != 5 || c.RingDuration() != time.Second || c.TalkDuration() != 8*time.Second {
		t.Errorf("duplicated call %+v", c)
	}
	if c := calls[1]; c.Agent != agentB || c.Reason != ReasonBusy || !c.NewCallAt.IsZero() || c.CallerID != "77" || c.RingDuration() != 0 {
		t.Errorf("stray hangup %+v", c)
	}
	if st := tr.Stats(); st.Active != 1 || st.Late != 1 || st.Finished != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestTrackerAgentFromTopic(t *testing.T) {
	var got collector
	tr := mustTracker(WithFinished(got.add))
	tr.Apply(Event{Type: NewCall, UniqueID: "u", Topic: AgentTopic("default", "1001"), Received: t0})
	tr.Apply(Event{Type: Hangup, UniqueID: "u", Topic: AllAgents, Agent: "default_1001", Received: t0})
	if calls := got.get(); len(calls) != 1 || calls[0].Agent != "default_1001" {
		t.Fatalf("calls %+v", calls)
	}
}

// TestTrackerConcurrent applies events from many goroutines while others
// read; run with -race.
func TestTrackerConcurrent(t *testing.T) {
	var got collector
	tr := mustTracker(WithFinished(got.add), WithClock(newFakeClock().Now))
	var wg sync.WaitGroup
	const agents, callsPer = 8, 100
	for a := 0; a < agents; a++ {
		wg.Add(1)
		go func(a int) {
			defer wg.Done()
			agent := fmt.Sprintf("default_%d", 1000+a)
			for i := 0; i < callsPer; i++ {
				uid := fmt.Sprint(i)
				tr.Apply(Event{Type: NewCall, Agent: agent, UniqueID: uid, Received: t0})
				tr.Apply(Event{Type: Connect, Agent: agent, UniqueID: uid, Received: t0.Add(time.Second)})
				tr.Apply(Event{Type: Hangup, Agent: agent, UniqueID: uid, Received: t0.Add(2 * time.Second), Reason: ReasonByCaller})
			}
		}(a)
	}
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				_ = tr.Active()
				_ = tr.Stats()
				tr.Get("default_1000", "1")
				tr.Expire()
			}
		}()
	}
	wg.Wait()
	if n := len(got.get()); n != agents*callsPer {
		t.Fatalf("%d calls finished, want %d", n, agents*callsPer)
	}
	if st := tr.Stats(); st.Finished != agents*callsPer || st.Expired != 0 || st.Active != 0 {
		t.Fatalf("stats %+v", st)
	}
}
