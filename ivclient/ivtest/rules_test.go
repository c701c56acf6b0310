package ivtest

import (
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
)

// The reference's own broken examples (a missing comma, "1',", a doubled
// quote) are answered RESPONSE_INVALID on the key's topic, with the
// identifier when it can be read.
func TestMalformedReferenceExamples(t *testing.T) {
	p := NewPlatform(t)
	key := p.Key()
	c := newClient(t, p, key)
	bodies := map[string]string{
		// AgentQueueAdd: no comma after "user":"0001".
		"aqa": `[
    "AgentQueueAdd",
    "` + key + `",
    {
        "accountcode":"default",
        "user":"0001"
        "queues":
        [
            {
                "name":"1",
                "priority":"0"
            }
        ]
    }, "aqa"
]`,
		// NewCallBack: "Queue_id": "1',
		"ncb": `[
    "NewCallBack",
    "` + key + `",
    {
        "Accountcode": "default",
        "Ruleid": "1",
        "Mcdu": "6100",
        "Originator": "2177277722",
        "Language": "pt_BR",
        "Location_id": "1",
        "Queue_id": "1',
        "Email": "instant@instant.com.br"
    },
    "ncb"
]`,
		// SipUserAdd: missing commas and "useclientcode"": "yes".
		"sua": `[
    "SipUserAdd",
    "` + key + `",
    {
        "name": 1010,
        "accountcode": "default",
        "musiconhold": "default"
        "secret": "creative-password"
        "useclientcode"": "yes"
    },
    "sua"
]`,
		// Single quotes around the head, as Python prints it.
		"py": `['SipUserModify', '` + key + `', {'original_name': 1010 'musiconhold': 'default'}, 'py']`,
	}
	for id, body := range bodies {
		w := c.waiter(id)
		c.sendRaw(body)
		select {
		case r := <-w:
			if codes.Code(r.Code) != codes.Invalid || r.ID != id {
				t.Errorf("%s: reply %+v", id, r)
			}
		case <-time.After(waitFor):
			t.Fatalf("%s: no reply to a malformed request whose key can be read", id)
		}
	}
	// Recorded with the method the scan read.
	methods := map[string]bool{}
	for _, r := range p.Requests() {
		if r.Code == codes.Invalid {
			methods[r.Method] = true
		}
	}
	for _, m := range []string{"AgentQueueAdd", "NewCallBack", "SipUserAdd", "SipUserModify"} {
		if !methods[m] {
			t.Errorf("%s not recorded (%v)", m, methods)
		}
	}
	// Without an identifier the reply carries none; nothing was acted on.
	c.sendRaw(`["QueueAdd", "` + key + `", {"accountcode": "default" "name": "7015"}]`)
	if err := p.Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitFor)
	for {
		c.mu.Lock()
		n := len(c.strays)
		var last string
		if n > 0 {
			last = string(c.strays[n-1].Payload)
		}
		c.mu.Unlock()
		if n == 1 && strings.Contains(last, "Malformed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d strays, last %s", n, last)
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.ok("QueueAdd", A{"accountcode": "default", "name": "7015"})
	if p.Stats().Malformed != 0 {
		t.Errorf("Malformed = %d, want 0", p.Stats().Malformed)
	}
	// A key given as a number is read as its text.
	n := newClient(t, p, "1234")
	w := n.waiter("num")
	n.sendRaw(`["QueueList", 1234, {"accountcode": "default"}, "num"]`)
	select {
	case r := <-w:
		if codes.Code(r.Code) != codes.Invalid {
			t.Errorf("numeric key: %+v", r)
		}
	case <-time.After(waitFor):
		t.Fatal("no reply to a numeric key")
	}
}

// State rules of the reference that the fake keeps, over STOMP (IVWS runs
// the same code: see TestSOAPStateRules).
func TestStateRules(t *testing.T) {
	p, c := agentSetup(t, WithLicensedAgents(1), WithQueue("default", "7001"))

	// QueueDelete of a queue with members: RESPONSE_NOTEMPTY.
	c.expect(codes.NotEmpty, "QueueDelete", A{"accountcode": "default", "name": "7000"})
	c.ok("QueueDelete", A{"accountcode": "default", "name": "7001"})

	// One licensed agent: the second login gets RESPONSE_NO_LICENSE; a
	// logoff frees the licence.
	login(c, "1001")
	c.expect(codes.NoLicense, "AgentLogin", A{"Accountcode": "default", "User": "1002", "Interface": "SIP/default_1002"})
	c.ok("AgentLogoff", A{"Accountcode": "default", "User": "1001"})
	login(c, "1002")

	// Lines: an agent whose lines are all disabled for a direction cannot
	// place (NewCall) or receive calls: RESPONSE_DISABLED.
	c.ok("AgentLineAdd", A{"accountcode": "default", "user": "1002", "lines": []any{A{"linenumber": "1", "inbound": "1", "outbound": "0"}}})
	c.expect(codes.Disabled, "NewCall", A{"Accountcode": "default", "Agent": "default_1002", "Exten": "6100"})
	if _, err := p.OutboundCall("default", "1002", "6100", Answer); !isCode(err, codes.Disabled) {
		t.Errorf("OutboundCall on an inbound-only line: %v", err)
	}
	uid, err := p.InboundCall("default", "7000", "1002", "2199999999", Answer)
	if err != nil {
		t.Fatalf("InboundCall on an inbound line: %v", err)
	}
	// The inbound call stays on line 1 when the line is made outbound-only:
	// the line is busy, a NewCall ends BUSY at once until a second line
	// takes it.
	c.ok("AgentLineModify", A{"original_accountcode": "default", "original_user": "1002", "original_linenumber": "1", "inbound": "0", "outbound": "1"})
	c.ok("NewCall", A{"Accountcode": "default", "Agent": "default_1002", "Exten": "6100"})
	if calls := p.Calls(); len(calls) != 1 || calls[0].UniqueID != uid {
		t.Errorf("calls after a NewCall of a busy agent: %+v, want only %s", calls, uid)
	}
	c.ok("AgentLineAdd", A{"accountcode": "default", "user": "1002", "lines": []any{A{"linenumber": "2", "inbound": "0", "outbound": "1"}}})
	c.ok("NewCall", A{"Accountcode": "default", "Agent": "default_1002", "Exten": "6100"})
	if calls := p.Calls(); len(calls) != 2 {
		t.Errorf("calls after a NewCall on a second line: %+v", calls)
	}
	if _, err := p.InboundCall("default", "", "1002", "2199999999", Answer); !isCode(err, codes.Disabled) {
		t.Errorf("InboundCall on an outbound-only line: %v", err)
	}

	// AgentDelete of a logged-in agent: RESPONSE_NOT_ALLOWED. After a
	// logoff, a call it kept ends with it (HANGUP UNKNOWN).
	l := listen(t, p, events.TopicPrefix+"default_1002")
	c.expect(codes.NotAllowed, "AgentDelete", A{"accountcode": "default", "user": "1002"})
	c.ok("AgentLogoff", A{"Accountcode": "default", "User": "1002"})
	l.expect(events.Logout)
	c.ok("AgentDelete", A{"accountcode": "default", "user": "1002"})
	for range 2 { // the inbound call and the NewCall
		ev := l.expect(events.Hangup)[0]
		if ev.Reason != events.ReasonUnknown {
			t.Errorf("hangup %+v", ev)
		}
	}
	for _, call := range p.Calls() {
		t.Errorf("call left behind: %+v (first was %s)", call, uid)
	}
}

func isCode(err error, c codes.Code) bool {
	e, ok := err.(*codes.Error)
	return ok && e.Code == c
}

// Reset returns the platform to its seeds: calls end with MSSTART, logged
// in agents with LOGOUT, what requests changed is gone, the request log and
// DropReplies are cleared.
func TestReset(t *testing.T) {
	p, c := agentSetup(t, WithNewCallOutcome(NoAnswer))
	login(c, "1001")
	uid, err := p.InboundCall("default", "7000", "1001", "2198765456", Answer)
	if err != nil {
		t.Fatal(err)
	}
	c.ok("QueueAdd", A{"accountcode": "default", "name": "7100"})
	if err := p.SetNewCallOutcome(Busy); err != nil {
		t.Fatal(err)
	}
	p.DropReplies(5)
	l := listen(t, p, events.TopicPrefix+"default_1001")
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	if ev := l.expect(events.Hangup)[0]; ev.UniqueID != uid || ev.Reason != events.ReasonMSStart {
		t.Errorf("hangup on reset: %+v", ev)
	}
	// The agent that was logged in is logged off, as AgentLogoff does it.
	if ev := l.expect(events.Logout)[0]; ev.Agent != "default_1001" {
		t.Errorf("logout on reset: %+v", ev)
	}
	if len(p.Calls()) != 0 || len(p.Requests()) != 0 {
		t.Errorf("after Reset: calls %v, requests %d", p.Calls(), len(p.Requests()))
	}
	c.expect(codes.NotFound, "QueueInfo", A{"accountcode": "default", "name": "7100"}) // not withheld
	c.ok("QueueInfo", A{"accountcode": "default", "name": "7000"})                     // seeded again
	if got := string(c.ok("AgentQueueMembers", A{"accountcode": "default", "name": "7000"})); !strings.Contains(got, "1002") {
		t.Errorf("members after Reset: %s", got)
	}
	info := string(c.ok("AgentInfo", A{"accountcode": "default", "user": "1001"}))
	if !strings.Contains(info, `"agentstatus":"LOGOFF"`) {
		t.Errorf("agent after Reset: %s", info)
	}
	// The NewCall outcome is the option's again.
	login(c, "1001")
	c.ok("NewCall", A{"Accountcode": "default", "Agent": "default_1001", "Exten": "6100"})
	l.expect(events.Login, events.NewCall, events.Connect, events.DNewCall)
	if ev := l.expect(events.Hangup)[0]; ev.Reason != events.ReasonNoAnswer {
		t.Errorf("NewCall after Reset: %+v", ev)
	}
	p.Close()
	if err := p.Reset(); err == nil {
		t.Error("Reset of a closed platform")
	}
}
