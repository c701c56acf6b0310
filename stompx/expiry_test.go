package stompx_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

func TestRequestExpiryHeaders(t *testing.T) {
	for _, c := range []struct {
		server string
		opts   []stompx.Option
		header string // the header expected, "" for none
		absent []string
	}{
		{"RabbitMQ/3.10.8", nil, "expiration", []string{"expires"}},
		{"ivtest/1", nil, "expiration", []string{"expires"}},
		{"ActiveMQ/5.17.2", nil, "expires", []string{"expiration"}},
		{"RabbitMQ/3.10.8", []stompx.Option{stompx.WithoutRequestExpiry()}, "", []string{"expiration", "expires"}},
		{"stompd/x.y.z", nil, "", []string{"expiration", "expires"}},
	} {
		t.Run(c.server, func(t *testing.T) {
			b := newFakeBroker(t, fakeConfig{server: c.server})
			tr := dial(t, b.ln.Addr().String(), c.opts...)
			const timeout = 2 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			dl, _ := ctx.Deadline()
			errc := make(chan error, 1)
			go func() { errc <- echo(ctx, tr, testKey, "x") }()
			h := b.lastSend(t)
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Fatalf("call = %v", err)
			}
			for _, a := range c.absent {
				if _, ok := h.Contains(a); ok {
					t.Fatalf("header %s sent: %v", a, h)
				}
			}
			switch c.header {
			case "expiration":
				ms, err := strconv.Atoi(h.Get("expiration"))
				if err != nil || ms < 1 || ms > int(timeout/time.Millisecond) {
					t.Fatalf("expiration %q, want 1-%d ms", h.Get("expiration"), timeout/time.Millisecond)
				}
			case "expires":
				at, err := strconv.ParseInt(h.Get("expires"), 10, 64)
				if err != nil || at < dl.UnixMilli() || at > dl.UnixMilli()+1 {
					t.Fatalf("expires %q, want the deadline %d", h.Get("expires"), dl.UnixMilli())
				}
			}
		})
	}
}

func TestRequestWithoutDeadlineHasNoExpiry(t *testing.T) {
	b := newFakeBroker(t, fakeConfig{server: "RabbitMQ/3.10.8"})
	tr := dial(t, b.ln.Addr().String())
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- echo(ctx, tr, testKey, "x") }()
	h := b.lastSend(t)
	cancel()
	<-errc
	if _, ok := h.Contains("expiration"); ok {
		t.Fatalf("a call without deadline sent expiration: %v", h)
	}
}

func TestDurableNotSupportedOnActiveMQ(t *testing.T) {
	b := newFakeBroker(t, fakeConfig{server: "ActiveMQ/5.17.2"})
	tr := dial(t, b.ln.Addr().String())
	_, err := tr.SubscribeDurable(ctxT(t, 10*time.Second), "workers", []string{events.AllAgents})
	if !errors.Is(err, ivclient.ErrNotSupported) {
		t.Fatalf("SubscribeDurable on ActiveMQ = %v, want ErrNotSupported", err)
	}
}

// expiryQueue returns a request queue of the test's own on RabbitMQ, with
// no consumer: a durable queue, made and deleted with SubscribeDurable and
// DeleteDurable, that requests reach as /amq/queue/<name> (a /queue/
// destination could not be deleted over STOMP).
func expiryQueue(t *testing.T, addr string) string {
	t.Helper()
	name := "stompxtest.expiry." + randName("")
	tr := dial(t, addr)
	ctx := ctxT(t, 30*time.Second)
	s, err := tr.SubscribeDurable(ctx, name, []string{"/topic/" + name})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := tr.DeleteDurable(ctx, name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return "/amq/queue/iv.events." + name
}

// TestRabbitRequestExpiry is the proof that expiry works and that the test
// can fail: with the platform's consumer down, calls time out; when it
// comes back, it gets none of them, unless WithoutRequestExpiry.
func TestRabbitRequestExpiry(t *testing.T) {
	addr := rabbitAddr(t)
	for _, c := range []struct {
		name string
		opts []stompx.Option
		want int
	}{
		{"expiry", nil, 0},
		{"WithoutRequestExpiry", []stompx.Option{stompx.WithoutRequestExpiry()}, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			queue := expiryQueue(t, addr)
			tr := dial(t, addr, append(c.opts, stompx.WithRequestQueue(queue))...)
			var last time.Time
			for i := 0; i < 5; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				last, _ = ctx.Deadline()
				err := echo(ctx, tr, testKey, strconv.Itoa(i))
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("call %d with no consumer = %v", i, err)
				}
			}
			// Make sure every expiry has passed. RabbitMQ counts a message's
			// expiration from its arrival, so a SEND that reached it late on a
			// loaded machine expires late by as much: a second of margin.
			time.Sleep(time.Until(last.Add(time.Second)))
			// The platform's consumer comes back: a raw consumer of the
			// queue, reading up to a sentinel published after the calls.
			rabbitPublish(t, addr, queue, []byte(`"sentinel"`))
			conn, nc := dialRaw(t, addr)
			defer nc.Close()
			sub, err := conn.Subscribe(queue, stomp.AckAuto)
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			for {
				var m *stomp.Message
				select {
				case m = <-sub.C:
				case <-time.After(10 * time.Second):
					t.Fatal("no sentinel")
				}
				if m == nil || m.Err != nil {
					t.Fatalf("consumer: %v", m)
				}
				if string(m.Body) == `"sentinel"` {
					break
				}
				got++
			}
			if got != c.want {
				t.Fatalf("the returning consumer got %d of the timed-out requests, want %d", got, c.want)
			}
		})
	}
}

// TestRabbitRequestLongDeadlineWaitsForPlatform: a call made while the
// platform's consumer is down succeeds when it comes back in time.
func TestRabbitRequestLongDeadlineWaitsForPlatform(t *testing.T) {
	addr := rabbitAddr(t)
	queue := expiryQueue(t, addr)
	tr := dial(t, addr, stompx.WithRequestQueue(queue))
	ctx := ctxT(t, 30*time.Second)
	errc := make(chan error, 1)
	go func() { errc <- echo(ctx, tr, testKey, "late") }()
	// The request is queued once the transport counts it sent.
	for tr.Stats().CallsSent == 0 {
		select {
		case err := <-errc:
			t.Fatalf("call ended early: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	p := ivtest.NewPlatform(t, ivtest.WithExternalBroker(addr, testLogin, testPasscode), ivtest.WithRequestQueue(queue), ivtest.WithKey(testKey))
	_ = p
	// The platform took the request and answered it (ivtest does not know
	// Echo: a *codes.Error reply is its answer), long after it was sent.
	if err := <-errc; err != nil && !errors.As(err, new(*codes.Error)) {
		t.Fatalf("call = %v, want the platform's reply", err)
	}
}
