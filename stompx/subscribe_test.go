package stompx_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/stompx"
)

func eventBody(typ, agent, uid string) []byte {
	return mustJSON(map[string]string{"type": typ, "agent": agent, "uniqueid": uid, "callerid": "5551234", "direction": "INBOUND"})
}

func recv(tb testing.TB, s *events.Subscription) events.Event {
	tb.Helper()
	select {
	case ev, ok := <-s.C():
		if !ok {
			tb.Fatalf("subscription ended: %v", s.Err())
		}
		return ev
	case <-time.After(10 * time.Second):
		tb.Fatal("no event")
	}
	return events.Event{}
}

func TestSubscribeDeliversEvents(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr)
	ctx := ctxT(t, 30*time.Second)
	topic := events.AgentTopic("default", "1001")
	sub, err := tr.Subscribe(ctx, topic, events.AllAgents, topic)
	if err != nil {
		t.Fatal(err)
	}
	// Subscribe returned: the broker has the subscription, nothing is missed.
	b.publish(t, topic, eventBody("NEWCALL", "default_1001", "u1"))
	b.publish(t, events.AllAgents, eventBody("HANGUP", "default_1002", "u2"))
	b.publish(t, topic, []byte(`{"type": "LOGIN", "agent": 1001}`), []byte(`not json`), eventBody("CONNECT", "default_1001", "u1"))
	// Each topic's events arrive in order; the two topics may interleave.
	byTopic := map[string][]events.Event{}
	for i := 0; i < 4; i++ {
		ev := recv(t, sub)
		byTopic[ev.Topic] = append(byTopic[ev.Topic], ev)
	}
	one, all := byTopic[topic], byTopic[events.AllAgents]
	if len(one) != 3 || len(all) != 1 {
		t.Fatalf("events %+v", byTopic)
	}
	if one[0].Type != events.NewCall || one[0].UniqueID != "u1" || one[1].Type != events.Login || one[2].Type != events.Connect {
		t.Fatalf("agent topic events %+v", one)
	}
	if all[0].Type != events.Hangup || all[0].UniqueID != "u2" {
		t.Fatalf("all-agents event %+v", all[0])
	}
	if sub.Malformed() != 1 {
		t.Fatalf("malformed %d", sub.Malformed())
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-sub.C(); ok {
		t.Fatal("event after Close")
	}
	if sub.Err() != nil {
		t.Fatalf("Err after Close: %v", sub.Err())
	}
	// Replies still flow; closed subscriptions are not restored or fed.
	if err := echo(ctx, tr, testKey, "after"); err != nil {
		t.Fatal(err)
	}
	st := tr.Stats()
	if st.EventsReceived != 5 || st.EventsMalformed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSubscribeWildcardRewrite(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr, stompx.WithWildcard(">"))
	ctx := ctxT(t, 30*time.Second)
	sub, err := tr.Subscribe(ctx, events.AllAgents)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	// go-stomp's server matches topics exactly: the rewritten name is the
	// one subscribed.
	b.publish(t, "/topic/iv.agents.>", eventBody("LOGIN", "default_1001", ""))
	if ev := recv(t, sub); ev.Type != events.Login || ev.Topic != "/topic/iv.agents.>" {
		t.Fatalf("%+v", ev)
	}
}

func TestSubscriptionEndsWithTransport(t *testing.T) {
	b := newTestBroker(t)
	ctx := ctxT(t, 30*time.Second)
	tr, err := stompx.Dial(ctx, b.addr)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := tr.Subscribe(ctx, events.AgentTopic("default", "1001"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-sub.C():
		if ok {
			t.Fatal("unexpected event")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscription did not end")
	}
	if !errors.Is(sub.Err(), ivclient.ErrClosed) {
		t.Fatalf("Err %v", sub.Err())
	}
	if _, err := tr.Subscribe(ctx, events.AllAgents); !errors.Is(err, ivclient.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	_ = sub.Close()
}

// A consumer that reads nothing loses events beyond its buffer, counted;
// replies on the same connection keep flowing.
func TestSlowConsumerNeverStallsReplies(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr, stompx.WithEventBuffer(4))
	ctx := ctxT(t, time.Minute)
	topic := events.AgentTopic("default", "1001")
	sub, err := tr.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	const n = 500
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = eventBody("NEWCALL", "default_1001", fmt.Sprint(i))
	}
	b.publish(t, topic, bodies...)
	for i := 0; i < 50; i++ {
		if err := echo(ctx, tr, testKey, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Every event was either buffered or dropped.
	for deadline := time.Now().Add(10 * time.Second); sub.Delivered()+sub.Dropped() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d dropped %d", sub.Delivered(), sub.Dropped())
		}
		time.Sleep(time.Millisecond)
	}
	if sub.Delivered() != 4 || sub.Dropped() != n-4 || tr.Stats().EventsDropped != n-4 {
		t.Fatalf("delivered %d dropped %d stats %+v", sub.Delivered(), sub.Dropped(), tr.Stats())
	}
	// The consumer catches up and receives new events again.
	for i := 0; i < 4; i++ {
		recv(t, sub)
	}
	b.publish(t, topic, eventBody("HANGUP", "default_1001", "last"))
	if ev := recv(t, sub); ev.UniqueID != "last" {
		t.Fatalf("%+v", ev)
	}
}

func TestBlockingEventsDeliverEverything(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr, stompx.WithEventBuffer(2), stompx.WithBlockingEvents())
	ctx := ctxT(t, time.Minute)
	topic := events.AgentTopic("default", "1001")
	sub, err := tr.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	const n = 100
	go func() {
		for i := 0; i < n; i++ {
			b.resp.enqueue(topic, eventBody("NEWCALL", "default_1001", fmt.Sprint(i)))
		}
	}()
	for i := 0; i < n; i++ {
		if ev := recv(t, sub); ev.UniqueID != fmt.Sprint(i) {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	if sub.Dropped() != 0 {
		t.Fatalf("dropped %d", sub.Dropped())
	}
}

func TestTwoOverlappingSubscriptions(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr)
	ctx := ctxT(t, 30*time.Second)
	topic := events.AgentTopic("default", "1001")
	s1, err := tr.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := tr.Subscribe(ctx, topic, events.AgentTopic("default", "1002"))
	if err != nil {
		t.Fatal(err)
	}
	b.publish(t, topic, eventBody("LOGIN", "default_1001", ""))
	if recv(t, s1).Type != events.Login || recv(t, s2).Type != events.Login {
		t.Fatal("both subscriptions should see the event")
	}
	_ = s1.Close()
	b.publish(t, topic, eventBody("LOGOUT", "default_1001", ""))
	if recv(t, s2).Type != events.Logout {
		t.Fatal("s2 should still see events")
	}
	_ = s2.Close()
}
