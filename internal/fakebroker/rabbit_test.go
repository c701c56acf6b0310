package fakebroker

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/stomptest"

	"github.com/go-stomp/stomp/v3/frame"
)

// Frame scripts that run against ivtest's broker and against RabbitMQ
// (IV_RABBITMQ_ADDR; required when IV_REQUIRE_BROKER=1), so that what the
// first does is what the second does: exclusive queues, requeueing, dead
// letters and /amq/queue/ destinations. Queue names start with ivtest. and
// a random part; every script deletes the durable queues it made.

// onBothBrokers runs script on ivtest's broker and on RabbitMQ; dial
// returns a connected client.
func onBothBrokers(t *testing.T, script func(t *testing.T, dial func() *stomptest.Conn)) {
	t.Run("ivtest", func(t *testing.T) {
		b := startBroker(t, "127.0.0.1:0")
		script(t, func() *stomptest.Conn { c, _ := stomptest.Connect(t, b.addr()); return c })
	})
	t.Run("RabbitMQ", func(t *testing.T) {
		addr := os.Getenv("IV_RABBITMQ_ADDR")
		if addr == "" {
			if os.Getenv("IV_REQUIRE_BROKER") == "1" {
				t.Fatal("IV_REQUIRE_BROKER=1 but IV_RABBITMQ_ADDR is not set")
			}
			t.Skip("IV_RABBITMQ_ADDR not set")
		}
		script(t, func() *stomptest.Conn {
			c := stomptest.Dial(t, addr)
			if f := c.Connect(frame.Host, "/"); f.Command != frame.CONNECTED || !strings.HasPrefix(f.Header.Get(frame.Server), "RabbitMQ/") {
				t.Fatalf("CONNECT to %s: %s %v %q", addr, f.Command, f.Header, f.Body)
			}
			return c
		})
	})
}

// deleteQueue deletes the durable queue name, declared through topic with
// the headers more, as stompx does: SUBSCRIBE, then UNSUBSCRIBE durable
// (what waited in it may arrive in between).
func deleteQueue(c *stomptest.Conn, topic, name string, more ...string) {
	c.T.Helper()
	c.Subscribe(stomptest.DurableSub("del", topic, name, more...))
	c.Write(frame.New(frame.UNSUBSCRIBE, frame.Id, "del", "durable", "true", "x-queue-name", name, frame.Receipt, "deleted"))
	for {
		switch f := c.Read(false); f.Command {
		case frame.RECEIPT:
			return
		case frame.MESSAGE: // what waited in it
		default:
			c.T.Fatalf("UNSUBSCRIBE durable %s: %s %v %q", name, f.Command, f.Header, f.Body)
		}
	}
}

// A SUBSCRIBE with exclusive:true makes a queue owned by its connection:
// another connection's SUBSCRIBE to it (exclusive or not, by topic or by
// /amq/queue/) gets RESOURCE_LOCKED, and that connection closes, taking
// its other subscriptions with it; the owner subscribes to it again at
// will; anyone may SEND to it; it goes when its owner's connection does.
func TestExclusiveQueue(t *testing.T) {
	onBothBrokers(t, func(t *testing.T, dial func() *stomptest.Conn) {
		lock := "ivtest.lock." + stomptest.RandomName()
		work := "ivtest.work." + stomptest.RandomName()
		locked := "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '" + lock + "' in vhost '/'. " +
			"It could be originally declared on another connection or the exclusive property value does not match that of the original declaration."
		lockSub := func(id string) *frame.Frame {
			return frame.New(frame.SUBSCRIBE, frame.Id, id, frame.Destination, "/topic/"+lock, "x-queue-name", lock,
				"exclusive", "true", frame.Receipt, "r-"+id)
		}
		pub, owner := dial(), dial()
		owner.Subscribe(lockSub("l1"))
		owner.Subscribe(lockSub("l2")) // the owner again: fine

		// A standby that holds an unacked event on another subscription.
		standby := dial()
		standby.Subscribe(stomptest.DurableSub("w", "/topic/"+work, work))
		pub.Send("/topic/"+work, "e0")
		standby.Message()
		standby.Write(lockSub("l"))
		standby.ExpectFatal("resource_locked", locked, "r-l")
		for _, sub := range []*frame.Frame{
			frame.New(frame.SUBSCRIBE, frame.Id, "l", frame.Destination, "/topic/"+lock, "x-queue-name", lock, frame.Receipt, "r-l"),
			frame.New(frame.SUBSCRIBE, frame.Id, "l", frame.Destination, amqQueue+lock, frame.Receipt, "r-l"),
		} {
			other := dial()
			other.Write(sub)
			other.ExpectFatal("resource_locked", locked, "r-l")
		}
		// The standby's event went back when its connection closed.
		next := dial()
		next.Subscribe(stomptest.DurableSub("w", "/topic/"+work, work))
		if got, _ := next.Messages(1); got != "e0*" {
			t.Fatalf("the refused connection's unacked event: %q, want e0*", got)
		}

		// Anyone may send to it, by topic or by name.
		pub.Send("/topic/"+lock, "t", frame.Receipt, "s1")
		pub.Send(amqQueue+lock, "q", frame.Receipt, "s2")
		pub.Read(false)
		pub.Read(false)
		got := ""
		for range 2 {
			m := owner.Message()
			got += m.Header.Get(frame.Destination) + " " + string(m.Body) + ";"
		}
		if want := "/topic/" + lock + " t;/queue/" + lock + " q;"; got != want {
			t.Fatalf("owner got %q, want %q", got, want)
		}
		// A different owner, once the first has gone.
		_ = owner.NC.Close()
		for i := 0; ; i++ {
			taker := dial()
			taker.Write(lockSub("l"))
			if f := taker.Read(false); f.Command == frame.RECEIPT {
				break
			} else if i == 50 {
				t.Fatalf("after the owner closed: %s %v %q", f.Command, f.Header, f.Body)
			}
		}
		deleteQueue(next, "/topic/"+work, work)
	})
}

// Unsettled messages go back as RabbitMQ 3.10 puts them back: a classic
// queue in their places, ahead of the later ones (prefetch 10 with m0..m4
// delivered: NACK m0 gives m0 again); a quorum queue puts a NACKed message
// at the tail and what a closed connection held at the head, in delivery
// order.
func TestRequeueOrder(t *testing.T) {
	for _, c := range []struct {
		name                     string
		args                     []string
		nack, closed, nackClosed string
	}{
		{"classic", nil, "m2*", "m0* m2* m3* m4 m5", "m0* m1* m2* late*"},
		{"quorum", []string{"x-queue-type", "quorum"}, "m4", "m0* m3* m4* m5 m2*", "m1* m2* m0* late*"},
	} {
		t.Run(c.name, func(t *testing.T) {
			onBothBrokers(t, func(t *testing.T, dial func() *stomptest.Conn) {
				requeueScript(t, dial, c.args, c.nack, c.closed, c.nackClosed)
			})
		})
	}
}

func requeueScript(t *testing.T, dial func() *stomptest.Conn, args []string, nack, closed, nackClosed string) {
	q := "ivtest.requeue." + stomptest.RandomName()
	pub := dial()
	sub := func(c *stomptest.Conn, more ...string) {
		c.Subscribe(stomptest.DurableSub("s", "/topic/"+q, q, append(append([]string{}, args...), more...)...))
	}
	fill := func(bodies ...string) {
		for _, b := range bodies {
			pub.Send("/topic/"+q, b, frame.Receipt, "sent")
			pub.Read(false)
		}
	}
	mk := dial()
	sub(mk)
	mk.Write(frame.New(frame.UNSUBSCRIBE, frame.Id, "s", frame.Receipt, "u"))
	mk.Read(false)
	fill("m0", "m1", "m2", "m3", "m4", "m5")

	a := dial()
	sub(a, "prefetch-count", "3")
	_, ms := a.Messages(3)
	a.Ack(frame.ACK, ms[1])
	if got, _ := a.Messages(1); got != "m3" {
		t.Fatalf("after ACK of m1: %q, want m3", got)
	}
	a.Ack(frame.NACK, ms[2])
	if got, _ := a.Messages(1); got != nack {
		t.Fatalf("after NACK of m2: %q, want %q", got, nack)
	}
	a.Disconnect()
	b := dial()
	sub(b, "prefetch-count", "10")
	if got, _ := b.Messages(5); got != closed {
		t.Fatalf("after the close: %q, want %q", got, closed)
	}
	b.None(pub)
	b.Disconnect()

	// A NACKed message redelivered on the same connection, then the close.
	c := dial()
	sub(c, "prefetch-count", "10")
	_, ms = c.Messages(5) // what the close left: settle it

	for _, m := range ms {
		c.Ack(frame.ACK, m)
	}
	c.None(pub)
	fill("m0", "m1", "m2")
	_, ms = c.Messages(3)
	c.Ack(frame.NACK, ms[0])
	if got, _ := c.Messages(1); got != "m0*" {
		t.Fatalf("after NACK of m0 with nothing waiting: %q, want m0*", got)
	}
	fill("late")
	c.Messages(1)
	c.Disconnect()
	d := dial()
	sub(d)
	if got, _ := d.Messages(4); got != nackClosed {
		t.Fatalf("after NACK and close: %q, want %q", got, nackClosed)
	}
	deleteQueue(d, "/topic/"+q, q, args...)
}

// A queue with x-dead-letter-exchange "" and x-dead-letter-routing-key D
// moves what a NACK with requeue:false rejects to the queue D, with the
// SEND's headers and x-first-death-* (a SEND with a message-id header is
// refused, not fatally); /amq/queue/<name> sends to one
// existing queue (to a missing one: dropped, not made, the RECEIPT still
// comes, the connection stays) and
// consumes an existing queue (a missing one: ERROR not_found, close); a
// reader that disconnects without acking leaves the dead letters in place,
// in order.
func TestDeadLetters(t *testing.T) {
	onBothBrokers(t, func(t *testing.T, dial func() *stomptest.Conn) {
		q := "ivtest.dlx." + stomptest.RandomName()
		dq := q + ".dead"
		dlx := []string{"x-dead-letter-exchange", "", "x-dead-letter-routing-key", dq}
		pub := dial()
		mk := dial()
		mk.Subscribe(stomptest.DurableSub("d", "/topic/"+dq, dq)) // the dead-letter queue, consumed by name only
		mk.Write(frame.New(frame.UNSUBSCRIBE, frame.Id, "d", frame.Receipt, "u"))
		mk.Read(false)
		a := dial()
		a.Subscribe(stomptest.DurableSub("s", "/topic/"+q, q, append(dlx, "prefetch-count", "10")...))
		pub.Send("/topic/"+q, "m0", "custom", "hello")
		pub.Send(amqQueue+q, "m1")
		pub.Send(amqQueue+q, "x", frame.MessageId, "m2", frame.Receipt, "m2") // refused, the connection stays
		pub.ExpectError("Invalid header", "'message-id' is not allowed on 'SEND'.\n")
		missing := "ivtest.missing." + stomptest.RandomName() // the SEND does not make it: see r2 below
		pub.Send(amqQueue+missing, "lost", frame.Receipt, "lost")
		if f := pub.Read(false); f.Command != frame.RECEIPT {
			t.Fatalf("SEND to a missing /amq/queue/: %s %v %q", f.Command, f.Header, f.Body)
		}
		_, ms := a.Messages(2)
		if d := ms[1].Header.Get(frame.Destination); d != "/queue/"+q {
			t.Fatalf("a SEND to /amq/queue/ arrived with destination %q", d)
		}
		for _, m := range ms {
			a.Ack(frame.NACK, m, "requeue", "false")
		}
		a.None(pub)

		r := dial()
		r.Subscribe(frame.New(frame.SUBSCRIBE, frame.Id, "r", frame.Destination, amqQueue+dq, frame.Ack, frame.AckClientIndividual,
			"prefetch-count", "10", frame.Receipt, "r"))
		_, ms = r.Messages(2)
		var got []string
		for _, m := range ms {
			h := m.Header
			got = append(got, strings.Join([]string{string(m.Body), h.Get(frame.Destination), h.Get("redelivered"), h.Get("custom"),
				h.Get("x-first-death-exchange"), h.Get("x-first-death-queue"), h.Get("x-first-death-reason")}, ","))
		}
		want := []string{"m0,/queue/" + dq + ",false,hello,amq.topic," + q + ",rejected", "m1,/queue/" + dq + ",false,,," + q + ",rejected"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("dead letters:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		r.Disconnect()
		r2 := dial()
		r2.Subscribe(frame.New(frame.SUBSCRIBE, frame.Id, "r", frame.Destination, amqQueue+dq, frame.Ack, frame.AckClientIndividual,
			"prefetch-count", "10", frame.Receipt, "r"))
		if got, _ := r2.Messages(2); got != "m0* m1*" {
			t.Fatalf("after a reader left: %q, want m0* m1*", got)
		}
		r2.Write(frame.New(frame.SUBSCRIBE, frame.Id, "m", frame.Destination, amqQueue+missing, frame.Receipt, "m"))
		r2.ExpectFatal("not_found", "NOT_FOUND - no queue '"+missing+"' in vhost '/'", "m")

		// x-max-length drops the oldest: dead-lettered too.
		short := q + ".short"
		mk.Subscribe(stomptest.DurableSub("short", "/topic/"+short, short, append(dlx, "x-max-length", "1")...))
		mk.Write(frame.New(frame.UNSUBSCRIBE, frame.Id, "short", frame.Receipt, "u"))
		mk.Read(false)
		pub.Send("/topic/"+short, "n0")
		pub.Send("/topic/"+short, "n1")
		r3 := dial()
		r3.Subscribe(frame.New(frame.SUBSCRIBE, frame.Id, "r", frame.Destination, amqQueue+dq, frame.Receipt, "r"))
		if got, ms := r3.Messages(3); got != "m0* m1* n0" || ms[2].Header.Get("x-first-death-reason") != "maxlen" {
			t.Fatalf("after x-max-length: %q %v, want m0* m1* n0, maxlen", got, ms[2].Header)
		}
		deleteQueue(mk, "/topic/"+short, short, append(dlx, "x-max-length", "1")...)
		deleteQueue(a, "/topic/"+q, q, dlx...)
		deleteQueue(dial(), "/topic/"+dq, dq)
	})
}

// ivtest's broker notices expiry when a queue is looked at (RabbitMQ, on
// a timer): an expired message is dead-lettered then. A dead-letter
// exchange amq.topic routes by topic; a message that dies again in the
// same queue with no rejection on the way is dropped, not looped.
func TestDeadLetterExpiredAndTopic(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	clock := brokerClock(b)
	pub, _ := stomptest.Connect(t, b.addr())
	watch, _ := stomptest.Connect(t, b.addr())
	watch.Subscribe(frame.New(frame.SUBSCRIBE, frame.Id, "w", frame.Destination, "/topic/dead.x", frame.Receipt, "w"))
	c, _ := stomptest.Connect(t, b.addr())
	// Dead letters go to the topic dead.x, and back into the queue itself,
	// which is bound to it.
	args := []string{"x-dead-letter-exchange", "amq.topic", "x-dead-letter-routing-key", "dead.x", "x-message-ttl", "1000"}
	c.Subscribe(stomptest.DurableSub("s", "/topic/live.x", "q", args...))
	c.Subscribe(stomptest.DurableSub("s2", "/topic/dead.x", "q", args...))
	c.Write(frame.New(frame.UNSUBSCRIBE, frame.Id, "s", frame.Receipt, "u"))
	c.Write(frame.New(frame.UNSUBSCRIBE, frame.Id, "s2", frame.Receipt, "u2"))
	c.Read(false)
	c.Read(false)
	pub.Send("/topic/live.x", "m", "expiration", "500", frame.Receipt, "sent")
	pub.Read(false)
	watch.None(pub)
	clock.Advance(time.Second)
	if info, _ := b.queueInfo("q"); info.Expired != 1 || info.Ready != 1 {
		t.Fatalf("after the TTL: %+v, want 1 expired and its dead letter waiting", info)
	}
	m := watch.Message()
	if m.Header.Get(frame.Destination) != "/topic/dead.x" || m.Header.Get("x-first-death-reason") != "expired" ||
		m.Header.Get("x-first-death-exchange") != "amq.topic" || m.Header.Get("x-first-death-queue") != "q" {
		t.Fatalf("dead letter %v", m.Header)
	} else if _, ok := m.Header.Contains("expiration"); ok {
		t.Fatalf("the dead letter kept its expiration: %v", m.Header)
	}
	clock.Advance(time.Second) // it expires again, in a queue it died in: dropped
	if info, _ := b.queueInfo("q"); info.Expired != 2 || info.Ready != 0 {
		t.Fatalf("after the second TTL: %+v", info)
	}
	watch.None(pub)
}

// A queue made by a SEND to /queue/ is durable and stays when empty and
// unused: /amq/queue/ finds it. A topic SUBSCRIBE with its name, durable
// and not auto-delete, then UNSUBSCRIBE durable, deletes it.
func TestQueueKept(t *testing.T) {
	onBothBrokers(t, func(t *testing.T, dial func() *stomptest.Conn) {
		q := "ivtest.kept." + stomptest.RandomName()
		c := dial()
		c.Send("/queue/"+q, "m")
		c.Subscribe(frame.New(frame.SUBSCRIBE, frame.Id, "s", frame.Destination, "/queue/"+q, frame.Receipt, "r"))
		if got, _ := c.Messages(1); got != "m" {
			t.Fatalf("got %q", got)
		}
		c.Disconnect()
		c = dial()
		c.Subscribe(frame.New(frame.SUBSCRIBE, frame.Id, "s", frame.Destination, amqQueue+q, frame.Receipt, "r"))
		deleteQueue(c, "/topic/"+q, q)
		c.ExpectError("Server cancelled subscription", "The server has canceled a subscription.\nNo more messages will be delivered for \"id='s'\".\n")
		c.Write(frame.New(frame.SUBSCRIBE, frame.Id, "s2", frame.Destination, amqQueue+q, frame.Receipt, "r2"))
		c.ExpectFatal("not_found", "NOT_FOUND - no queue '"+q+"' in vhost '/'", "r2")
	})
}
