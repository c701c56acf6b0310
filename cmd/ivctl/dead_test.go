package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// TestDead rejects two events of a durable name on ivtest's broker, then
// lists them with ivctl dead list (the event with the platform's field
// names, the cause, the time), replays one (the consumer gets it again),
// and purges the other.
func TestDead(t *testing.T) {
	p := newPlatform(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	const name = "ivctl-dead"
	sub, err := tr.SubscribeDurable(ctx, name, []string{events.AgentTopic("default", "1001")})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	next := func() events.Event {
		t.Helper()
		select {
		case ev := <-sub.C():
			return ev
		case <-ctx.Done():
			t.Fatal("no event")
			return events.Event{}
		}
	}
	for _, uid := range []string{"u1", "u2"} {
		if err := p.PublishEvent(events.Event{Type: events.NewCall, Direction: "INBOUND", CallerID: "2100", UniqueID: uid, Agent: "default_1001"}); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now()
	for i := 0; i < 2; i++ {
		ev := next()
		if err := sub.Reject(ev, errors.New("the store refused "+ev.UniqueID)); err != nil {
			t.Fatal(err)
		}
	}
	flags := []string{"-stomp", p.STOMPAddr()}
	dead := func(args ...string) result {
		return ivctl(t, nil, append(append(append([]string{}, flags...), "dead"), args...)...)
	}

	type line struct {
		Event map[string]string `json:"event"`
		Cause string            `json:"cause"`
		At    time.Time         `json:"at"`
	}
	list := func() []line {
		t.Helper()
		r := dead("list", name).want(t, 0)
		var out []line
		for _, s := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if s == "" {
				continue
			}
			var l line
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				t.Fatalf("dead list printed %q: %v", s, err)
			}
			out = append(out, l)
		}
		return out
	}
	ls := list()
	if len(ls) != 2 {
		t.Fatalf("dead list: %d lines, want 2: %+v", len(ls), ls)
	}
	for i, l := range ls {
		uid := []string{"u1", "u2"}[i]
		if l.Event["uniqueid"] != uid || l.Event["type"] != "NEWCALL" || l.Event["agent"] != "default_1001" || l.Event["callerid"] != "2100" {
			t.Errorf("dead letter %d: event %v, want NEWCALL %s of default_1001 (oldest first, the platform's field names)", i, l.Event, uid)
		}
		if l.Cause != "the store refused "+uid {
			t.Errorf("dead letter %d: cause %q", i, l.Cause)
		}
		if l.At.Before(before.Add(-time.Second)) || l.At.After(time.Now().Add(time.Second)) {
			t.Errorf("dead letter %d: at %v, not when it was rejected", i, l.At)
		}
	}

	r := dead("replay", "-n", "1", name).want(t, 0)
	if strings.TrimSpace(r.stdout) != `{"replayed":1}` {
		t.Errorf("dead replay -n 1 printed %q", r.stdout)
	}
	if ev := next(); ev.UniqueID != "u1" {
		t.Errorf("after the replay the consumer got %s, want u1", ev.UniqueID)
	} else if err := sub.Ack(ev); err != nil {
		t.Fatal(err)
	}
	if ls := list(); len(ls) != 1 || ls[0].Event["uniqueid"] != "u2" {
		t.Errorf("after the replay dead list shows %+v, want u2 alone", ls)
	}
	r = dead("purge", name).want(t, 0)
	if strings.TrimSpace(r.stdout) != `{"purged":1}` {
		t.Errorf("dead purge printed %q", r.stdout)
	}
	if ls := list(); len(ls) != 0 {
		t.Errorf("after the purge dead list shows %+v", ls)
	}
	if err := tr.DeleteDurable(ctx, name); err != nil {
		t.Fatal(err)
	}
}

// TestDeadUsage: a wrong dead command is a usage error (exit 2), with
// nothing sent.
func TestDeadUsage(t *testing.T) {
	stomp := []string{"-stomp", "127.0.0.1:1"} // nothing listens: a usage error must come first
	for _, args := range [][]string{
		{"dead"},
		{"dead", "frob", "x"},
		{"dead", "list"},
		{"dead", "list", "a", "b"},
		{"dead", "list", "-n", "0", "x"},
		{"dead", "replay", "-n", "-1", "x"},
		{"dead", "purge", "-n", "3", "x"},
	} {
		r := ivctl(t, nil, append(append([]string{}, stomp...), args...)...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "ivctl") && !strings.Contains(r.stderr, "Usage") {
			t.Errorf("ivctl %q: exit %d, stderr %q; want a usage error (2)", args, r.code, r.stderr)
		}
	}
	r := ivctl(t, nil, "-soap", "http://127.0.0.1:1/", "dead", "list", "x")
	if r.code != 2 || !strings.Contains(r.stderr, "-stomp") {
		t.Errorf("dead over -soap: exit %d, stderr %q; want a usage error naming -stomp", r.code, r.stderr)
	}
	ivctl(t, nil, "dead", "-h").want(t, 0)
}

// deadPut puts n events in name's dead letters, as a consumer's Reject
// would, without making name's queue.
func deadPut(t *testing.T, addr, name string, n int) {
	t.Helper()
	c, err := gostomp.Dial("tcp", addr, gostomp.ConnOpt.Login(stompx.DefaultLogin, stompx.DefaultPasscode))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	for i := 0; i < n; i++ {
		body := fmt.Appendf(nil, `{"type":"NEWCALL","uniqueid":"u%d","agent":"default_1001"}`, i)
		if err := c.Send("/queue/iv.dead."+name, "", body, gostomp.SendOpt.Receipt, gostomp.SendOpt.Header("x-iv-cause", "refused")); err != nil {
			t.Fatal(err)
		}
	}
}

// An operator's dead commands on a name whose queue is gone: replay moves
// nothing and says what to do (exit 1); list says when more letters wait
// than it printed; -n past the broker's limit is a usage error.
func TestDeadOperatorMessages(t *testing.T) {
	p := newPlatform(t)
	const name = "ivctl-dead-gone"
	deadPut(t, p.STOMPAddr(), name, 3)
	dead := func(args ...string) result {
		return ivctl(t, nil, append([]string{"-stomp", p.STOMPAddr(), "dead"}, args...)...)
	}
	r := dead("replay", name)
	if r.code != 1 || strings.TrimSpace(r.stdout) != `{"replayed":0}` ||
		!strings.Contains(r.stderr, "durable queue not found: iv.events."+name+" does not exist") ||
		!strings.Contains(r.stderr, "start a consumer of "+name+", which makes the queue, then run ivctl dead replay again") {
		t.Errorf("replay to a missing queue: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = dead("list", "-n", "2", name).want(t, 0)
	if n := strings.Count(r.stdout, "\n"); n != 2 || !strings.Contains(r.stderr, "listed the oldest 2 dead letters of "+name+"; more wait") {
		t.Errorf("list -n 2 of 3: %d lines, stderr %q", n, r.stderr)
	}
	r = dead("list", "-n", "3", name).want(t, 0)
	if n := strings.Count(r.stdout, "\n"); n != 3 || r.stderr != "" {
		t.Errorf("list -n 3 of 3: %d lines, stderr %q", n, r.stderr)
	}
	r = ivctl(t, nil, "-stomp", "127.0.0.1:1", "dead", "list", "-n", "70000", name)
	if r.code != 2 || !strings.Contains(r.stderr, "-n must be at most 65533") {
		t.Errorf("list -n 70000: exit %d, stderr %q", r.code, r.stderr)
	}
	r = dead("purge", name).want(t, 0)
	if strings.TrimSpace(r.stdout) != `{"purged":3}` {
		t.Errorf("purge printed %q", r.stdout)
	}
}
