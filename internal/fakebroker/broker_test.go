package fakebroker

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

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

// rawConn speaks STOMP frames directly.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	r  *frame.Reader
	w  *frame.Writer
}

func rawDial(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, r: frame.NewReader(nc), w: frame.NewWriter(nc)}
}

func (c *rawConn) write(f *frame.Frame) {
	c.t.Helper()
	if err := c.w.Write(f); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next frame, skipping heart-beats unless beats is set.
func (c *rawConn) read(beats bool) *frame.Frame {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(waitFor))
	for {
		f, err := c.r.Read()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if f != nil || beats {
			return f
		}
	}
}

func (c *rawConn) connect(headers ...string) *frame.Frame {
	c.t.Helper()
	h := append([]string{frame.AcceptVersion, "1.2", frame.Login, stompx.DefaultLogin, frame.Passcode, stompx.DefaultPasscode}, headers...)
	c.write(frame.New(frame.CONNECT, h...))
	return c.read(false)
}

func TestBrokerHandshake(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")

	bad := rawDial(t, b.addr())
	bad.write(frame.New(frame.CONNECT, frame.AcceptVersion, "1.2", frame.Login, "guest", frame.Passcode, "guest"))
	if f := bad.read(false); f.Command != frame.ERROR {
		t.Fatalf("wrong passcode: %s", f.Command)
	}

	c := rawDial(t, b.addr())
	f := c.connect(frame.HeartBeat, "0,100")
	if f.Command != frame.CONNECTED || f.Header.Get(frame.Version) != "1.2" || f.Header.Get(frame.HeartBeat) != "100,0" {
		t.Fatalf("CONNECTED %v", f.Header)
	}
	// Heart-beats come while the connection is idle.
	start := time.Now()
	for i := 0; i < 3; i++ {
		if f := c.read(true); f != nil {
			t.Fatalf("expected a heart-beat, got %s", f.Command)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("3 heart-beats took %v", d)
	}

	old := rawDial(t, b.addr())
	old.write(frame.New(frame.CONNECT, frame.Login, stompx.DefaultLogin, frame.Passcode, stompx.DefaultPasscode))
	if f := old.read(false); f.Command != frame.CONNECTED || f.Header.Get(frame.Version) != "1.0" {
		t.Fatalf("STOMP 1.0: %s %v", f.Command, f.Header)
	}

	junk := rawDial(t, b.addr())
	if _, err := junk.nc.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	junk.nc.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := io.ReadAll(junk.nc); err != nil {
		t.Fatalf("junk connection: %v", err)
	}
}

func TestBrokerFrames(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	sub := rawDial(t, b.addr())
	sub.connect()
	pub := rawDial(t, b.addr())
	pub.connect()

	// A receipt for SUBSCRIBE proves the subscription.
	sub.write(frame.New(frame.SUBSCRIBE, frame.Id, "s1", frame.Destination, "/topic/a", frame.Receipt, "r1"))
	if f := sub.read(false); f.Command != frame.RECEIPT || f.Header.Get(frame.ReceiptId) != "r1" {
		t.Fatalf("%s %v", f.Command, f.Header)
	}
	// Headers travel; the body may hold NUL bytes.
	body := []byte("a\x00b")
	m := frame.New(frame.SEND, frame.Destination, "/topic/a", "custom", "x:y", frame.ContentLength, "3")
	m.Body = body
	pub.write(m)
	f := sub.read(false)
	if f.Command != frame.MESSAGE || string(f.Body) != string(body) || f.Header.Get("custom") != "x:y" ||
		f.Header.Get(frame.Subscription) != "s1" || f.Header.Get(frame.MessageId) == "" {
		t.Fatalf("%s %v %q", f.Command, f.Header, f.Body)
	}

	// Transactions: nothing until COMMIT; ABORT discards.
	pub.write(frame.New(frame.BEGIN, frame.Transaction, "t1"))
	m = frame.New(frame.SEND, frame.Destination, "/topic/a", frame.Transaction, "t1")
	m.Body = []byte("tx")
	pub.write(m)
	pub.write(frame.New(frame.BEGIN, frame.Transaction, "t2"))
	m = frame.New(frame.SEND, frame.Destination, "/topic/a", frame.Transaction, "t2")
	m.Body = []byte("aborted")
	pub.write(m)
	pub.write(frame.New(frame.ABORT, frame.Transaction, "t2"))
	pub.write(frame.New(frame.COMMIT, frame.Transaction, "t1", frame.Receipt, "c1"))
	if f := pub.read(false); f.Command != frame.RECEIPT {
		t.Fatalf("%s", f.Command)
	}
	if f := sub.read(false); string(f.Body) != "tx" {
		t.Fatalf("after COMMIT: %q", f.Body)
	}

	// Queues keep messages until someone subscribes, then share them.
	for _, s := range []string{"q1", "q2"} {
		m := frame.New(frame.SEND, frame.Destination, "/queue/work")
		m.Body = []byte(s)
		pub.write(m)
	}
	pub.write(frame.New(frame.SEND, frame.Destination, "/topic/none", frame.Receipt, "p1"))
	pub.read(false)
	sub.write(frame.New(frame.SUBSCRIBE, frame.Id, "s2", frame.Destination, "/queue/work"))
	if a, b := sub.read(false), sub.read(false); string(a.Body) != "q1" || string(b.Body) != "q2" {
		t.Fatalf("queue: %q %q", a.Body, b.Body)
	}

	sub.write(frame.New(frame.UNSUBSCRIBE, frame.Id, "s1", frame.Receipt, "u1"))
	if f := sub.read(false); f.Command != frame.RECEIPT {
		t.Fatalf("%s", f.Command)
	}

	// Protocol errors end the connection with an ERROR.
	sub.write(frame.New(frame.SUBSCRIBE, frame.Id, "s2", frame.Destination, "/topic/b"))
	if f := sub.read(false); f.Command != frame.ERROR {
		t.Fatalf("duplicate subscription id: %s", f.Command)
	}
	pub.write(frame.New(frame.SEND))
	if f := pub.read(false); f.Command != frame.ERROR {
		t.Fatalf("SEND without destination: %s", f.Command)
	}
	// As on RabbitMQ, an ACK of a message that was not delivered for
	// acknowledgement (ack:auto here) is fatal: RECEIPT, ERROR, close.
	acker := rawDial(t, b.addr())
	acker.connect()
	acker.write(frame.New(frame.SUBSCRIBE, frame.Id, "s", frame.Destination, "/topic/a", frame.Receipt, "r"))
	acker.read(false)
	acker.write(frame.New(frame.ACK, frame.Id, "T_s@@session-1@@1", frame.Receipt, "a1"))
	if f := acker.read(false); f.Command != frame.RECEIPT {
		t.Fatalf("%s", f.Command)
	}
	if f := acker.read(false); f.Command != frame.ERROR || f.Header.Get(frame.Message) != "precondition_failed" {
		t.Fatalf("ACK of nothing: %s %v", f.Command, f.Header)
	}

	// DISCONNECT with a receipt.
	d := rawDial(t, b.addr())
	d.connect()
	d.write(frame.New(frame.DISCONNECT, frame.Receipt, "bye"))
	if f := d.read(false); f.Command != frame.RECEIPT || f.Header.Get(frame.ReceiptId) != "bye" {
		t.Fatalf("%s", f.Command)
	}
}

// A subscriber that stops reading does not stall the broker: the others are
// served, and the silent one is dropped once too much is queued for it.
func TestBrokerSlowConsumer(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	b.maxPendingBytes = 1 << 20
	slow := rawDial(t, b.addr())
	slow.connect()
	slow.write(frame.New(frame.SUBSCRIBE, frame.Id, "s", frame.Destination, "/topic/busy", frame.Receipt, "r"))
	slow.read(false)
	fast := rawDial(t, b.addr())
	fast.connect()
	fast.write(frame.New(frame.SUBSCRIBE, frame.Id, "s", frame.Destination, "/topic/busy", frame.Receipt, "r"))
	fast.read(false)

	pub := dial(t, b.addr())
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
			fast.nc.SetReadDeadline(time.Now().Add(waitFor))
			f, err := fast.r.Read()
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
	slow.nc.SetReadDeadline(time.Now().Add(waitFor))
	got := 0
	for {
		f, err := slow.r.Read()
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
