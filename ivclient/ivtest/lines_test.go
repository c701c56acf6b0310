package ivtest

import (
	"encoding/json"
	"testing"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
)

// lineRow is one line of AgentLineList, as the STOMP reply carries it.
type lineRow struct {
	ID       int    `json:"id"`
	QueuesID int    `json:"queues_id"`
	Number   int    `json:"linenumber"`
	Status   string `json:"linestatus"`
	StatusTS int64  `json:"linestatusts"`
	UniqueID string `json:"uniqueid"`
}

func lineList(t *testing.T, c *client, user string) []lineRow {
	t.Helper()
	var rows []lineRow
	if err := json.Unmarshal(c.ok("AgentLineList", A{"accountcode": "default", "user": user}), &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func addLines(c *client, user string, numbers ...string) {
	c.t.Helper()
	var lines []any
	for _, n := range numbers {
		lines = append(lines, A{"linenumber": n})
	}
	c.ok("AgentLineAdd", A{"accountcode": "default", "user": user, "lines": lines})
}

// An agent with one line on a call is busy: a second inbound call does not
// ring it (RESPONSE_ITEM_FULL, no event); NewCall is accepted (code 0) and
// the platform, calling the agent's phone first, finds it busy: NEWCALL
// and HANGUP (BUSY) on a leg of their own, no DNEWCALL, the call in
// progress untouched. AgentLineList shows the line in use with the call's uniqueid, and
// AgentInfo keeps the login status (the reference keeps calls on lines).
// Once the call ends the line is idle again and takes the next call.
func TestBusyAgent(t *testing.T) {
	p, c := agentSetup(t)
	addLines(c, "1001", "1")
	login(c, "1001")
	l := listen(t, p, events.AgentTopic("default", "1001"))

	uid, err := p.InboundCall("default", "7000", "1001", "2100000001", Ring)
	if err != nil {
		t.Fatal(err)
	}
	l.expect(events.NewCall)
	rows := lineList(t, c, "1001")
	var qinfo struct{ ID int }
	json.Unmarshal(c.ok("QueueInfo", A{"accountcode": "default", "name": "7000"}), &qinfo)
	if len(rows) != 1 || rows[0].Status != "RINGING" || rows[0].UniqueID != uid || rows[0].QueuesID != qinfo.ID || qinfo.ID == 0 ||
		rows[0].StatusTS != fixedClock().Unix() {
		t.Fatalf("ringing line: %+v (queue id %d)", rows, qinfo.ID)
	}
	if err := p.AnswerCall(uid); err != nil {
		t.Fatal(err)
	}
	l.expect(events.Connect)
	if rows := lineList(t, c, "1001"); rows[0].Status != "INUSE" || rows[0].UniqueID != uid {
		t.Fatalf("answered line: %+v", rows)
	}

	if _, err := p.InboundCall("default", "", "1001", "2100000002", Answer); !isCode(err, codes.ItemFull) {
		t.Errorf("InboundCall to a busy agent: %v, want RESPONSE_ITEM_FULL", err)
	}
	l.none(p)
	busy, err := p.OutboundCall("default", "1001", "6100", Answer)
	if err != nil || busy == "" || busy == uid {
		t.Fatalf("OutboundCall of a busy agent: %q, %v; want a new call's uniqueid and no error", busy, err)
	}
	evs := l.expect(events.NewCall, events.Hangup)
	if evs[0].Direction != "OUTBOUND" || evs[0].CallerID != "6100" || evs[0].UniqueID != busy ||
		evs[1].Reason != events.ReasonBusy || evs[1].UniqueID != busy {
		t.Errorf("OutboundCall of a busy agent: events %+v, want NEWCALL (OUTBOUND, 6100) and HANGUP (BUSY) of %s", evs, busy)
	}
	// Twice in a row, as a client placing two calls would: each is
	// accepted, each ends BUSY.
	for range 2 {
		c.ok("NewCall", A{"Accountcode": "default", "Agent": "default_1001", "Exten": "6100", "External_id": "x1"})
		evs := l.expect(events.NewCall, events.Hangup)
		if evs[0].UniqueID == uid || evs[0].UniqueID != evs[1].UniqueID || evs[1].Reason != events.ReasonBusy {
			t.Errorf("NewCall of a busy agent: events %+v, want NEWCALL and HANGUP (BUSY) of a new leg", evs)
		}
	}
	l.none(p)
	if calls := p.Calls(); len(calls) != 1 {
		t.Fatalf("calls of a one-line agent: %+v", calls)
	} else if calls[0].UniqueID != uid || !calls[0].Answered {
		t.Fatalf("the call in progress after the busy ones: %+v, want %s answered", calls[0], uid)
	}
	if rows := lineList(t, c, "1001"); rows[0].Status != "INUSE" || rows[0].UniqueID != uid {
		t.Fatalf("the line after the busy calls: %+v", rows)
	}
	var info struct {
		AgentStatus string `json:"agentstatus"`
	}
	json.Unmarshal(c.ok("AgentInfo", A{"accountcode": "default", "user": "1001"}), &info)
	if info.AgentStatus != "LOGIN" {
		t.Errorf("AgentInfo of an agent on a call: agentstatus %q, want LOGIN", info.AgentStatus)
	}
	c.expect(codes.NotAllowed, "AgentLineDelete", A{"accountcode": "default", "user": "1001", "linenumber": "1"})

	c.ok("Hangup", A{"Accountcode": "default", "Uniqueid": uid})
	l.expect(events.Hangup)
	if rows := lineList(t, c, "1001"); rows[0].Status != "IDLE" || rows[0].UniqueID != "" || rows[0].QueuesID != 0 ||
		rows[0].StatusTS != fixedClock().Unix() {
		t.Fatalf("line after the hangup: %+v", rows)
	}
	c.ok("NewCall", A{"Accountcode": "default", "Agent": "default_1001", "Exten": "6100"})
	l.expect(events.NewCall, events.Connect, events.DNewCall, events.DConnect)
	if rows := lineList(t, c, "1001"); rows[0].Status != "INUSE" || rows[0].QueuesID != 0 {
		t.Fatalf("line on a NewCall: %+v", rows)
	}
	if got := p.Lenient(); len(got) != 0 {
		t.Errorf("lenient acceptances with lines configured and the reference's names: %v", got)
	}
}

// Each line carries one call: a second call takes line 2, a third finds the
// agent busy; an outbound-only line does not take an inbound call.
func TestLinesOneCallEach(t *testing.T) {
	p, c := agentSetup(t)
	c.ok("AgentLineAdd", A{"accountcode": "default", "user": "1001", "lines": []any{
		A{"linenumber": "1"}, A{"linenumber": "2"}, A{"linenumber": "3", "inbound": "0", "outbound": "1"}}})
	login(c, "1001")
	a, err := p.InboundCall("default", "", "1001", "2100000001", Answer)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.InboundCall("default", "", "1001", "2100000002", Answer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.InboundCall("default", "", "1001", "2100000003", Answer); !isCode(err, codes.ItemFull) {
		t.Errorf("a third inbound call to two inbound lines: %v, want RESPONSE_ITEM_FULL", err)
	}
	out, err := p.OutboundCall("default", "1001", "6100", Answer)
	if err != nil {
		t.Fatalf("an outbound call on the free outbound line: %v", err)
	}
	rows := lineList(t, c, "1001")
	if len(rows) != 3 || rows[0].UniqueID != a || rows[1].UniqueID != b || rows[2].UniqueID != out {
		t.Fatalf("lines: %+v, want %s %s %s", rows, a, b, out)
	}
	for _, r := range rows {
		if r.Status != "INUSE" {
			t.Errorf("line %d: %s, want INUSE", r.Number, r.Status)
		}
	}
	// Renumbering a line moves its call with it.
	c.ok("AgentLineModify", A{"original_accountcode": "default", "original_user": "1001", "original_linenumber": "2", "linenumber": "9"})
	if rows := lineList(t, c, "1001"); rows[2].Number != 9 || rows[2].UniqueID != b {
		t.Fatalf("renumbered line: %+v", rows)
	}
}

// An agent-to-agent call to a busy agent does not ring it: the caller's leg
// ends BUSY. A blind transfer to a queue passes a busy member over, as the
// queue rings the next one.
func TestBusyCallee(t *testing.T) {
	p, c := agentSetup(t, WithAgent("default", "1003", "", "Carol"),
		WithSeed("AgentQueueAdd", A{"accountcode": "default", "user": "1003", "queues": []any{A{"name": "7000", "priority": "0"}}}))
	for _, u := range []string{"1001", "1002", "1003"} {
		addLines(c, u, "1")
		login(c, u)
	}
	l1 := listen(t, p, events.AgentTopic("default", "1001"))
	l2 := listen(t, p, events.AgentTopic("default", "1002"))
	if _, err := p.InboundCall("default", "", "1002", "2100000001", Answer); err != nil {
		t.Fatal(err)
	}
	l2.expect(events.NewCall, events.Connect)
	from, to, err := p.AgentCall("default", "1001", "1002", Answer)
	if err != nil || to != "" || from == "" {
		t.Fatalf("AgentCall to a busy agent: %q %q %v", from, to, err)
	}
	evs := l1.expect(events.NewCall, events.Hangup)
	if evs[0].Direction != "OUTBOUND" || evs[1].Reason != events.ReasonBusy || evs[1].UniqueID != from {
		t.Errorf("the caller's events: %+v", evs)
	}
	l2.none(p)

	// 1001 (first member of 7000) transfers a call to the queue: 1002 is
	// busy, so 1003 takes it.
	if _, err := p.InboundCall("default", "", "1001", "2100000002", Answer); err != nil {
		t.Fatal(err)
	}
	uids, err := p.TransferCall("default", "1001", "7000")
	if err != nil || len(uids) != 1 {
		t.Fatalf("transfer to the queue: %v %v", uids, err)
	}
	for _, call := range p.Calls() {
		if call.UniqueID == uids[0] && call.Agent != "default_1003" {
			t.Errorf("the transferred call reached %s, want default_1003 (1002 is busy)", call.Agent)
		}
	}
}

// An agent with no line configured still takes and places calls on line
// 1, as if AgentAdd had made it: the platform would not (an agent must
// have a line to make and receive calls), so each such call is counted as
// lenient, once per call, and logged.
func TestNoLineIsLenient(t *testing.T) {
	p, c := agentSetup(t)
	login(c, "1001")
	if _, err := p.InboundCall("default", "", "1001", "2100000001", Answer); err != nil {
		t.Fatal(err)
	}
	// Busy on its one default line: the NewCall ends BUSY, and counts too.
	c.ok("NewCall", A{"Accountcode": "default", "Agent": "default_1001", "Exten": "6100"})
	if rows := lineList(t, c, "1001"); len(rows) != 0 {
		t.Errorf("lines of an agent with none configured: %+v", rows)
	}
	want := []LenientCount{{Kind: "an agent with no line configured took a call on line 1", Count: 2}}
	if got := p.Lenient(); len(got) != 1 || got[0] != want[0] {
		t.Fatalf("Lenient = %v, want %v", got, want)
	}
	if st := p.Stats(); st.Lenient != 2 {
		t.Errorf("Stats.Lenient = %d, want 2", st.Lenient)
	}
}
