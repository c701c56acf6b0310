// Package stomptest holds the helpers of the tests that speak STOMP frame
// by frame to a broker (the fake platform's embedded broker, or RabbitMQ):
// a connection that fails its test on any error or on a frame it did not
// expect, a hand-moved clock, and names no other run uses. Only tests
// import it.
package stomptest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/instantvoice/instantvoice-go/stompx"
)

// WaitFor bounds every wait for a frame.
const WaitFor = 5 * time.Second

// Conn speaks STOMP frames directly. Each method fails the test (Fatal)
// on an I/O error or on a frame other than the one it expects.
type Conn struct {
	T  testing.TB
	NC net.Conn
	R  *frame.Reader
	W  *frame.Writer
}

// Dial opens a TCP connection to addr, closed when the test ends; no
// frame is sent.
func Dial(t testing.TB, addr string) *Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &Conn{T: t, NC: nc, R: frame.NewReader(nc), W: frame.NewWriter(nc)}
}

// Connect dials addr and sends CONNECT with the platform's login; it
// fails the test unless the broker answers CONNECTED from the fake
// platform's broker ("server: ivtest/..."), and returns the connection and
// its session.
func Connect(t testing.TB, addr string) (*Conn, string) {
	t.Helper()
	c := Dial(t, addr)
	f := c.Connect()
	if f.Command != frame.CONNECTED || !strings.HasPrefix(f.Header.Get(frame.Server), "ivtest/") {
		t.Fatalf("CONNECTED %v", f.Header)
	}
	return c, f.Header.Get(frame.Session)
}

// Client connects a go-stomp client to addr with the platform's login and
// no heart-beats, and disconnects it when the test ends (before a
// platform started earlier in the test closes: cleanups run last-in
// first-out).
func Client(t testing.TB, addr string) *stomp.Conn {
	t.Helper()
	c, err := stomp.Dial("tcp", addr,
		stomp.ConnOpt.Login(stompx.DefaultLogin, stompx.DefaultPasscode),
		stomp.ConnOpt.HeartBeat(0, 0),
		stomp.ConnOpt.DisconnectReceiptTimeout(5*time.Second),
		stomp.ConnOpt.Logger(QuietLogger{}))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Disconnect(); err != nil {
			c.MustDisconnect()
		}
	})
	return c
}

// Write sends f.
func (c *Conn) Write(f *frame.Frame) {
	c.T.Helper()
	if err := c.W.Write(f); err != nil {
		c.T.Fatal(err)
	}
}

// Read returns the next frame, skipping heart-beats unless beats is set.
func (c *Conn) Read(beats bool) *frame.Frame {
	c.T.Helper()
	c.NC.SetReadDeadline(time.Now().Add(WaitFor))
	for {
		f, err := c.R.Read()
		if err != nil {
			c.T.Fatalf("read: %v", err)
		}
		if f != nil || beats {
			return f
		}
	}
}

// Connect sends a STOMP 1.2 CONNECT with the platform's login and headers
// added (name, value, ...), and returns the broker's answer.
func (c *Conn) Connect(headers ...string) *frame.Frame {
	c.T.Helper()
	h := append([]string{frame.AcceptVersion, "1.2", frame.Login, stompx.DefaultLogin, frame.Passcode, stompx.DefaultPasscode}, headers...)
	c.Write(frame.New(frame.CONNECT, h...))
	return c.Read(false)
}

// DurableSub returns a durable SUBSCRIBE as stompx sends one (client-
// individual acks, a receipt "r-<id>"), with headers changed or added by
// more (name, value, ...).
func DurableSub(id, topic, queue string, more ...string) *frame.Frame {
	f := frame.New(frame.SUBSCRIBE, frame.Id, id, frame.Destination, topic, "durable", "true", "auto-delete", "false",
		"x-queue-name", queue, frame.Ack, frame.AckClientIndividual, frame.Receipt, "r-"+id)
	for i := 0; i+1 < len(more); i += 2 {
		f.Header.Set(more[i], more[i+1])
	}
	return f
}

// Subscribe sends f and waits for its receipt.
func (c *Conn) Subscribe(f *frame.Frame) {
	c.T.Helper()
	c.Write(f)
	if g := c.Read(false); g.Command != frame.RECEIPT {
		c.T.Fatalf("SUBSCRIBE %v: %s %v %q", f.Header, g.Command, g.Header, g.Body)
	}
}

// Send sends body to dest with headers (name, value, ...).
func (c *Conn) Send(dest, body string, headers ...string) {
	c.T.Helper()
	f := frame.New(frame.SEND, append([]string{frame.Destination, dest}, headers...)...)
	f.Body = []byte(body)
	c.Write(f)
}

// Ack sends cmd (ACK or NACK) for the MESSAGE m.
func (c *Conn) Ack(cmd string, m *frame.Frame, headers ...string) {
	c.T.Helper()
	c.Write(frame.New(cmd, append([]string{frame.Id, m.Header.Get(frame.Ack)}, headers...)...))
}

// Message reads the next frame, which must be a MESSAGE.
func (c *Conn) Message() *frame.Frame {
	c.T.Helper()
	f := c.Read(false)
	if f.Command != frame.MESSAGE {
		c.T.Fatalf("got %s %v %q, want a MESSAGE", f.Command, f.Header, f.Body)
	}
	return f
}

// Messages reads n MESSAGE frames and returns their bodies, space
// separated, each marked with * when redelivered, and the frames.
func (c *Conn) Messages(n int) (string, []*frame.Frame) {
	c.T.Helper()
	var bodies []string
	var ms []*frame.Frame
	for range n {
		m := c.Message()
		b := string(m.Body)
		if m.Header.Get("redelivered") == "true" {
			b += "*"
		}
		bodies = append(bodies, b)
		ms = append(ms, m)
	}
	return strings.Join(bodies, " "), ms
}

// None checks that nothing arrives (after the broker has proved, by a
// receipt on pub, that it routed what pub sent).
func (c *Conn) None(pub *Conn) {
	c.T.Helper()
	pub.Write(frame.New(frame.SEND, frame.Destination, "/topic/ivtest.sync", frame.Receipt, "sync"))
	if f := pub.Read(false); f.Command != frame.RECEIPT {
		c.T.Fatalf("sync: %s", f.Command)
	}
	c.Write(frame.New(frame.SEND, frame.Destination, "/topic/ivtest.sync", frame.Receipt, "none"))
	if f := c.Read(false); f.Command != frame.RECEIPT || f.Header.Get(frame.ReceiptId) != "none" {
		c.T.Fatalf("expected nothing, got %s %v %q", f.Command, f.Header, f.Body)
	}
}

// Closed checks that the broker closes the connection.
func (c *Conn) Closed() {
	c.T.Helper()
	c.NC.SetReadDeadline(time.Now().Add(WaitFor))
	for {
		f, err := c.R.Read()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.T.Fatal("the connection is still open")
			}
			return
		}
		if f != nil {
			c.T.Fatalf("after the ERROR: %s %v", f.Command, f.Header)
		}
	}
}

// ExpectError reads an ERROR with message and body.
func (c *Conn) ExpectError(message, body string) {
	c.T.Helper()
	f := c.Read(false)
	if f.Command != frame.ERROR || f.Header.Get(frame.Message) != message || string(f.Body) != body {
		c.T.Fatalf("got %s %v %q\nwant ERROR message:%s %q", f.Command, f.Header, f.Body, message, body)
	}
}

// ExpectFatal reads an ERROR with message and body, then the RECEIPT of
// the frame that failed (when receipt is not ""), then the close.
func (c *Conn) ExpectFatal(message, body, receipt string) {
	c.T.Helper()
	c.ExpectError(message, body)
	if f := c.Read(false); receipt != "" && (f.Command != frame.RECEIPT || f.Header.Get(frame.ReceiptId) != receipt) {
		c.T.Fatalf("after the ERROR: %s %v, want the RECEIPT %s", f.Command, f.Header, receipt)
	}
	c.Closed()
}

// Disconnect sends DISCONNECT, reads its RECEIPT and waits for the close:
// the broker has then put back what c held unsettled (the fake's broker
// before the RECEIPT; RabbitMQ as the connection ends).
func (c *Conn) Disconnect() {
	c.T.Helper()
	c.Write(frame.New(frame.DISCONNECT, frame.Receipt, "bye"))
	for {
		if f := c.Read(false); f.Command == frame.RECEIPT && f.Header.Get(frame.ReceiptId) == "bye" {
			break
		}
	}
	c.Closed()
}

// Clock is a clock that a test moves by hand; it starts at 2026-01-01
// 00:00 UTC.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock at 2026-01-01 00:00 UTC.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// RandomName returns a name (a queue's, a key) no other test run uses.
func RandomName() string {
	var b [8]byte
	rand.Read(b[:])
	return "iv" + hex.EncodeToString(b[:])
}

// QuietLogger silences go-stomp's client (stomp.ConnOpt.Logger).
type QuietLogger struct{}

// Debugf discards its line.
func (QuietLogger) Debugf(string, ...any) {}

// Debug discards its line.
func (QuietLogger) Debug(string) {}

// Infof discards its line.
func (QuietLogger) Infof(string, ...any) {}

// Info discards its line.
func (QuietLogger) Info(string) {}

// Warningf discards its line.
func (QuietLogger) Warningf(string, ...any) {}

// Warning discards its line.
func (QuietLogger) Warning(string) {}

// Errorf discards its line.
func (QuietLogger) Errorf(string, ...any) {}

// Error discards its line.
func (QuietLogger) Error(string) {}
