package fakebroker

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/stomptest"

	"github.com/go-stomp/stomp/v3/frame"
)

func TestTopicMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, key string
		want         bool
	}{
		{"iv.agents.#", "iv.agents.default_1001", true},
		{"iv.agents.#", "iv.agents", true}, // '#' matches zero words
		{"iv.agents.#", "iv.agents.a.b", true},
		{"iv.agents.#", "iv.agentsx", false},
		{"iv.agents.*", "iv.agents.default_1001", true},
		{"iv.agents.*", "iv.agents", false},
		{"iv.agents.*", "iv.agents.a.b", false},
		{"#", "anything.at.all", true},
		{"*.agents.#", "iv.agents.x", true},
		{"iv.#.x", "iv.x", true},
		{"iv.#.x", "iv.a.b.x", true},
		{"iv.#.x", "iv.a.b.y", false},
		{"iv.agents.default_1001", "iv.agents.default_1001", true},
		{"iv.agents.default_1001", "iv.agents.default_1002", false},
		{"#.#", "", true},
		{"#.#.a", "a", true},
		{"*.#.*", "a", false},
		{"*.#.*", "a.b", true},
		{"a.#.b.#.c", "a.x.b.y.z.c", true},
		{"a.#.b.#.c", "a.x.c.y.b", false},
		{"", "", true},
		// A pattern a partner's test could send: instant, not exponential.
		{strings.Repeat("#.a.", 30) + "b", strings.TrimSuffix(strings.Repeat("a.", 60), "."), false},
	} {
		if got := topicMatch(tc.pattern, tc.key); got != tc.want {
			t.Errorf("topicMatch(%q, %q) = %v", tc.pattern, tc.key, got)
		}
	}
}

// ACKs and NACKs RabbitMQ cannot take: an unknown delivery tag is fatal,
// a malformed id is not.
func TestDurableBadAck(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	pub, _ := stomptest.Connect(t, b.addr())
	for _, tc := range []struct {
		name  string
		ack   func(c *stomptest.Conn, m *frame.Frame)
		fatal bool // RECEIPT, ERROR, close; else an ERROR only
		msg   string
		body  string
		acked bool // the message was settled before the mistake
	}{
		{"twice", func(c *stomptest.Conn, m *frame.Frame) {
			c.Ack(frame.ACK, m, frame.Receipt, "first")
			if f := c.Read(false); f.Command != frame.RECEIPT {
				t.Fatalf("first ACK: %s", f.Command)
			}
			c.Ack(frame.ACK, m, frame.Receipt, "second")
		}, true, "precondition_failed", "PRECONDITION_FAILED - unknown delivery tag 1", true},
		{"other session", func(c *stomptest.Conn, m *frame.Frame) {
			// Only the tag counts: 99 was never delivered here.
			c.Write(frame.New(frame.ACK, frame.Id, "T_s@@session-old@@99", frame.Receipt, "r"))
		}, true, "precondition_failed", "PRECONDITION_FAILED - unknown delivery tag 99", false},
		{"nack unknown", func(c *stomptest.Conn, m *frame.Frame) {
			c.Write(frame.New(frame.NACK, frame.Id, "T_s@@session-old@@7", frame.Receipt, "r"))
		}, true, "precondition_failed", "PRECONDITION_FAILED - unknown delivery tag 7", false},
		{"no id", func(c *stomptest.Conn, m *frame.Frame) {
			c.Write(frame.New(frame.ACK, frame.Receipt, "r"))
		}, false, "Missing header", "\"ACK\" must include the \"id\" header\n", false},
		{"invalid id", func(c *stomptest.Conn, m *frame.Frame) {
			c.Write(frame.New(frame.NACK, frame.Id, "1", frame.Receipt, "r"))
		}, false, "Invalid header", "\"NACK\" must include a valid \"id\" header\n", false},
		{"no subscription", func(c *stomptest.Conn, m *frame.Frame) {
			c.Write(frame.New(frame.ACK, frame.Id, "T_nosub@@session-x@@1", frame.Receipt, "r"))
		}, false, "Subscription not found", `Message with id "T_nosub@@session-x@@1" has no subscription`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := "t" + stomptest.RandomName()
			c, _ := stomptest.Connect(t, b.addr())
			c.Subscribe(stomptest.DurableSub("s", "/topic/"+q+".#", q))
			pub.Send("/topic/"+q+".ev", "m")
			m := c.Message()
			tc.ack(c, m)
			if tc.fatal {
				if f := c.Read(false); f.Command != frame.RECEIPT {
					t.Fatalf("before the ERROR: %s %v", f.Command, f.Header)
				}
			}
			c.ExpectError(tc.msg, tc.body)
			if !tc.fatal {
				// Still open, and the message can still be settled.
				c.Ack(frame.ACK, m, frame.Receipt, "ok")
				if f := c.Read(false); f.Command != frame.RECEIPT {
					t.Fatalf("after a harmless ERROR: %s %v %q", f.Command, f.Header, f.Body)
				}
				return
			}
			c.Closed()
			// The queue outlives its consumer's mistake; what was not
			// settled is delivered again.
			again, _ := stomptest.Connect(t, b.addr())
			again.Subscribe(stomptest.DurableSub("s", "/topic/"+q+".#", q))
			if !tc.acked {
				if m := again.Message(); m.Header.Get("redelivered") != "true" {
					t.Fatalf("%v", m.Header)
				}
			}
			again.None(pub)
		})
	}
}

// Queue arguments that differ from the existing queue's fail as on
// RabbitMQ, with its exact text: the ERROR, the RECEIPT, the close.
func TestDurableArgsMismatch(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	q := "t" + stomptest.RandomName()
	owner, _ := stomptest.Connect(t, b.addr())
	owner.Subscribe(stomptest.DurableSub("s", "/topic/"+q, q, "x-max-length", "5"))
	pre := "PRECONDITION_FAILED - inequivalent arg "
	where := " for queue '" + q + "' in vhost '/': "
	for _, tc := range []struct {
		name string
		f    *frame.Frame
		body string
	}{
		{"other value", stomptest.DurableSub("x", "/topic/"+q, q, "x-max-length", "6"),
			pre + "'x-max-length'" + where + "received '6' but current is '5'"},
		{"left out", stomptest.DurableSub("x", "/topic/"+q, q),
			pre + "'x-max-length'" + where + "received none but current is the value '5' of type 'long'"},
		{"quorum", stomptest.DurableSub("x", "/topic/"+q, q, "x-max-length", "5", "x-queue-type", "quorum"),
			pre + "'x-queue-type'" + where + "received the value 'quorum' of type 'longstr' but current is none"},
		{"not durable", frame.New(frame.SUBSCRIBE, frame.Id, "x", frame.Destination, "/topic/"+q, "x-queue-name", q,
			"auto-delete", "false", "x-max-length", "5", frame.Receipt, "r-x"),
			pre + "'durable'" + where + "received 'false' but current is 'true'"},
		{"auto-delete", stomptest.DurableSub("x", "/topic/"+q, q, "x-max-length", "5", "auto-delete", "true"),
			pre + "'auto_delete'" + where + "received 'true' but current is 'false'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := stomptest.Connect(t, b.addr())
			c.Write(tc.f)
			c.ExpectError("precondition_failed", tc.body)
			if f := c.Read(false); f.Command != frame.RECEIPT || f.Header.Get(frame.ReceiptId) != "r-x" {
				t.Fatalf("after the ERROR: %s %v", f.Command, f.Header)
			}
			c.Closed()
		})
	}
	// The owner is undisturbed, and the same arguments join the queue
	// (x-queue-type classic is the default, the same as none).
	c, _ := stomptest.Connect(t, b.addr())
	c.Subscribe(stomptest.DurableSub("y", "/topic/"+q, q, "x-max-length", "5", "x-queue-type", "classic"))
	c.Send("/topic/"+q, "m1")
	c.Send("/topic/"+q, "m2")
	owner.Message()
	c.Message()
}

// x-max-length drops the head, x-message-ttl and expiration expire
// waiting messages, x-expires deletes an unused queue.
func TestDurableQueueBounds(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	clock := brokerClock(b)
	pub, _ := stomptest.Connect(t, b.addr())
	sync := func() {
		t.Helper()
		pub.Send("/topic/ivtest.sync", "", frame.Receipt, "s")
		pub.Read(false)
	}

	t.Run("max-length", func(t *testing.T) {
		q := "t" + stomptest.RandomName()
		c, _ := stomptest.Connect(t, b.addr())
		c.Subscribe(stomptest.DurableSub("s", "/topic/"+q, q, "x-max-length", "5"))
		c.Write(frame.New(frame.UNSUBSCRIBE, frame.Id, "s", frame.Receipt, "u"))
		c.Read(false)
		for i := 0; i < 10; i++ {
			pub.Send("/topic/"+q, fmt.Sprint("m", i))
		}
		sync()
		if info, _ := b.queueInfo(q); info.Ready != 5 || info.Dropped != 5 {
			t.Fatalf("%+v", info)
		}
		c.Subscribe(stomptest.DurableSub("s2", "/topic/"+q, q, "x-max-length", "5"))
		for i := 5; i < 10; i++ {
			if m := c.Message(); string(m.Body) != fmt.Sprint("m", i) {
				t.Fatalf("got %q, want m%d", m.Body, i)
			}
		}
	})

	t.Run("ttl", func(t *testing.T) {
		q := "t" + stomptest.RandomName()
		c, _ := stomptest.Connect(t, b.addr())
		c.Subscribe(stomptest.DurableSub("s", "/topic/"+q, q, "x-message-ttl", "1000"))
		c.Write(frame.New(frame.UNSUBSCRIBE, frame.Id, "s", frame.Receipt, "u"))
		c.Read(false)
		pub.Send("/topic/"+q, "old")
		sync()
		clock.Advance(600 * time.Millisecond)
		pub.Send("/topic/"+q, "new")
		pub.Send("/topic/"+q, "short", "expiration", "100") // sooner than the queue's TTL
		sync()
		clock.Advance(600 * time.Millisecond)
		if info, _ := b.queueInfo(q); info.Ready != 1 || info.Expired != 2 {
			t.Fatalf("%+v", info)
		}
		c.Subscribe(stomptest.DurableSub("s2", "/topic/"+q, q, "x-message-ttl", "1000"))
		if m := c.Message(); string(m.Body) != "new" {
			t.Fatalf("got %q", m.Body)
		}
		c.None(pub)
	})

	t.Run("expires", func(t *testing.T) {
		q := "t" + stomptest.RandomName()
		c, _ := stomptest.Connect(t, b.addr())
		c.Subscribe(stomptest.DurableSub("s", "/topic/"+q, q, "x-expires", "2000"))
		clock.Advance(time.Hour) // kept while a consumer is attached
		if _, ok := b.queueInfo(q); !ok {
			t.Fatal("deleted while consumed")
		}
		c.Write(frame.New(frame.DISCONNECT, frame.Receipt, "bye"))
		c.Read(false)
		pub.Send("/topic/"+q, "kept a while")
		sync()
		clock.Advance(1999 * time.Millisecond)
		if info, ok := b.queueInfo(q); !ok || info.Ready != 1 {
			t.Fatalf("%+v %v", info, ok)
		}
		clock.Advance(time.Millisecond)
		if _, ok := b.queueInfo(q); ok {
			t.Fatal("not deleted after x-expires")
		}
		// A new subscription makes a new, empty queue.
		c2, _ := stomptest.Connect(t, b.addr())
		c2.Subscribe(stomptest.DurableSub("s", "/topic/"+q, q, "x-expires", "2000"))
		c2.None(pub)
	})

	t.Run("backlog cap", func(t *testing.T) {
		b.mu.Lock()
		b.maxBacklog = 3
		b.mu.Unlock()
		defer func() {
			b.mu.Lock()
			b.maxBacklog = MaxQueueBacklog
			b.mu.Unlock()
		}()
		q := "t" + stomptest.RandomName()
		c, _ := stomptest.Connect(t, b.addr())
		c.Subscribe(stomptest.DurableSub("s", "/topic/"+q, q))
		c.Write(frame.New(frame.UNSUBSCRIBE, frame.Id, "s", frame.Receipt, "u"))
		c.Read(false)
		for i := 0; i < 5; i++ {
			pub.Send("/topic/"+q, fmt.Sprint("m", i))
		}
		sync()
		if info, _ := b.queueInfo(q); info.Ready != 3 || info.Dropped != 2 || b.overflows.Load() != 2 {
			t.Fatalf("%+v, overflows %d", info, b.overflows.Load())
		}
		// Unacknowledged deliveries count too: a consumer that never acks
		// cannot make the queue grow past the cap.
		c.Subscribe(stomptest.DurableSub("s2", "/topic/"+q, q))
		for i := 2; i < 5; i++ {
			if m := c.Message(); string(m.Body) != fmt.Sprint("m", i) {
				t.Fatalf("got %q", m.Body)
			}
		}
		pub.Send("/topic/"+q, "over")
		sync()
		if info, _ := b.queueInfo(q); info.Ready != 0 || info.Unacked != 3 || info.Dropped != 3 {
			t.Fatalf("%+v", info)
		}
		c.None(pub)
	})
}

// Prefetch bounds what a consumer holds unacked; ack:client acknowledges
// every earlier delivery; quorum queues count deliveries.
func TestDurablePrefetchAndAckModes(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	pub, _ := stomptest.Connect(t, b.addr())
	q := "t" + stomptest.RandomName()
	c, _ := stomptest.Connect(t, b.addr())
	c.Subscribe(stomptest.DurableSub("s", "/topic/"+q, q, "prefetch-count", "3", frame.Ack, frame.AckClient, "x-queue-type", "quorum"))
	for i := 0; i < 10; i++ {
		pub.Send("/topic/"+q, fmt.Sprint("m", i))
	}
	var got []*frame.Frame
	for i := 0; i < 3; i++ {
		got = append(got, c.Message())
	}
	c.None(pub)
	// A cumulative ACK (ack:client) of the third settles all three:
	// three more come.
	c.Ack(frame.ACK, got[2])
	for i := 3; i < 6; i++ {
		if m := c.Message(); string(m.Body) != fmt.Sprint("m", i) {
			t.Fatalf("got %q", m.Body)
		} else {
			got = append(got, m)
		}
	}
	if info, _ := b.queueInfo(q); info.Unacked != 3 || info.Ready != 4 {
		t.Fatalf("%+v", info)
	}
	// NACK, client mode: m3 only (it is the first). A quorum queue puts it
	// at the tail (measured on RabbitMQ 3.10), so m6 comes first.
	c.Ack(frame.NACK, got[3], "requeue", "true")
	m := c.Message()
	if string(m.Body) != "m6" {
		t.Fatalf("after NACK of m3: %v %q, want m6", m.Header, m.Body)
	}
	c.Ack(frame.ACK, m) // m4, m5, m6: m7, m8, m9 come
	for i := 7; i < 10; i++ {
		if m = c.Message(); string(m.Body) != fmt.Sprint("m", i) {
			t.Fatalf("got %q, want m%d", m.Body, i)
		}
	}
	c.Ack(frame.ACK, m)
	if m = c.Message(); string(m.Body) != "m3" || m.Header.Get("redelivered") != "true" || m.Header.Get("x-delivery-count") != "1" {
		t.Fatalf("%v %q", m.Header, m.Body)
	}
	// Without prefetch-count everything comes at once.
	q2 := "t" + stomptest.RandomName()
	all, _ := stomptest.Connect(t, b.addr())
	all.Subscribe(stomptest.DurableSub("s", "/topic/"+q2, q2))
	for i := 0; i < 50; i++ {
		pub.Send("/topic/"+q2, "x")
	}
	for i := 0; i < 50; i++ {
		all.Message()
	}
}

// A plain topic subscription with client acks is a queue of its own, as on
// RabbitMQ 3.10 (measured on 3.10.8; TestPlainTopicClientAckOnRabbitMQ runs the same
// script there): prefetch-count bounds what it holds unsettled, ACK
// settles, NACK requeues at once with redelivered:true and a new id
// (requeue:false drops), and the queue ends with the subscription, so a
// disconnect drops what was unsettled.
func TestPlainTopicClientAck(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	pub, _ := stomptest.Connect(t, b.addr())
	c, _ := stomptest.Connect(t, b.addr())
	plainClientAckScript(t, pub, c, "/topic/plain")
	// The queue went with the connection: a new subscriber gets none of
	// what the first left unsettled.
	c2, _ := stomptest.Connect(t, b.addr())
	c2.Subscribe(frame.New(frame.SUBSCRIBE, frame.Id, "p", frame.Destination, "/topic/plain", frame.Ack, frame.AckClientIndividual, frame.Receipt, "r"))
	c2.None(pub)
	queues := func() int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.queues)
	}
	for deadline := time.Now().Add(waitFor); queues() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d queues, want only the new subscription's: the first one's outlived its connection", queues())
		}
	}

	// An auto-ack subscription's messages have no ack header.
	c2.Subscribe(frame.New(frame.SUBSCRIBE, frame.Id, "auto", frame.Destination, "/topic/auto", frame.Receipt, "r"))
	pub.Send("/topic/auto", "x")
	if m := c2.Message(); m.Header.Get("redelivered") != "false" {
		t.Fatalf("%v", m.Header)
	} else if _, ok := m.Header.Contains(frame.Ack); ok {
		t.Fatalf("ack header on an auto subscription: %v", m.Header)
	}
}

// plainClientAckScript runs the plain client-ack script on c, publishing
// with pub; it ends with c disconnected and one delivery unsettled.
func plainClientAckScript(t *testing.T, pub, c *stomptest.Conn, topic string) {
	t.Helper()
	c.Subscribe(frame.New(frame.SUBSCRIBE, frame.Id, "p", frame.Destination, topic, frame.Ack, frame.AckClientIndividual,
		"prefetch-count", "2", frame.Receipt, "r"))
	for _, body := range []string{"a", "b", "c", "d"} {
		pub.Send(topic, body)
	}
	// collect reads until the RECEIPT id (if any) and n messages came.
	collect := func(id string, n int) []*frame.Frame {
		t.Helper()
		var ms []*frame.Frame
		for seen := id == ""; !seen || len(ms) < n; {
			switch f := c.Read(false); {
			case f.Command == frame.RECEIPT && f.Header.Get(frame.ReceiptId) == id:
				seen = true
			case f.Command == frame.MESSAGE:
				ms = append(ms, f)
			default:
				t.Fatalf("%s %v %q", f.Command, f.Header, f.Body)
			}
		}
		return ms
	}
	body := func(ms []*frame.Frame) string {
		var s []string
		for _, m := range ms {
			s = append(s, string(m.Body)+"/"+m.Header.Get("redelivered"))
		}
		return strings.Join(s, " ")
	}
	first := collect("", 2)
	if got := body(first); got != "a/false b/false" || first[0].Header.Get(frame.Ack) == "" || first[0].Header.Get(frame.Ack) != first[0].Header.Get(frame.MessageId) {
		t.Fatalf("first deliveries %q %v, want a and b (prefetch 2)", got, first[0].Header)
	}
	c.None(pub) // c and d wait for room
	c.Ack(frame.ACK, first[0], frame.Receipt, "ack-a")
	if got := body(collect("ack-a", 1)); got != "c/false" {
		t.Fatalf("after ACK of a: %q, want c", got)
	}
	c.Ack(frame.NACK, first[1], frame.Receipt, "nack-b")
	again := collect("nack-b", 1)
	if got := body(again); got != "b/true" || again[0].Header.Get(frame.MessageId) == first[1].Header.Get(frame.MessageId) {
		t.Fatalf("after NACK of b: %q %v, want b again, redelivered, with a new id", got, again[0].Header)
	}
	c.Ack(frame.NACK, again[0], "requeue", "false", frame.Receipt, "drop-b")
	if got := body(collect("drop-b", 1)); got != "d/false" {
		t.Fatalf("after NACK requeue:false of b: %q, want d (b dropped)", got)
	}
	c.None(pub)
	_ = c.NC.Close()
}

// The plain client-ack script of TestPlainTopicClientAck, run on RabbitMQ
// (IV_RABBITMQ_ADDR; required when IV_REQUIRE_BROKER=1): what ivtest's
// broker does is what RabbitMQ does.
func TestPlainTopicClientAckOnRabbitMQ(t *testing.T) {
	addr := os.Getenv("IV_RABBITMQ_ADDR")
	if addr == "" {
		if os.Getenv("IV_REQUIRE_BROKER") == "1" {
			t.Fatal("IV_REQUIRE_BROKER=1 but IV_RABBITMQ_ADDR is not set")
		}
		t.Skip("IV_RABBITMQ_ADDR not set")
	}
	dial := func() *stomptest.Conn {
		c := stomptest.Dial(t, addr)
		if f := c.Connect(frame.Host, "/"); f.Command != frame.CONNECTED || !strings.HasPrefix(f.Header.Get(frame.Server), "RabbitMQ/") {
			t.Fatalf("CONNECT to %s: %s %v %q", addr, f.Command, f.Header, f.Body)
		}
		return c
	}
	plainClientAckScript(t, dial(), dial(), "/topic/ivtest.plain."+stomptest.RandomName())
}
