package ivtest

import (
	"os"
	"strings"
	"testing"

	"github.com/go-stomp/stomp/v3/frame"
)

// Frame scripts that run against ivtest's broker and against RabbitMQ
// (IV_RABBITMQ_ADDR; required when IV_REQUIRE_BROKER=1), so that what the
// first does is what the second does: exclusive queues, requeueing, dead
// letters and /amq/queue/ destinations. Queue names start with ivtest. and
// a random part; every script deletes the durable queues it made.

// onBothBrokers runs script on ivtest's broker and on RabbitMQ; dial
// returns a connected client.
func onBothBrokers(t *testing.T, script func(t *testing.T, dial func() *rawConn)) {
	t.Run("ivtest", func(t *testing.T) {
		b := startBroker(t, "127.0.0.1:0")
		script(t, func() *rawConn { c, _ := brokerConn(t, b.addr()); return c })
	})
	t.Run("RabbitMQ", func(t *testing.T) {
		addr := os.Getenv("IV_RABBITMQ_ADDR")
		if addr == "" {
			if os.Getenv("IV_REQUIRE_BROKER") == "1" {
				t.Fatal("IV_REQUIRE_BROKER=1 but IV_RABBITMQ_ADDR is not set")
			}
			t.Skip("IV_RABBITMQ_ADDR not set")
		}
		script(t, func() *rawConn {
			c := rawDial(t, addr)
			if f := c.connect(frame.Host, "/"); f.Command != frame.CONNECTED || !strings.HasPrefix(f.Header.Get(frame.Server), "RabbitMQ/") {
				t.Fatalf("CONNECT to %s: %s %v %q", addr, f.Command, f.Header, f.Body)
			}
			return c
		})
	})
}

// messages reads n MESSAGE frames and returns their bodies, each marked
// with * when redelivered.
func (c *rawConn) messages(n int) (string, []*frame.Frame) {
	c.t.Helper()
	var bodies []string
	var ms []*frame.Frame
	for range n {
		m := c.message()
		b := string(m.Body)
		if m.Header.Get("redelivered") == "true" {
			b += "*"
		}
		bodies = append(bodies, b)
		ms = append(ms, m)
	}
	return strings.Join(bodies, " "), ms
}

// expectFatal reads an ERROR with message and body, then the RECEIPT of
// the frame that failed (when receipt is not ""), then the close.
func (c *rawConn) expectFatal(message, body, receipt string) {
	c.t.Helper()
	c.expectError(message, body)
	if f := c.read(false); receipt != "" && (f.Command != frame.RECEIPT || f.Header.Get(frame.ReceiptId) != receipt) {
		c.t.Fatalf("after the ERROR: %s %v, want the RECEIPT %s", f.Command, f.Header, receipt)
	}
	c.closed()
}

// deleteQueue deletes the durable queue name, declared through topic with
// the headers more, as stompx does: SUBSCRIBE, then UNSUBSCRIBE durable.
func deleteQueue(c *rawConn, topic, name string, more ...string) {
	c.t.Helper()
	c.subscribe(durableSub("del", topic, name, more...))
	c.write(frame.New(frame.UNSUBSCRIBE, frame.Id, "del", "durable", "true", "x-queue-name", name, frame.Receipt, "deleted"))
	if f := c.read(false); f.Command != frame.RECEIPT {
		c.t.Fatalf("UNSUBSCRIBE durable %s: %s %v %q", name, f.Command, f.Header, f.Body)
	}
}

// A SUBSCRIBE with exclusive:true makes a queue owned by its connection:
// another connection's SUBSCRIBE to it (exclusive or not, by topic or by
// /amq/queue/) gets RESOURCE_LOCKED, and that connection closes, taking
// its other subscriptions with it; the owner subscribes to it again at
// will; anyone may SEND to it; it goes when its owner's connection does.
func TestExclusiveQueue(t *testing.T) {
	onBothBrokers(t, func(t *testing.T, dial func() *rawConn) {
		lock := "ivtest.lock." + randomKey()
		work := "ivtest.work." + randomKey()
		locked := "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '" + lock + "' in vhost '/'. " +
			"It could be originally declared on another connection or the exclusive property value does not match that of the original declaration."
		lockSub := func(id string) *frame.Frame {
			return frame.New(frame.SUBSCRIBE, frame.Id, id, frame.Destination, "/topic/"+lock, "x-queue-name", lock,
				"exclusive", "true", frame.Receipt, "r-"+id)
		}
		pub, owner := dial(), dial()
		owner.subscribe(lockSub("l1"))
		owner.subscribe(lockSub("l2")) // the owner again: fine

		// A standby that holds an unacked event on another subscription.
		standby := dial()
		standby.subscribe(durableSub("w", "/topic/"+work, work))
		pub.send("/topic/"+work, "e0")
		standby.message()
		standby.write(lockSub("l"))
		standby.expectFatal("resource_locked", locked, "r-l")
		for _, sub := range []*frame.Frame{
			frame.New(frame.SUBSCRIBE, frame.Id, "l", frame.Destination, "/topic/"+lock, "x-queue-name", lock, frame.Receipt, "r-l"),
			frame.New(frame.SUBSCRIBE, frame.Id, "l", frame.Destination, amqQueue+lock, frame.Receipt, "r-l"),
		} {
			other := dial()
			other.write(sub)
			other.expectFatal("resource_locked", locked, "r-l")
		}
		// The standby's event went back when its connection closed.
		next := dial()
		next.subscribe(durableSub("w", "/topic/"+work, work))
		if got, _ := next.messages(1); got != "e0*" {
			t.Fatalf("the refused connection's unacked event: %q, want e0*", got)
		}

		// Anyone may send to it, by topic or by name.
		pub.send("/topic/"+lock, "t", frame.Receipt, "s1")
		pub.send(amqQueue+lock, "q", frame.Receipt, "s2")
		pub.read(false)
		pub.read(false)
		got := ""
		for range 2 {
			m := owner.message()
			got += m.Header.Get(frame.Destination) + " " + string(m.Body) + ";"
		}
		if want := "/topic/" + lock + " t;/queue/" + lock + " q;"; got != want {
			t.Fatalf("owner got %q, want %q", got, want)
		}
		// A different owner, once the first has gone.
		_ = owner.nc.Close()
		for i := 0; ; i++ {
			taker := dial()
			taker.write(lockSub("l"))
			if f := taker.read(false); f.Command == frame.RECEIPT {
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
			onBothBrokers(t, func(t *testing.T, dial func() *rawConn) {
				requeueScript(t, dial, c.args, c.nack, c.closed, c.nackClosed)
			})
		})
	}
}

func requeueScript(t *testing.T, dial func() *rawConn, args []string, nack, closed, nackClosed string) {
	q := "ivtest.requeue." + randomKey()
	pub := dial()
	sub := func(c *rawConn, more ...string) {
		c.subscribe(durableSub("s", "/topic/"+q, q, append(append([]string{}, args...), more...)...))
	}
	fill := func(bodies ...string) {
		for _, b := range bodies {
			pub.send("/topic/"+q, b, frame.Receipt, "sent")
			pub.read(false)
		}
	}
	mk := dial()
	sub(mk)
	mk.write(frame.New(frame.UNSUBSCRIBE, frame.Id, "s", frame.Receipt, "u"))
	mk.read(false)
	fill("m0", "m1", "m2", "m3", "m4", "m5")

	a := dial()
	sub(a, "prefetch-count", "3")
	_, ms := a.messages(3)
	a.ack(frame.ACK, ms[1])
	if got, _ := a.messages(1); got != "m3" {
		t.Fatalf("after ACK of m1: %q, want m3", got)
	}
	a.ack(frame.NACK, ms[2])
	if got, _ := a.messages(1); got != nack {
		t.Fatalf("after NACK of m2: %q, want %q", got, nack)
	}
	_ = a.nc.Close()
	b := dial()
	sub(b, "prefetch-count", "10")
	if got, _ := b.messages(5); got != closed {
		t.Fatalf("after the close: %q, want %q", got, closed)
	}
	b.none(pub)
	_ = b.nc.Close()

	// A NACKed message redelivered on the same connection, then the close.
	c := dial()
	sub(c, "prefetch-count", "10")
	_, ms = c.messages(5) // what the close left: settle it

	for _, m := range ms {
		c.ack(frame.ACK, m)
	}
	c.none(pub)
	fill("m0", "m1", "m2")
	_, ms = c.messages(3)
	c.ack(frame.NACK, ms[0])
	if got, _ := c.messages(1); got != "m0*" {
		t.Fatalf("after NACK of m0 with nothing waiting: %q, want m0*", got)
	}
	fill("late")
	c.messages(1)
	_ = c.nc.Close()
	d := dial()
	sub(d)
	if got, _ := d.messages(4); got != nackClosed {
		t.Fatalf("after NACK and close: %q, want %q", got, nackClosed)
	}
	deleteQueue(d, "/topic/"+q, q, args...)
}
