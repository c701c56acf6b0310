package events_test

import (
	"context"
	"github.com/stretchr/testify/require"
	"sync"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// flowRig is the fake platform's call flows arriving through a real STOMP
// subscription to all agents, folded by a Tracker and a Board.
type flowRig struct {
	p     *ivtest.Platform
	c     *ivclient.Client
	sub   *events.Subscription
	track *events.Tracker
	board *events.Board
	mu    sync.Mutex
	done  []events.Call
	seen  map[string][]events.Type // agent -> event types, in order
}

func newFlowRig(t *testing.T) *flowRig {
	t.Helper()
	p := ivtest.NewPlatform(t,
		ivtest.WithAgent("default", "1001", "", "Alice"),
		ivtest.WithAgent("default", "1002", "", "Bob"),
		ivtest.WithQueue("default", "7015"),
		ivtest.WithSeed("AgentQueueAdd", map[string]any{"accountcode": "default", "user": "1001",
			"queues": []any{map[string]any{"name": "7015", "priority": "0"}}}),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ivclient.New(tr, p.Key())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &flowRig{p: p, c: c, seen: map[string][]events.Type{}}
	r.track, err = events.NewTracker(events.WithFinished(func(call events.Call) {
		r.mu.Lock()
		r.done = append(r.done, call)
		r.mu.Unlock()
	}))
	require.NoError(t, err)
	r.board, err = events.NewBoard()
	require.NoError(t, err)
	r.sub, err = tr.Subscribe(ctx, events.AllAgents)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.sub.Close() })
	for _, a := range []string{"1001", "1002"} {
		if err := c.AgentLogin(ctx, "default", a, "SIP/default_"+a); err != nil {
			t.Fatal(err)
		}
	}
	r.await(t, 2, func(ev events.Event) bool { return ev.Type == events.Login })
	return r
}

// await applies events until n of them matched, or fails after a while.
func (r *flowRig) await(t *testing.T, n int, match func(events.Event) bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for n > 0 {
		select {
		case ev, ok := <-r.sub.C():
			if !ok {
				t.Fatalf("subscription ended: %v", r.sub.Err())
			}
			r.track.Apply(ev)
			r.board.Apply(ev)
			r.mu.Lock()
			r.seen[ev.Agent] = append(r.seen[ev.Agent], ev.Type)
			r.mu.Unlock()
			if match(ev) {
				n--
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %d more events", n)
		}
	}
}

func hangups(ev events.Event) bool { return ev.Type == events.Hangup }

func (r *flowRig) finished(t *testing.T, agent, uid string) events.Call {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.done {
		if c.Agent == agent && c.UniqueID == uid {
			return c
		}
	}
	t.Fatalf("no finished call %s for %s among %d", uid, agent, len(r.done))
	return events.Call{}
}

func TestFlowInboundFromQueue(t *testing.T) {
	r := newFlowRig(t)
	uid, err := r.p.InboundCall("default", "7015", "1001", "2198765456", ivtest.Answer)
	if err != nil {
		t.Fatal(err)
	}
	r.await(t, 1, func(ev events.Event) bool { return ev.Type == events.Connect })
	if st, _ := r.board.Get("default_1001"); st.Status() != events.StatusOnCall || st.UniqueID != uid {
		t.Fatalf("board during the call: %+v", st)
	}
	if err := r.p.EndCall(uid, events.ReasonByCaller); err != nil {
		t.Fatal(err)
	}
	r.await(t, 1, hangups)
	call := r.finished(t, "default_1001", uid)
	if call.Direction != "INBOUND" || call.CallerID != "2198765456" || call.Reason != events.ReasonByCaller || !call.Answered() {
		t.Fatalf("call record: %+v", call)
	}
	if call.TalkDuration() < 0 || call.RingDuration() < 0 {
		t.Fatalf("durations: ring %v talk %v", call.RingDuration(), call.TalkDuration())
	}
	if st, _ := r.board.Get("default_1001"); st.Status() != events.StatusIdle {
		t.Fatalf("board after the call: %+v", st)
	}
}

func TestFlowNewCall(t *testing.T) {
	r := newFlowRig(t)
	if err := r.c.NewCall(context.Background(), "default", "1001", "6100", "crm-1"); err != nil {
		t.Fatal(err)
	}
	r.await(t, 1, func(ev events.Event) bool { return ev.Type == events.DConnect })
	calls := r.p.Calls()
	if len(calls) != 1 {
		t.Fatalf("calls in progress: %+v", calls)
	}
	if err := r.c.Hangup(context.Background(), "default", calls[0].UniqueID); err != nil {
		t.Fatal(err)
	}
	r.await(t, 1, hangups)
	call := r.finished(t, "default_1001", calls[0].UniqueID)
	if call.Direction != "OUTBOUND" || call.DNewCallAt.IsZero() || call.DConnectAt.IsZero() || call.Reason == "" {
		t.Fatalf("call record: %+v", call)
	}
	want := []events.Type{events.Login, events.NewCall, events.Connect, events.DNewCall, events.DConnect, events.Hangup}
	if got := r.seen["default_1001"]; !equalTypes(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestFlowAgentToAgentAndTransfer(t *testing.T) {
	r := newFlowRig(t)
	fromID, toID, err := r.p.AgentCall("default", "1001", "1002", ivtest.Answer)
	if err != nil {
		t.Fatal(err)
	}
	r.await(t, 2, func(ev events.Event) bool { return ev.Type == events.Connect })
	// Each agent receives only its own events.
	for agent, uid := range map[string]string{"default_1001": fromID, "default_1002": toID} {
		if st, _ := r.board.Get(agent); st.UniqueID != uid || !st.OnCall {
			t.Fatalf("%s on the board: %+v", agent, st)
		}
	}
	// 1002 passes the call on to an outside number: its leg ends with
	// BTRANSFER, while 1001's leg stays up until it hangs up.
	if _, err := r.p.TransferCall("default", "1002", "6100"); err != nil {
		t.Fatal(err)
	}
	r.await(t, 1, func(ev events.Event) bool { return ev.Type == events.Hangup && ev.Agent == "default_1002" })
	if c := r.finished(t, "default_1002", toID); c.Reason != events.ReasonBTransfer || c.Direction != "INBOUND" {
		t.Fatalf("transferred leg: %+v", c)
	}
	if err := r.p.EndCall(fromID, events.ReasonByCaller); err != nil {
		t.Fatal(err)
	}
	r.await(t, 1, func(ev events.Event) bool { return ev.Type == events.Hangup && ev.Agent == "default_1001" })
	if c := r.finished(t, "default_1001", fromID); c.Direction != "OUTBOUND" {
		t.Fatalf("caller's leg: %+v", c)
	}
}

func TestFlowEveryHangupReason(t *testing.T) {
	r := newFlowRig(t)
	for _, reason := range events.HangupReasons() {
		uid, err := r.p.InboundCall("default", "", "1001", "555", ivtest.Answer)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.p.EndCall(uid, reason); err != nil {
			t.Fatal(reason, err)
		}
		r.await(t, 1, hangups)
		if c := r.finished(t, "default_1001", uid); c.Reason != reason {
			t.Fatalf("reason %q, want %q", c.Reason, reason)
		}
	}
	if n := len(r.track.Active()); n != 0 {
		t.Fatalf("%d calls still active", n)
	}
}

func TestFlowPauseOnBoard(t *testing.T) {
	r := newFlowRig(t)
	if err := r.c.AgentPause(context.Background(), "default", "1002", "2"); err != nil {
		t.Fatal(err)
	}
	r.await(t, 1, func(ev events.Event) bool { return ev.Type == events.Pause })
	if st, _ := r.board.Get("default_1002"); st.Status() != events.StatusPaused || st.PauseReason != "Lunch" {
		t.Fatalf("board: %+v", st)
	}
	if err := r.c.AgentLogoff(context.Background(), "default", "1002"); err != nil {
		t.Fatal(err)
	}
	r.await(t, 1, func(ev events.Event) bool { return ev.Type == events.Logout })
	if st, _ := r.board.Get("default_1002"); st.Status() != events.StatusLoggedOut {
		t.Fatalf("board: %+v", st)
	}
}

func equalTypes(a, b []events.Type) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
