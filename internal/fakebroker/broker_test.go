package fakebroker

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/stomptest"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/instantvoice/instantvoice-go/stompx"
)

// startBroker runs a bare embedded broker.
func startBroker(t *testing.T, addr string) *Broker {
	t.Helper()
	b := New(testLogger(), stompx.DefaultLogin, stompx.DefaultPasscode)
	if err := b.listen(addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.close)
	return b
}

func TestBrokerHandshake(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")

	bad := stomptest.Dial(t, b.addr())
	bad.Write(frame.New(frame.CONNECT, frame.AcceptVersion, "1.2", frame.Login, "guest", frame.Passcode, "guest"))
	if f := bad.Read(false); f.Command != frame.ERROR {
		t.Fatalf("wrong passcode: %s", f.Command)
	}

	c := stomptest.Dial(t, b.addr())
	f := c.Connect(frame.HeartBeat, "0,100")
	if f.Command != frame.CONNECTED || f.Header.Get(frame.Version) != "1.2" || f.Header.Get(frame.HeartBeat) != "100,0" {
		t.Fatalf("CONNECTED %v", f.Header)
	}
	// Heart-beats come while the connection is idle.
	start := time.Now()
	for i := 0; i < 3; i++ {
		if f := c.Read(true); f != nil {
			t.Fatalf("expected a heart-beat, got %s", f.Command)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("3 heart-beats took %v", d)
	}

	old := stomptest.Dial(t, b.addr())
	old.Write(frame.New(frame.CONNECT, frame.Login, stompx.DefaultLogin, frame.Passcode, stompx.DefaultPasscode))
	if f := old.Read(false); f.Command != frame.CONNECTED || f.Header.Get(frame.Version) != "1.0" {
		t.Fatalf("STOMP 1.0: %s %v", f.Command, f.Header)
	}

	junk := stomptest.Dial(t, b.addr())
	if _, err := junk.NC.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	junk.NC.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := io.ReadAll(junk.NC); err != nil {
		t.Fatalf("junk connection: %v", err)
	}
}

func TestBrokerFrames(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	sub := stomptest.Dial(t, b.addr())
	sub.Connect()
	pub := stomptest.Dial(t, b.addr())
	pub.Connect()

	// A receipt for SUBSCRIBE proves the subscription.
	sub.Write(frame.New(frame.SUBSCRIBE, frame.Id, "s1", frame.Destination, "/topic/a", frame.Receipt, "r1"))
	if f := sub.Read(false); f.Command != frame.RECEIPT || f.Header.Get(frame.ReceiptId) != "r1" {
		t.Fatalf("%s %v", f.Command, f.Header)
	}
	// Headers travel; the body may hold NUL bytes.
	body := []byte("a\x00b")
	m := frame.New(frame.SEND, frame.Destination, "/topic/a", "custom", "x:y", frame.ContentLength, "3")
	m.Body = body
	pub.Write(m)
	f := sub.Read(false)
	if f.Command != frame.MESSAGE || string(f.Body) != string(body) || f.Header.Get("custom") != "x:y" ||
		f.Header.Get(frame.Subscription) != "s1" || f.Header.Get(frame.MessageId) == "" {
		t.Fatalf("%s %v %q", f.Command, f.Header, f.Body)
	}

	// Transactions: nothing until COMMIT; ABORT discards.
	pub.Write(frame.New(frame.BEGIN, frame.Transaction, "t1"))
	m = frame.New(frame.SEND, frame.Destination, "/topic/a", frame.Transaction, "t1")
	m.Body = []byte("tx")
	pub.Write(m)
	pub.Write(frame.New(frame.BEGIN, frame.Transaction, "t2"))
	m = frame.New(frame.SEND, frame.Destination, "/topic/a", frame.Transaction, "t2")
	m.Body = []byte("aborted")
	pub.Write(m)
	pub.Write(frame.New(frame.ABORT, frame.Transaction, "t2"))
	pub.Write(frame.New(frame.COMMIT, frame.Transaction, "t1", frame.Receipt, "c1"))
	if f := pub.Read(false); f.Command != frame.RECEIPT {
		t.Fatalf("%s", f.Command)
	}
	if f := sub.Read(false); string(f.Body) != "tx" {
		t.Fatalf("after COMMIT: %q", f.Body)
	}

	// Queues keep messages until someone subscribes, then share them.
	for _, s := range []string{"q1", "q2"} {
		m := frame.New(frame.SEND, frame.Destination, "/queue/work")
		m.Body = []byte(s)
		pub.Write(m)
	}
	pub.Write(frame.New(frame.SEND, frame.Destination, "/topic/none", frame.Receipt, "p1"))
	pub.Read(false)
	sub.Write(frame.New(frame.SUBSCRIBE, frame.Id, "s2", frame.Destination, "/queue/work"))
	if a, b := sub.Read(false), sub.Read(false); string(a.Body) != "q1" || string(b.Body) != "q2" {
		t.Fatalf("queue: %q %q", a.Body, b.Body)
	}

	sub.Write(frame.New(frame.UNSUBSCRIBE, frame.Id, "s1", frame.Receipt, "u1"))
	if f := sub.Read(false); f.Command != frame.RECEIPT {
		t.Fatalf("%s", f.Command)
	}

	// Protocol errors end the connection with an ERROR.
	sub.Write(frame.New(frame.SUBSCRIBE, frame.Id, "s2", frame.Destination, "/topic/b"))
	if f := sub.Read(false); f.Command != frame.ERROR {
		t.Fatalf("duplicate subscription id: %s", f.Command)
	}
	pub.Write(frame.New(frame.SEND))
	if f := pub.Read(false); f.Command != frame.ERROR {
		t.Fatalf("SEND without destination: %s", f.Command)
	}
	// As on RabbitMQ, an ACK of a message that was not delivered for
	// acknowledgement (ack:auto here) is fatal: RECEIPT, ERROR, close.
	acker := stomptest.Dial(t, b.addr())
	acker.Connect()
	acker.Write(frame.New(frame.SUBSCRIBE, frame.Id, "s", frame.Destination, "/topic/a", frame.Receipt, "r"))
	acker.Read(false)
	acker.Write(frame.New(frame.ACK, frame.Id, "T_s@@session-1@@1", frame.Receipt, "a1"))
	if f := acker.Read(false); f.Command != frame.RECEIPT {
		t.Fatalf("%s", f.Command)
	}
	if f := acker.Read(false); f.Command != frame.ERROR || f.Header.Get(frame.Message) != "precondition_failed" {
		t.Fatalf("ACK of nothing: %s %v", f.Command, f.Header)
	}

	// DISCONNECT with a receipt.
	d := stomptest.Dial(t, b.addr())
	d.Connect()
	d.Write(frame.New(frame.DISCONNECT, frame.Receipt, "bye"))
	if f := d.Read(false); f.Command != frame.RECEIPT || f.Header.Get(frame.ReceiptId) != "bye" {
		t.Fatalf("%s", f.Command)
	}
}

// A subscriber that stops reading does not stall the broker: the others are
// served, and the silent one is dropped once too much is queued for it.
func TestBrokerSlowConsumer(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	b.maxPendingBytes = 1 << 20
	slow := stomptest.Dial(t, b.addr())
	slow.Connect()
	slow.Write(frame.New(frame.SUBSCRIBE, frame.Id, "s", frame.Destination, "/topic/busy", frame.Receipt, "r"))
	slow.Read(false)
	fast := stomptest.Dial(t, b.addr())
	fast.Connect()
	fast.Write(frame.New(frame.SUBSCRIBE, frame.Id, "s", frame.Destination, "/topic/busy", frame.Receipt, "r"))
	fast.Read(false)

	pub := stomptest.Client(t, b.addr())
	body := []byte(strings.Repeat("x", 4096))
	const n = 6000 // 24 MB: more than the socket buffers and the limit
	for i := 0; i < n; i += 64 {
		// In steps, so that the fast consumer never lags by the limit.
		for j := 0; j < 64; j++ {
			if err := pub.Send("/topic/busy", "", body); err != nil {
				t.Fatal(err)
			}
		}
		for j := 0; j < 64; j++ {
			fast.NC.SetReadDeadline(time.Now().Add(waitFor))
			f, err := fast.R.Read()
			if err != nil {
				t.Fatalf("fast consumer after %d: %v", i+j, err)
			}
			if f == nil {
				j--
			}
		}
	}
	// The slow one gets what fit in the buffers (and an ERROR, when the
	// socket takes it), then the connection closes.
	slow.NC.SetReadDeadline(time.Now().Add(waitFor))
	got := 0
	for {
		f, err := slow.R.Read()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the slow consumer's connection is still open")
			}
			break
		}
		if f != nil && f.Command == frame.MESSAGE {
			got++
		}
	}
	if got >= n {
		t.Fatalf("the slow consumer got all %d messages", got)
	}
}
