package stompx_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// A broker that accepts TCP and never answers CONNECT costs Dial its
// context's deadline, or the connect timeout, and nothing more.
func TestDialSilentBroker(t *testing.T) {
	addr := silentServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := stompx.Dial(ctx, addr)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	// No deadline on ctx: the connect timeout bounds the attempt.
	_, err = stompx.Dial(context.Background(), addr, stompx.WithConnectTimeout(100*time.Millisecond))
	if err == nil {
		t.Fatal("Dial succeeded")
	}
	// Cancellation without a deadline.
	cctx, ccancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); ccancel() }()
	if _, err := stompx.Dial(cctx, addr); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestDialNothingListening(t *testing.T) {
	addr := silentServer(t) // a port that was free...
	p := newProxy(t, addr)
	p.setRefuse(true) // ...and a listener that closes every connection
	ctx := ctxT(t, 10*time.Second)
	if _, err := stompx.Dial(ctx, p.addr()); err == nil {
		t.Fatal("Dial succeeded")
	}
}

func TestDialWrongPasscode(t *testing.T) {
	b := newTestBroker(t)
	const secret = "Wr0ngPassc0de-xyzzy"
	ctx := ctxT(t, 10*time.Second)
	_, err := stompx.Dial(ctx, b.addr, stompx.WithLogin(testLogin, secret), stompx.WithRetryOnFailedConnect(true))
	if !errors.Is(err, stompx.ErrConnectRefused) {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("the passcode is in the error: %v", err)
	}
}

func TestOptionValidation(t *testing.T) {
	ctx := ctxT(t, 10*time.Second)
	bad := []stompx.Option{
		nil,
		stompx.WithHeartBeat(-1, 0),
		stompx.WithEventBuffer(0),
		stompx.WithWildcard(""),
		stompx.WithWildcard("a b"),
		stompx.WithRequestQueue("config"),
		stompx.WithReconnectBackoff(0, time.Second),
		stompx.WithReconnectBackoff(time.Second, time.Millisecond),
		stompx.WithMaxReconnects(-1),
		stompx.WithMaxReconnects(0), // WithoutReconnect is the one way to turn reconnection off
		stompx.WithLogger(nil),
		stompx.WithStateHandler(nil),
		stompx.WithConnectTimeout(0),
		stompx.WithVirtualHost(""),
		stompx.WithLogin("a\nb", "c"),
		stompx.WithAddrs("host:port:extra"),
	}
	for i, o := range bad {
		if _, err := stompx.Dial(ctx, "127.0.0.1:1", o); err == nil || !strings.HasPrefix(err.Error(), "stompx: Dial: invalid argument: ") || !errors.Is(err, ivclient.ErrInvalidArgument) {
			t.Errorf("option %d: %v", i, err)
		}
	}
	if _, err := stompx.Dial(ctx, ""); err == nil {
		t.Error("empty address accepted")
	}
}

// Debug logging through a whole life, failures included, never shows the
// passcode or the access key, and neither do the errors.
func TestSecretsNeverLogged(t *testing.T) {
	const wrong = "Wr0ngPassc0de-xyzzy"
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var errs []error
	var states stateLog

	b := newTestBroker(t)
	p := newProxy(t, b.addr)
	ctx := ctxT(t, 30*time.Second)
	_, err := stompx.Dial(ctx, b.addr, stompx.WithLogger(logger), stompx.WithLogin(testLogin, wrong))
	errs = append(errs, err)
	tr := dial(t, p.addr(), fast, stompx.WithLogger(logger), stompx.WithStateHandler(states.add))
	errs = append(errs, echo(ctx, tr, testKey, "ok"))
	b.resp.drop.Store(1)
	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	errs = append(errs, echo(sctx, tr, testKey, "dropped"))
	cancel()
	errs = append(errs, tr.Call(ctx, &ivclient.Request{Method: "Fail", Key: testKey}, nil))
	errs = append(errs, tr.Call(ctx, &ivclient.Request{Method: "AgentLogin", Key: testKey + "!"}, nil))
	errs = append(errs, tr.Call(ctx, &ivclient.Request{Method: "AgentLogin", Key: testKey, Args: map[string]any{"c": make(chan int)}}, nil))
	sub, err := tr.Subscribe(ctx, events.AllAgents, "/topic/"+testKey)
	errs = append(errs, err)
	b.publish(t, "/topic/"+testKey, []byte(`garbage`), []byte(`[0, "x", "unknown"]`))
	errs = append(errs, echo(ctx, tr, testKey, "after-garbage"))
	b.resp.setReply(nil)
	holdReplies(b)
	held := startHeld(t, ctx, b, tr)
	p.kill()
	errs = append(errs, <-held)
	states.waitFor(t, stompx.Connected, stompx.Reconnecting, stompx.Connected)
	errs = append(errs, echo(ctx, tr, testKey, "after"))
	if sub != nil {
		errs = append(errs, sub.Close())
	}
	errs = append(errs, tr.Close())
	errs = append(errs, echo(ctx, tr, testKey, "closed"))
	for _, c := range states.changes() {
		errs = append(errs, c.Err)
	}

	out := buf.String()
	if !strings.Contains(out, "level=DEBUG") && !strings.Contains(out, "level=INFO") {
		t.Fatalf("nothing was logged: %q", out)
	}
	for _, secret := range []string{testPasscode, wrong, testKey} {
		if strings.Contains(out, secret) {
			t.Errorf("%q is in the log:\n%s", secret, out)
		}
		for _, err := range errs {
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("%q is in an error: %v", secret, err)
			}
		}
	}
	if testing.Verbose() {
		t.Log(out)
	}
}

// The cause of a failed dial is kept for errors.Is and errors.As.
func TestDialKeepsCause(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = stompx.Dial(ctx, addr, stompx.WithoutReconnect())
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want one wrapping ECONNREFUSED", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Fatalf("err = %v, want a *net.OpError inside", err)
	}
}
