package ivtest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/wire"
)

func fixedClock() time.Time { return time.Unix(1700000000, 0) }

// agentSetup starts a platform with agents 1001 and 1002 (members of queue
// 7000) and a client.
func agentSetup(t *testing.T, opts ...Option) (*Platform, *client) {
	t.Helper()
	members := []any{A{"name": "7000", "priority": "0"}}
	opts = append([]Option{
		WithClock(fixedClock),
		WithQueue("default", "7000"),
		WithAgent("default", "1001", "", "Alice"),
		WithAgent("default", "1002", "", "Bob"),
		WithSeed("AgentQueueAdd", A{"accountcode": "default", "user": "1001", "queues": members}),
		WithSeed("AgentQueueAdd", A{"accountcode": "default", "user": "1002", "queues": members}),
	}, opts...)
	p := NewPlatform(t, opts...)
	return p, newClient(t, p, p.Key())
}

func login(c *client, user string) {
	c.t.Helper()
	c.ok("AgentLogin", A{"Accountcode": "default", "User": "default_" + user, "Interface": "SIP/default_" + user})
}

func TestAgentStatusEvents(t *testing.T) {
	p, c := agentSetup(t)
	alice := listen(t, p, events.AgentTopic("default", "1001"))
	all := listen(t, p, events.AllAgents)

	c.expect(codes.NotAllowed, "AgentPause", A{"Accountcode": "default", "User": "default_1001", "Reason": "1"})
	c.expect(codes.NotAllowed, "AgentUnpause", A{"Accountcode": "default", "User": "default_1001"})
	c.expect(codes.Duplicate, "AgentLogoff", A{"Accountcode": "default", "User": "default_1001"})
	c.expect(codes.MissingArgs, "AgentLogin", A{"Accountcode": "default", "User": "default_1001"})
	c.expect(codes.Invalid, "AgentLogin", A{"Accountcode": "default", "User": "default_1001", "Interface": "default_0001"})
	c.expect(codes.NotFound, "AgentLogin", A{"Accountcode": "default", "User": "default_1009", "Interface": "SIP/x"})
	c.expect(codes.Invalid, "AgentLogin", A{"Accountcode": "default", "User": "other_1001", "Interface": "SIP/x"})

	login(c, "1001")
	c.expect(codes.Duplicate, "AgentLogin", A{"Accountcode": "default", "User": "1001", "Interface": "SIP/default_0001"})
	info := decode[map[string]any](t, c.ok("AgentInfo", A{"accountcode": "default", "user": "1001"}))
	if info["agentstatus"] != "LOGIN" || info["interface"] != "SIP/default_1001" || info["extension"] != "default_1001" || info["logints"] != 1700000000.0 {
		t.Fatalf("AgentInfo = %v", info)
	}

	c.expect(codes.NotFound, "AgentPause", A{"Accountcode": "default", "User": "default_1001", "Reason": "9"})
	c.expect(codes.Invalid, "AgentPause", A{"Accountcode": "default", "User": "default_1001", "Reason": "coffee"})
	c.expect(codes.Duplicate, "AgentUnpause", A{"Accountcode": "default", "User": "default_1001"})
	c.ok("AgentPause", A{"Accountcode": "default", "User": "default_1001", "Reason": "2"})
	c.expect(codes.Duplicate, "AgentPause", A{"Accountcode": "default", "User": "default_1001", "Reason": "1"})
	info = decode[map[string]any](t, c.ok("AgentInfo", A{"accountcode": "default", "user": "1001"}))
	if info["agentstatus"] != "PAUSE" || info["reasons_reason"] != "Lunch" {
		t.Fatalf("AgentInfo = %v", info)
	}
	c.ok("AgentUnpause", A{"Accountcode": "default", "User": "default_1001"})
	c.ok("AgentLogoff", A{"Accountcode": "default", "User": "default_1001"})

	for _, l := range []*listener{alice, all} {
		evs := l.expect(events.Login, events.Pause, events.Unpause, events.Logout)
		for _, ev := range evs {
			if ev.Agent != "default_1001" || ev.UniqueID != "" || ev.Reason != "" {
				t.Fatalf("event %s", ev.Raw)
			}
		}
		if evs[1].Direction != "Lunch" {
			t.Fatalf("PAUSE direction %q", evs[1].Direction)
		}
		wantTopic := events.AgentTopic("default", "1001")
		if l == all {
			wantTopic = events.AllAgents
		}
		if evs[0].Topic != wantTopic {
			t.Fatalf("topic %q, want %q", evs[0].Topic, wantTopic)
		}
		// The reference's field order.
		if !strings.HasPrefix(string(evs[0].Raw), `{"direction":"","callerid":"","type":"LOGIN","uniqueid":"","agent":"default_1001"}`) {
			t.Fatalf("LOGIN body %s", evs[0].Raw)
		}
		l.none(p)
	}
}

func TestNewCallFlow(t *testing.T) {
	p, c := agentSetup(t)
	alice := listen(t, p, events.AgentTopic("default", "1001"))
	bob := listen(t, p, events.AgentTopic("default", "1002"))

	c.expect(codes.NotAllowed, "NewCall", A{"Accountcode": "default", "Agent": "default_1001", "Exten": "6100", "External_id": "9999"})
	login(c, "1001")
	alice.expect(events.Login)
	c.expect(codes.MissingArgs, "NewCall", A{"Accountcode": "default", "Agent": "default_1001"})
	c.expect(codes.Invalid, "NewCall", A{"Accountcode": "default", "Agent": "default_1001", "Exten": "sixty"})
	c.expect(codes.NotFound, "NewCall", A{"Accountcode": "default", "Agent": "default_1077", "Exten": "6100"})

	// STOMP names the agent "Agent"; IVWS names it "User".
	c.ok("NewCall", A{"Accountcode": "default", "Agent": "default_1001", "Exten": "6100", "External_id": "9999"})
	evs := alice.expect(events.NewCall, events.Connect, events.DNewCall, events.DConnect)
	uid := evs[0].UniqueID
	if !strings.HasPrefix(uid, "1700000000.1.") || evs[0].Direction != "OUTBOUND" || evs[0].CallerID != "6100" {
		t.Fatalf("NEWCALL %s", evs[0].Raw)
	}
	for _, ev := range evs {
		if ev.UniqueID != uid || ev.Agent != "default_1001" {
			t.Fatalf("event %s", ev.Raw)
		}
	}
	calls := p.Calls()
	if len(calls) != 1 || calls[0].UniqueID != uid || calls[0].ExternalID != "9999" || !calls[0].Answered {
		t.Fatalf("Calls = %+v", calls)
	}

	c.expect(codes.NotFound, "Hangup", A{"Accountcode": "default", "Uniqueid": "1286208779.1.30"})
	c.expect(codes.MissingArgs, "Hangup", A{"Accountcode": "default"})
	c.ok("Hangup", A{"Accountcode": "default", "Uniqueid": uid})
	h := alice.expect(events.Hangup)[0]
	if h.Reason != events.ReasonByCaller || h.UniqueID != uid || h.Direction != "" || h.CallerID != "6100" {
		t.Fatalf("HANGUP %s", h.Raw)
	}
	c.expect(codes.NotFound, "Hangup", A{"Accountcode": "default", "Uniqueid": uid})
	if len(p.Calls()) != 0 {
		t.Fatal("call still listed")
	}

	// Outcomes: busy, then answered and hung up by the callee.
	if err := p.SetNewCallOutcome(Busy); err != nil {
		t.Fatal(err)
	}
	c.ok("NewCall", A{"Accountcode": "default", "User": "1001", "Exten": "6101"})
	evs = alice.expect(events.NewCall, events.Connect, events.DNewCall, events.Hangup)
	if evs[3].Reason != "BUSY" {
		t.Fatalf("HANGUP %s", evs[3].Raw)
	}
	if err := p.SetNewCallOutcome(Outcome(events.ReasonByCallee)); err != nil {
		t.Fatal(err)
	}
	c.ok("NewCall", A{"Accountcode": "default", "User": "1001", "Exten": "6102"})
	evs = alice.expect(events.NewCall, events.Connect, events.DNewCall, events.DConnect, events.Hangup)
	if evs[4].Reason != "BYCALLEE" {
		t.Fatalf("HANGUP %s", evs[4].Raw)
	}
	if err := p.SetNewCallOutcome("SOMETIMES"); err == nil {
		t.Fatal("accepted an unknown outcome")
	}
	alice.none(p)
	bob.none(p)
}

func TestInboundAndAgentCalls(t *testing.T) {
	p, c := agentSetup(t)
	alice := listen(t, p, events.AgentTopic("default", "1001"))
	bob := listen(t, p, events.AgentTopic("default", "1002"))

	if _, err := p.InboundCall("default", "7000", "1001", "2198765456", Answer); !errors.Is(err, codes.ErrNotAllowed) {
		t.Fatalf("call to a logged-off agent: %v", err)
	}
	if _, err := p.InboundCall("default", "7999", "1001", "2198765456", Answer); !errors.Is(err, codes.ErrNotFound) {
		t.Fatalf("call from an unknown queue: %v", err)
	}
	login(c, "1001")
	login(c, "1002")
	alice.expect(events.Login)
	bob.expect(events.Login)

	// Inbound from the queue, answered, then hung up by the caller.
	uid, err := p.InboundCall("default", "7000", "default_1001", "2198765456", Answer)
	if err != nil {
		t.Fatal(err)
	}
	evs := alice.expect(events.NewCall, events.Connect)
	if evs[0].Direction != "INBOUND" || evs[0].CallerID != "2198765456" || evs[0].UniqueID != uid {
		t.Fatalf("NEWCALL %s", evs[0].Raw)
	}
	info := decode[map[string]any](t, c.ok("QueueInfo", A{"accountcode": "default", "name": "7000"}))
	if info["agents_oncall"] != 1.0 || info["agents_idle"] != 1.0 || info["agents_loggedin"] != 2.0 || info["agents_total"] != 2.0 {
		t.Fatalf("QueueInfo = %v", info)
	}
	if err := p.EndCall(uid, events.ReasonByCaller); err != nil {
		t.Fatal(err)
	}
	if h := alice.expect(events.Hangup)[0]; h.Reason != "BYCALLER" || h.UniqueID != uid {
		t.Fatalf("HANGUP %s", h.Raw)
	}
	if err := p.EndCall(uid, events.ReasonByCaller); !errors.Is(err, codes.ErrNotFound) {
		t.Fatalf("second hangup: %v", err)
	}
	if err := p.EndCall(uid, "WHATEVER"); err == nil {
		t.Fatal("accepted an unknown reason")
	}

	// Missed by the agent.
	if _, err := p.InboundCall("default", "7000", "1001", "2198765456", QueueMissed); err != nil {
		t.Fatal(err)
	}
	if h := alice.expect(events.NewCall, events.Hangup)[1]; h.Reason != "QUEUEMISSED" {
		t.Fatalf("HANGUP %s", h.Raw)
	}

	// Agent to agent: each agent gets only its own leg.
	a, b, err := p.AgentCall("default", "1001", "1002", Answer)
	if err != nil {
		t.Fatal(err)
	}
	ae := alice.expect(events.NewCall, events.Connect)
	be := bob.expect(events.NewCall, events.Connect)
	if ae[0].UniqueID != a || be[0].UniqueID != b || a == b {
		t.Fatalf("uniqueids %s %s / %s %s", a, b, ae[0].UniqueID, be[0].UniqueID)
	}
	if ae[0].Direction != "OUTBOUND" || ae[0].CallerID != "1002" || be[0].Direction != "INBOUND" || be[0].CallerID != "1001" {
		t.Fatalf("NEWCALLs %s %s", ae[0].Raw, be[0].Raw)
	}
	if err := p.EndCall(b, events.ReasonByCallee); err != nil {
		t.Fatal(err)
	}
	if h := alice.expect(events.Hangup)[0]; h.UniqueID != a || h.Reason != "BYCALLEE" {
		t.Fatalf("HANGUP %s", h.Raw)
	}
	if h := bob.expect(events.Hangup)[0]; h.UniqueID != b || h.Reason != "BYCALLEE" {
		t.Fatalf("HANGUP %s", h.Raw)
	}

	// Every hangup reason.
	for _, reason := range events.HangupReasons() {
		uid, err := p.OutboundCall("default", "1002", "5550100", Answer)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.EndCall(uid, reason); err != nil {
			t.Fatal(err)
		}
		if h := bob.expect(events.NewCall, events.Connect, events.DNewCall, events.DConnect, events.Hangup)[4]; h.Reason != reason {
			t.Fatalf("HANGUP %s, want %s", h.Raw, reason)
		}
	}
	alice.none(p)
	bob.none(p)
}

func TestTransferCall(t *testing.T) {
	p, c := agentSetup(t, WithAgent("default", "1003", "", "Carol"))
	alice := listen(t, p, events.AgentTopic("default", "1001"))
	bob := listen(t, p, events.AgentTopic("default", "1002"))
	carol := listen(t, p, events.AgentTopic("default", "1003"))
	login(c, "1001")
	login(c, "1002")
	alice.expect(events.Login)
	bob.expect(events.Login)

	c.expect(codes.ItemEmpty, "BlindTransfer", A{"Accountcode": "default", "Agent": "default_1001", "Exten": "1002"})
	c.expect(codes.NotAllowed, "BlindTransfer", A{"Accountcode": "default", "Agent": "default_1003", "Exten": "1002"})
	c.expect(codes.MissingArgs, "BlindTransfer", A{"Accountcode": "default", "Agent": "default_1001"})

	uid, err := p.InboundCall("default", "", "1001", "2198765456", Answer)
	if err != nil {
		t.Fatal(err)
	}
	alice.expect(events.NewCall, events.Connect)
	c.ok("BlindTransfer", A{"Accountcode": "default", "Agent": "default_1001", "Exten": "1002"})
	if h := alice.expect(events.Hangup)[0]; h.Reason != events.ReasonBTransfer || h.UniqueID != uid {
		t.Fatalf("HANGUP %s", h.Raw)
	}
	evs := bob.expect(events.NewCall, events.Connect)
	if evs[0].CallerID != "2198765456" || evs[0].Direction != "INBOUND" || evs[0].UniqueID == uid {
		t.Fatalf("NEWCALL %s", evs[0].Raw)
	}

	// Through the Platform, to the queue: the available member is Alice.
	uids, err := p.TransferCall("default", "1002", "7000")
	if err != nil || len(uids) != 1 {
		t.Fatalf("BlindTransfer = %v, %v", uids, err)
	}
	bob.expect(events.Hangup)
	if ev := alice.expect(events.NewCall, events.Connect)[0]; ev.UniqueID != uids[0] {
		t.Fatalf("NEWCALL %s", ev.Raw)
	}
	// To an outside number: the call leaves the platform.
	uids, err = p.TransferCall("default", "1001", "0800123456")
	if err != nil || len(uids) != 0 {
		t.Fatalf("BlindTransfer = %v, %v", uids, err)
	}
	alice.expect(events.Hangup)
	if _, err := p.TransferCall("default", "1001", "1002"); !errors.Is(err, codes.ErrItemEmpty) {
		t.Fatalf("BlindTransfer without calls: %v", err)
	}
	alice.none(p)
	bob.none(p)
	carol.none(p)
}

func TestPublishRawAndEvent(t *testing.T) {
	p := NewPlatform(t, WithEventWildcards("#", ">"))
	alice := listen(t, p, events.AgentTopic("default", "1001"))
	gt := listen(t, p, events.AllAgentsTopic(">"))
	reply := newClient(t, p, "somekey")

	if err := p.PublishRaw(events.AgentTopic("default", "1001"), []byte(`{"type": "NEWCALL", `)); err != nil {
		t.Fatal(err)
	}
	if ev := alice.next(); ev.Type != "MALFORMED" || string(ev.Raw) != `{"type": "NEWCALL", ` {
		t.Fatalf("raw event %+v", ev)
	}
	err := p.PublishEvent(events.Event{Type: "TRANSFER", Agent: "default_1001", UniqueID: "1.1.1", Extra: map[string]json.RawMessage{"queue": json.RawMessage(`"7000"`)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []*listener{alice, gt} {
		ev := l.next()
		if ev.Type != "TRANSFER" || string(ev.Extra["queue"]) != `"7000"` || ev.UniqueID != "1.1.1" {
			t.Fatalf("event %s", ev.Raw)
		}
	}
	if err := p.PublishEvent(events.Event{Type: "X"}); err == nil {
		t.Fatal("PublishEvent without an agent")
	}
	if err := p.PublishRaw("nowhere", nil); err == nil {
		t.Fatal("PublishRaw to a non-destination")
	}

	// A hostile reply on a client's reply topic.
	if err := p.PublishRaw(replyPrefix+"somekey", []byte(`[0, "not yours", "someone-else"]`)); err != nil {
		t.Fatal(err)
	}
	if err := p.Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitFor)
	for {
		reply.mu.Lock()
		n := len(reply.strays)
		reply.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("injected reply not received")
		}
		time.Sleep(5 * time.Millisecond)
	}
	alice.none(p)
	if p.Stats().Events != 1 {
		t.Fatalf("Stats().Events = %d", p.Stats().Events)
	}
}

func TestEventOrderPerAgent(t *testing.T) {
	p, c := agentSetup(t)
	alice := listen(t, p, events.AgentTopic("default", "1001"))
	login(c, "1001")
	alice.expect(events.Login)
	// Many requests in flight; the events of each arrive in request order.
	const n = 200
	var chans []chan wire.Reply
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			_, ch := c.start("AgentPause", A{"Accountcode": "default", "User": "1001", "Reason": "1"})
			chans = append(chans, ch)
		} else {
			_, ch := c.start("AgentUnpause", A{"Accountcode": "default", "User": "1001"})
			chans = append(chans, ch)
		}
	}
	for _, ch := range chans {
		select {
		case r := <-ch:
			if r.Code != 0 {
				t.Fatalf("code %d %s", r.Code, r.Payload)
			}
		case <-time.After(waitFor):
			t.Fatal("no reply")
		}
	}
	for i := 0; i < n; i++ {
		want := events.Pause
		if i%2 == 1 {
			want = events.Unpause
		}
		alice.expect(want)
	}
}
