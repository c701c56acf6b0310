package ivtest

import (
	"sync"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
)

// Agents and Queues show the platform's state as it changes; Watch sees
// each event as published and each request with its transport, code and
// description.
func TestObserve(t *testing.T) {
	p := NewPlatform(t, WithQueue("default", "7000"), WithAgent("default", "1001", "1234", "Alice"),
		WithSeed("AgentLineAdd", map[string]any{"accountcode": "default", "user": "1001", "lines": []any{map[string]any{"linenumber": "1"}}}),
		WithSeed("AgentQueueAdd", map[string]any{"accountcode": "default", "user": "1001", "queues": []any{map[string]any{"name": "7000", "priority": "0"}}}))
	var mu sync.Mutex
	var seen []Notice
	stop := p.Watch(func(n Notice) {
		mu.Lock()
		seen = append(seen, n)
		mu.Unlock()
	})
	c := newClient(t, p, p.Key())
	c.ok("AgentLogin", map[string]any{"accountcode": "default", "user": "1001", "interface": "SIP/default_1001"})
	c.ok("AgentPause", map[string]any{"accountcode": "default", "user": "1001", "reason": "2"})
	c.expect(codes.Duplicate, "AgentPause", map[string]any{"accountcode": "default", "user": "1001", "reason": "2"})

	ags := p.Agents()
	if len(ags) != 1 || ags[0].User != "1001" || ags[0].Status != "PAUSE" || ags[0].PauseReason != "Lunch" ||
		ags[0].Interface != "SIP/default_1001" || ags[0].Lines != 1 || len(ags[0].Queues) != 1 || ags[0].Queues[0] != "7000" {
		t.Fatalf("Agents: %+v", ags)
	}
	qs := p.Queues()
	if len(qs) != 1 || qs[0].Name != "7000" || len(qs[0].Members) != 1 || qs[0].Members[0] != "1001" {
		t.Fatalf("Queues: %+v", qs)
	}
	stop()
	stop()
	c.ok("AgentUnpause", map[string]any{"accountcode": "default", "user": "1001"})

	mu.Lock()
	defer mu.Unlock()
	var types []string
	var reqs []*Request
	for _, n := range seen {
		if n.Request != nil {
			reqs = append(reqs, n.Request)
			continue
		}
		ev, err := events.Decode(n.Body)
		if err != nil || n.Topic != events.TopicPrefix+"default_1001" {
			t.Fatalf("notice %q on %s: %v", n.Body, n.Topic, err)
		}
		types = append(types, string(ev.Type))
	}
	if len(types) != 2 || types[0] != "LOGIN" || types[1] != "PAUSE" {
		t.Errorf("events seen: %v, want LOGIN PAUSE (nothing after stop)", types)
	}
	if len(reqs) != 3 || reqs[2].Code != codes.Duplicate || reqs[2].Transport != "stomp" || reqs[2].Description == "" || reqs[0].Description != "" {
		t.Errorf("requests seen: %+v", reqs)
	}
}

// A call played with Ring rings until AnswerCall, which connects it once.
func TestAnswerCall(t *testing.T) {
	p := NewPlatform(t, WithAgent("default", "1001", "1234", "Alice"), WithAgent("default", "1002", "1234", "Bob"))
	for _, u := range []string{"1001", "1002"} {
		mustDo(t, p, "AgentLineAdd", map[string]any{"accountcode": "default", "user": u, "lines": []any{map[string]any{"linenumber": "1"}}})
		mustDo(t, p, "AgentLogin", map[string]any{"accountcode": "default", "user": u, "interface": "SIP/default_" + u})
	}
	if err := p.Sync(ctxT(t)); err != nil { // the LOGINs are out before the listener subscribes
		t.Fatal(err)
	}
	l := listen(t, p, events.TopicPrefix+"default_1001", events.TopicPrefix+"default_1002")
	uid, err := p.InboundCall("default", "", "1001", "2100000001", Ring)
	if err != nil {
		t.Fatal(err)
	}
	l.expect(events.NewCall)
	if calls := p.Calls(); len(calls) != 1 || calls[0].Answered {
		t.Fatalf("ringing: %+v", calls)
	}
	if err := p.AnswerCall(uid); err != nil {
		t.Fatal(err)
	}
	l.expect(events.Connect)
	if err := p.AnswerCall(uid); err == nil {
		t.Error("answering twice: no error")
	}
	if err := p.EndCall(uid, string(Ring)); err == nil {
		t.Error("Hangup with RING: no error")
	}
	if err := p.EndCall(uid, events.ReasonByCaller); err != nil {
		t.Fatal(err)
	}
	l.expect(events.Hangup)

	out, err := p.OutboundCall("default", "1001", "2100000002", Ring)
	if err != nil {
		t.Fatal(err)
	}
	l.expect(events.NewCall, events.Connect, events.DNewCall)
	if err := p.AnswerCall(out); err != nil {
		t.Fatal(err)
	}
	l.expect(events.DConnect)
	// 1001's one line is free again once the outbound call ends.
	if err := p.EndCall(out, events.ReasonByCaller); err != nil {
		t.Fatal(err)
	}
	l.expect(events.Hangup)

	a, b, err := p.AgentCall("default", "1002", "1001", Ring)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, ev := range l.expect(events.NewCall, events.NewCall) {
		got[ev.UniqueID]++
	}
	if got[a] != 1 || got[b] != 1 {
		t.Fatalf("agent call NEWCALLs: %v, want %s and %s", got, a, b)
	}
	if err := p.AnswerCall(a); err != nil {
		t.Fatal(err)
	}
	l.expect(events.Connect, events.Connect)
	if err := p.AnswerCall("nope"); err == nil {
		t.Error("AnswerCall of an unknown call: no error")
	}
	l.none(p)
}

// DelayReplies holds the next reply of a method, over STOMP and SOAP; the
// request is acted on at once.
func TestDelayReplies(t *testing.T) {
	p := NewPlatform(t, WithAgent("default", "1001", "1234", "Alice"))
	c := newClient(t, p, p.Key())
	p.DelayReplies(1, time.Hour, "AgentInfo")
	c.ok("AgentList", map[string]any{"accountcode": "default"}) // another method: not held
	_, held := c.start("AgentInfo", map[string]any{"accountcode": "default", "user": "1001"})
	c.ok("AgentList", map[string]any{"accountcode": "default"}) // served after the held one
	select {
	case r := <-held:
		t.Fatalf("held reply arrived: %+v", r)
	default:
	}
	if n := len(p.Requests()); n != 3 {
		t.Errorf("%d requests recorded, want 3 (the held one acted on)", n)
	}
	c.ok("AgentInfo", map[string]any{"accountcode": "default", "user": "1001"}) // only the next one was held
	p.DelayReplies(1, time.Millisecond)
	c.ok("AgentInfo", map[string]any{"accountcode": "default", "user": "1001"}) // held briefly, then sent
	if st := p.Stats(); st.DroppedReplies != 0 {
		t.Errorf("DroppedReplies %d, want 0", st.DroppedReplies)
	}
}

func mustDo(t *testing.T, p *Platform, method string, args map[string]any) {
	t.Helper()
	if _, err := p.Do(method, args); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}
