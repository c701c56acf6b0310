package ivtest

// The platform on its embedded broker (internal/fakebroker), and on an
// external one, spoken to frame by frame.

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/stomptest"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/fakebroker"
	"github.com/instantvoice/instantvoice-go/stompx"
)

func newTestSlog(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startBroker runs a bare embedded broker on loopback.
func startBroker(t *testing.T) *fakebroker.Broker {
	t.Helper()
	b := fakebroker.New(testLogger(), stompx.DefaultLogin, stompx.DefaultPasscode)
	if err := b.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func TestExternalBroker(t *testing.T) {
	b := startBroker(t)
	// Two platforms on one broker, each with its own request queue.
	p1 := NewPlatform(t, WithExternalBroker(b.Addr(), stompx.DefaultLogin, stompx.DefaultPasscode), WithRequestQueue("/queue/one"),
		WithKey("keyone"), WithAgent("default", "1001", "", ""))
	p2 := NewPlatform(t, WithExternalBroker(b.Addr(), stompx.DefaultLogin, stompx.DefaultPasscode), WithRequestQueue("/queue/two"), WithKey("keytwo"))
	if p1.STOMPAddr() != b.Addr() {
		t.Fatalf("STOMPAddr = %s", p1.STOMPAddr())
	}
	conn := stomptest.Client(t, b.Addr())
	sub, err := conn.Subscribe(replyPrefix+"keyone", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	all, err := conn.Subscribe(events.AllAgents, stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	agent, err := conn.Subscribe(events.AgentTopic("default", "1001"), stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Send(probeTopic, "", nil, stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	send := stomptest.Client(t, b.Addr())
	body := `["AgentLogin", "keyone", {"Accountcode": "default", "User": "1001", "Interface": "SIP/1"}, "r1"]`
	if err := send.Send("/queue/one", "", []byte(body)); err != nil {
		t.Fatal(err)
	}
	// The event (on the agent's topic only), then the reply.
	select {
	case m := <-agent.C:
		if ev, _ := events.Decode(m.Body); ev.Type != events.Login {
			t.Fatalf("event %s", m.Body)
		}
	case <-time.After(waitFor):
		t.Fatal("no event")
	}
	select {
	case m := <-sub.C:
		if string(m.Body) != `[0,"Successful AgentLogin","r1"]` {
			t.Fatalf("reply %s", m.Body)
		}
	case <-time.After(waitFor):
		t.Fatal("no reply")
	}
	if err := p1.Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-all.C:
		t.Fatalf("an external broker routes wildcards itself, yet the platform published %s to %s", m.Body, m.Destination)
	case <-time.After(50 * time.Millisecond):
	}
	if s := p2.Stats(); s.Requests != 0 {
		t.Fatalf("the other platform served %d requests", s.Requests)
	}
	conn.MustDisconnect()
	for range sub.C {
	}
	for range all.C {
	}
	for range agent.C {
	}
}

func TestReconnect(t *testing.T) {
	b := fakebroker.New(testLogger(), stompx.DefaultLogin, stompx.DefaultPasscode)
	if err := b.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	p := NewPlatform(t, WithExternalBroker(addr, stompx.DefaultLogin, stompx.DefaultPasscode))
	if _, err := Start(WithExternalBroker("127.0.0.1:1", stompx.DefaultLogin, stompx.DefaultPasscode)); err == nil {
		t.Fatal("Start with no broker succeeded")
	}

	// The broker restarts on the same address.
	b.Close()
	var b2 *fakebroker.Broker
	deadline := time.Now().Add(waitFor)
	for {
		b2 = fakebroker.New(testLogger(), stompx.DefaultLogin, stompx.DefaultPasscode)
		if err := b2.Listen(addr); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(b2.Close)
	for p.Stats().Reconnects == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no reconnect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Once the processor has resubscribed (a Sync returns after the new
	// session is up), requests are served again.
	for {
		ctx := ctxT(t)
		if err := p.Sync(ctx); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	c := newClient(t, p, p.Key())
	c.ok("QueueList", A{"accountcode": "default"})
	p.Close() // before b2 closes
}

// The life of a durable queue, with the platform publishing events as it
// does: to the agent's topic and to the literal wildcard topic.
func TestDurableQueue(t *testing.T) {
	p := NewPlatform(t, WithAgent("default", "1001", "", ""), WithAgent("default", "1002", "", ""))
	q := "iv.events.t" + stomptest.RandomName()
	w1, session := stomptest.Connect(t, p.STOMPAddr())
	w1.Subscribe(stomptest.DurableSub("s1", events.AllAgents, q))
	// The same name through another topic binds that topic too; the
	// queue gets each event once although both bindings match.
	w1.Subscribe(stomptest.DurableSub("s2", events.AgentTopic("default", "1001"), q))
	publish := func(agent, uid string) {
		t.Helper()
		if err := p.PublishEvent(events.Event{Type: events.NewCall, Agent: agent, UniqueID: uid}); err != nil {
			t.Fatal(err)
		}
	}
	publish("default_1001", "u1")
	seen := map[string]bool{}
	var first *frame.Frame
	for i := 0; i < 1; i++ {
		m := w1.Message()
		first = m
		ev, err := events.Decode(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		seen[ev.UniqueID] = true
		// RabbitMQ's headers: the concrete topic, session-scoped ids.
		sub := m.Header.Get(frame.Subscription)
		want := "T_" + sub + "@@" + session + "@@1"
		if m.Header.Get(frame.Destination) != "/topic/iv.agents.default_1001" || m.Header.Get(frame.MessageId) != want ||
			m.Header.Get(frame.Ack) != want || m.Header.Get("redelivered") != "false" || (sub != "s1" && sub != "s2") {
			t.Fatalf("MESSAGE headers %v", m.Header)
		}
	}
	w1.None(w1)
	info, ok := p.BrokerQueue(q)
	if !ok || !info.Durable || info.Consumers != 2 || info.Unacked != 1 || info.Ready != 0 ||
		strings.Join(info.Bindings, " ") != "/topic/iv.agents.# /topic/iv.agents.default_1001" {
		t.Fatalf("BrokerQueue %+v %v", info, ok)
	}
	w1.Ack(frame.ACK, first, frame.Receipt, "a1")
	if f := w1.Read(false); f.Command != frame.RECEIPT {
		t.Fatalf("ACK: %s %q", f.Command, f.Body)
	}

	// Every consumer gone: events wait, bindings stay.
	w1.Write(frame.New(frame.DISCONNECT, frame.Receipt, "bye"))
	w1.Read(false)
	publish("default_1002", "u2") // through the wildcard binding only
	publish("default_1001", "u3")
	publish("default_1001", "u4")
	if err := p.Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if info, _ := p.BrokerQueue(q); info.Ready != 3 || info.Consumers != 0 || len(info.Bindings) != 2 {
		t.Fatalf("while nobody consumes: %+v", info)
	}

	// Two workers split them, within their prefetch.
	w2, _ := stomptest.Connect(t, p.STOMPAddr())
	w2.Subscribe(stomptest.DurableSub("a", events.AllAgents, q, "prefetch-count", "1"))
	m2 := w2.Message()
	w3, _ := stomptest.Connect(t, p.STOMPAddr())
	w3.Subscribe(stomptest.DurableSub("b", events.AllAgents, q, "prefetch-count", "1"))
	m3 := w3.Message()
	w2.None(w3)
	if info, _ := p.BrokerQueue(q); info.Ready != 1 || info.Unacked != 2 {
		t.Fatalf("prefetch 1 each: %+v", info)
	}
	// w3 dies without acking: its event goes to w2 once w2 has room,
	// redelivered, with a new id.
	w3.NC.Close()
	for deadline := time.Now().Add(waitFor); ; time.Sleep(time.Millisecond) {
		if info, _ := p.BrokerQueue(q); info.Consumers == 1 && info.Ready == 2 {
			break // the broker took the unacked event back
		} else if time.Now().After(deadline) {
			t.Fatalf("after w3 closed: %+v", info)
		}
	}
	w2.Ack(frame.ACK, m2)
	m4 := w2.Message() // back at the head of the queue
	if m4.Header.Get("redelivered") != "true" || string(m4.Body) != string(m3.Body) || m4.Header.Get(frame.MessageId) == m3.Header.Get(frame.MessageId) {
		t.Fatalf("redelivery %v %q, first delivered as %v %q", m4.Header, m4.Body, m3.Header, m3.Body)
	}
	w2.Ack(frame.ACK, m4)
	m5 := w2.Message()
	for _, m := range []*frame.Frame{m2, m4, m5} {
		ev, _ := events.Decode(m.Body)
		seen[ev.UniqueID] = true
	}
	if len(seen) != 4 {
		t.Fatalf("events seen %v", seen)
	}
	// NACK requeues at once, redelivered; requeue:false drops.
	w2.Ack(frame.NACK, m5)
	m6 := w2.Message()
	if m6.Header.Get("redelivered") != "true" || string(m6.Body) != string(m5.Body) {
		t.Fatalf("after NACK: %v %q", m6.Header, m6.Body)
	}
	w2.Ack(frame.NACK, m6, "requeue", "false", frame.Receipt, "n")
	w2.Read(false)
	if info, _ := p.BrokerQueue(q); info.Ready != 0 || info.Unacked != 0 {
		t.Fatalf("after NACK requeue:false: %+v", info)
	}

	// Deleting the queue cancels the other consumers, whose connections
	// stay open.
	w4, _ := stomptest.Connect(t, p.STOMPAddr())
	w4.Subscribe(stomptest.DurableSub("d", events.AllAgents, q))
	w4.Write(frame.New(frame.UNSUBSCRIBE, frame.Id, "d", "durable", "true", "x-queue-name", q, frame.Receipt, "del"))
	if f := w4.Read(false); f.Command != frame.RECEIPT {
		t.Fatalf("delete: %s %q", f.Command, f.Body)
	}
	f := w2.Read(false)
	if f.Command != frame.ERROR || f.Header.Get(frame.Message) != "Server cancelled subscription" || f.Header.Get(frame.Subscription) != "a" ||
		string(f.Body) != "The server has canceled a subscription.\nNo more messages will be delivered for \"id='a'\".\n" {
		t.Fatalf("cancelled consumer got %s %v %q", f.Command, f.Header, f.Body)
	}
	w2.None(w4)
	if _, ok := p.BrokerQueue(q); ok {
		t.Fatal("the queue outlived its deletion")
	}
	publish("default_1001", "u5")
	w2.None(w4)
	// Deleting through a subscription this connection does not hold.
	w4.Write(frame.New(frame.UNSUBSCRIBE, frame.Id, "nope", "durable", "true", "x-queue-name", q))
	if f := w4.Read(false); f.Command != frame.ERROR || f.Header.Get(frame.Message) != "No subscription found" ||
		string(f.Body) != "UNSUBSCRIBE must refer to an existing subscription.\nSubscription to \"id='nope'\" not found.\n" {
		t.Fatalf("%s %v %q", f.Command, f.Header, f.Body)
	}
}

// A request sent with an expiration while the platform's consumer is down
// is never executed; one that is still in time is.
func TestRequestExpiry(t *testing.T) {
	p := NewPlatform(t, WithKey("expkey"), WithAgent("default", "1001", "", ""))
	clock := brokerClock(p.p.Broker())
	replies := stomptest.Client(t, p.STOMPAddr())
	sub, err := replies.Subscribe(replyPrefix+"expkey", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	if err := replies.Send(probeTopic, "", nil, stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err) // the subscription is in place
	}
	send := stomptest.Client(t, p.STOMPAddr())
	if err := p.PauseRequests(); err != nil {
		t.Fatal(err)
	}
	req := func(id string) []byte {
		return []byte(`["AgentLogin", "expkey", {"Accountcode": "default", "User": "1001", "Interface": "SIP/1"}, "` + id + `"]`)
	}
	if err := send.Send(stompx.DefaultRequestQueue, "", req("late"), stomp.SendOpt.Header("expiration", "1000")); err != nil {
		t.Fatal(err)
	}
	if err := send.Send(stompx.DefaultRequestQueue, "", req("timely"), stomp.SendOpt.Header("expiration", "60000"),
		stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	if info, _ := p.BrokerQueue("config"); info.Ready != 2 {
		t.Fatalf("while paused: %+v", info)
	}
	clock.Advance(5 * time.Second)
	if err := p.ResumeRequests(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.C:
		if string(m.Body) != `[0,"Successful AgentLogin","timely"]` {
			t.Fatalf("reply %s", m.Body)
		}
	case <-time.After(waitFor):
		t.Fatal("no reply")
	}
	if err := p.Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	reqs := p.Requests()
	if len(reqs) != 1 || reqs[0].ID != "timely" {
		t.Fatalf("executed %+v", reqs)
	}
	if info, _ := p.BrokerQueue("config"); info.Expired != 1 {
		t.Fatalf("%+v", info)
	}
	// The test can fail: without expiry, a paused request is executed.
	if err := p.PauseRequests(); err != nil {
		t.Fatal(err)
	}
	if err := send.Send(stompx.DefaultRequestQueue, "", req("kept"), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if err := p.ResumeRequests(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.C:
		if !strings.Contains(string(m.Body), `"kept"`) {
			t.Fatalf("reply %s", m.Body)
		}
	case <-time.After(waitFor):
		t.Fatal("no reply")
	}
	ext := NewPlatform(t, WithExternalBroker(p.STOMPAddr(), stompx.DefaultLogin, stompx.DefaultPasscode), WithRequestQueue("/queue/x"+stomptest.RandomName()))
	if err := ext.PauseRequests(); err == nil {
		t.Fatal("PauseRequests with an external broker succeeded")
	}
	replies.MustDisconnect()
	for range sub.C {
	}
}

// The ack mode changes how a plain subscription's messages are settled,
// never which arrive, nor their destination: an auto-ack and a client-ack
// subscription to the same topics get the same messages.
func TestPlainAckModeSameMessages(t *testing.T) {
	p := NewPlatform(t)
	auto, _ := stomptest.Connect(t, p.STOMPAddr())
	client, _ := stomptest.Connect(t, p.STOMPAddr())
	topics := []string{events.AllAgents, "/topic/iv.agents.*", events.AgentTopic("default", "1001")}
	for i, tp := range topics {
		id := fmt.Sprint(i)
		auto.Subscribe(frame.New(frame.SUBSCRIBE, frame.Id, id, frame.Destination, tp, frame.Receipt, "r"+id))
		client.Subscribe(frame.New(frame.SUBSCRIBE, frame.Id, id, frame.Destination, tp, frame.Ack, frame.AckClientIndividual, frame.Receipt, "r"+id))
	}
	if err := p.PublishEvent(events.Event{Type: events.Login, Agent: "default_1001"}); err != nil {
		t.Fatal(err)
	}
	// got reads n messages, then proves by a receipt that no more came.
	got := func(c *stomptest.Conn, n int) []string {
		var out []string
		for len(out) < n {
			m := c.Message()
			out = append(out, m.Header.Get(frame.Subscription)+" "+m.Header.Get(frame.Destination)+" "+string(m.Body))
		}
		c.Write(frame.New(frame.SEND, frame.Destination, "/topic/ivtest.sync", frame.Receipt, "end"))
		if f := c.Read(false); f.Command != frame.RECEIPT {
			t.Fatalf("after %d messages: %s %v %q", n, f.Command, f.Header, f.Body)
		}
		slices.Sort(out)
		return out
	}
	a, c := got(auto, 2), got(client, 2) // AllAgents' copy and the agent topic's
	if len(a) == 0 || strings.Join(a, "\n") != strings.Join(c, "\n") {
		t.Fatalf("auto-ack got\n%s\nclient-ack got\n%s", strings.Join(a, "\n"), strings.Join(c, "\n"))
	}
}

// brokerClock gives b a clock the test moves by hand.
func brokerClock(b *fakebroker.Broker) *stomptest.Clock {
	c := stomptest.NewClock()
	b.SetClock(c.Now)
	return c
}
