package stompx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/stompx"
)

const testKey = "Kx7Qz9Lm2Vb"

func dial(tb testing.TB, addr string, opts ...stompx.Option) *stompx.Transport {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := stompx.Dial(ctx, addr, opts...)
	if err != nil {
		tb.Fatalf("Dial: %v", err)
	}
	tb.Cleanup(func() { _ = tr.Close() })
	return tr
}

func ctxT(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

func echo(ctx context.Context, tr ivclient.Transport, key, n string) error {
	var got map[string]any
	if err := tr.Call(ctx, &ivclient.Request{Method: "Echo", Key: key, Args: echoArgs{N: n}}, &got); err != nil {
		return err
	}
	if got["n"] != n {
		return fmt.Errorf("crossed reply: sent %q, got %v", n, got)
	}
	return nil
}

func TestCallRoundTrip(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr)
	ctx := ctxT(t, 10*time.Second)

	if err := tr.Call(ctx, &ivclient.Request{Method: "AgentLogin", Key: testKey, Args: map[string]string{"User": "1001"}}, nil); err != nil {
		t.Fatalf("AgentLogin: %v", err)
	}
	var list []string
	if err := tr.Call(ctx, &ivclient.Request{Method: "List", Key: testKey}, &list); err != nil || len(list) != 2 || list[0] != "1001" {
		t.Fatalf("List: %v %v", list, err)
	}
	var desc string
	if err := tr.Call(ctx, &ivclient.Request{Method: "QueueAdd", Key: testKey}, &desc); err != nil || desc != "Successful QueueAdd" {
		t.Fatalf("QueueAdd: %q %v", desc, err)
	}
	err := tr.Call(ctx, &ivclient.Request{Method: "Fail", Key: testKey}, nil)
	var ce *codes.Error
	if !errors.As(err, &ce) || ce.Code != codes.NotFound || ce.Method != "Fail" || ce.Description != "not found" || !errors.Is(err, codes.ErrNotFound) {
		t.Fatalf("Fail: %#v", err)
	}
	// A payload that does not fit out is a malformed reply.
	var n int
	if err := tr.Call(ctx, &ivclient.Request{Method: "List", Key: testKey}, &n); !errors.Is(err, ivclient.ErrMalformedReply) {
		t.Fatalf("List into int: %v", err)
	}
	if err := echo(ctx, tr, testKey, "x"); err != nil {
		t.Fatal(err)
	}
	st := tr.Stats()
	if st.CallsSent != 6 || st.RepliesMatched != 6 || st.RepliesUnknown != 0 || st.RepliesMalformed != 0 {
		t.Fatalf("stats %+v", st)
	}
	if tr.State() != stompx.Connected {
		t.Fatalf("state %v", tr.State())
	}
}

func TestBadInputSendsNothing(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr)
	ctx := ctxT(t, 10*time.Second)
	cases := []struct {
		name string
		req  *ivclient.Request
		want error
	}{
		{"nil request", nil, ivclient.ErrInvalidArgument},
		{"empty method", &ivclient.Request{Key: testKey}, ivclient.ErrInvalidArgument},
		{"odd method", &ivclient.Request{Method: "Agent\"Login", Key: testKey}, ivclient.ErrInvalidArgument},
		{"empty key", &ivclient.Request{Method: "AgentLogin"}, ivclient.ErrInvalidKey},
		{"wildcard key", &ivclient.Request{Method: "AgentLogin", Key: "#"}, ivclient.ErrInvalidKey},
		{"long key", &ivclient.Request{Method: "AgentLogin", Key: strings.Repeat("a", 21)}, ivclient.ErrInvalidKey},
		{"bad args", &ivclient.Request{Method: "AgentLogin", Key: testKey, Args: map[string]any{"x": make(chan int)}}, ivclient.ErrInvalidArgument},
	}
	for _, c := range cases {
		err := tr.Call(ctx, c.req, nil)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	//lint:ignore SA1012 testing the nil context check
	if err := tr.Call(nil, &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil); !errors.Is(err, ivclient.ErrInvalidArgument) { //nolint:staticcheck
		t.Errorf("nil ctx: %v", err)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tr.Call(done, &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if _, err := tr.Subscribe(ctx); !errors.Is(err, ivclient.ErrInvalidArgument) {
		t.Errorf("no topic: %v", err)
	}
	if _, err := tr.Subscribe(ctx, "iv.agents.#"); !errors.Is(err, ivclient.ErrInvalidArgument) {
		t.Errorf("topic without prefix: %v", err)
	}
	if st := tr.Stats(); st.CallsSent != 0 || b.resp.received.Load() != 0 {
		t.Fatalf("something was sent: %+v, platform received %d", st, b.resp.received.Load())
	}
}

// Every reply reaches its own caller: 8 goroutines x 2,000 calls on one
// transport while a second transport uses the same key.
func TestConcurrentCallsNeverCross(t *testing.T) {
	b := newTestBroker(t)
	t1 := dial(t, b.addr)
	t2 := dial(t, b.addr)
	ctx := ctxT(t, 2*time.Minute)
	const goroutines, perG = 8, 2000
	// Both reply subscriptions in place first, so that each transport sees
	// every reply of the other.
	for _, tr := range []*stompx.Transport{t1, t2} {
		if err := tr.Call(ctx, &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*goroutines)
	for ti, tr := range []*stompx.Transport{t1, t2} {
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func(ti, g int, tr *stompx.Transport) {
				defer wg.Done()
				for i := 0; i < perG; i++ {
					if err := echo(ctx, tr, testKey, fmt.Sprintf("t%d-g%d-%d", ti, g, i)); err != nil {
						errs <- err
						return
					}
				}
			}(ti, g, tr)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, tr := range []*stompx.Transport{t1, t2} {
		st := tr.Stats()
		if st.RepliesMatched != goroutines*perG+1 || st.CallsSent != goroutines*perG+1 || st.RepliesMalformed != 0 {
			t.Errorf("transport %d: %+v", i, st)
		}
		// Each transport sees the other's replies on the shared key and drops
		// them; the last ones may still be on their way.
		want := uint64(goroutines * perG)
		if i == 0 {
			want++ // t2's first reply
		}
		for deadline := time.Now().Add(10 * time.Second); tr.Stats().RepliesUnknown < want && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if st := tr.Stats(); st.RepliesUnknown != want {
			t.Errorf("transport %d: %d unknown replies, want %d", i, st.RepliesUnknown, want)
		}
	}
}

// 1,024 calls in flight at once on one transport.
func TestInFlight1024(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr)
	ctx := ctxT(t, 2*time.Minute)
	echoAtOnce(t, ctx, tr, testKey, 1024)
}

func TestReplyThatNeverComes(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr)
	if err := tr.Call(ctxT(t, 10*time.Second), &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil); err != nil {
		t.Fatal(err)
	}
	b.resp.drop.Store(1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := tr.Call(ctx, &ivclient.Request{Method: "NewCall", Key: testKey}, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "stompx: context deadline exceeded") {
		t.Fatalf("got %v", err)
	}
	if st := tr.Stats(); st.CallsTimedOut != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The transport still works.
	if err := echo(ctxT(t, 10*time.Second), tr, testKey, "after"); err != nil {
		t.Fatal(err)
	}
}

func TestCloseFailsCallsInFlight(t *testing.T) {
	b := newTestBroker(t)
	ctx := ctxT(t, time.Minute)
	tr, err := stompx.Dial(ctx, b.addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := echo(ctx, tr, testKey, "warm"); err != nil {
		t.Fatal(err)
	}
	b.resp.drop.Store(1 << 40)
	const n = 64
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() { errs <- tr.Call(ctx, &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil) }()
	}
	// Wait until every request reached the platform, then close.
	for deadline := time.Now().Add(20 * time.Second); b.resp.received.Load() < n+1; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests arrived", b.resp.received.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			if !errors.Is(err, ivclient.ErrClosed) {
				t.Fatalf("call %d: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a call did not return after Close")
		}
	}
	if err := tr.Call(ctx, &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil); !errors.Is(err, ivclient.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if tr.State() != stompx.Closed {
		t.Fatalf("state %v", tr.State())
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestManyKeysOneTransport(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr)
	ctx := ctxT(t, time.Minute)
	var wg sync.WaitGroup
	for k := 0; k < 20; k++ {
		for g := 0; g < 3; g++ {
			wg.Add(1)
			go func(k, g int) {
				defer wg.Done()
				key := fmt.Sprintf("tenant%02d", k)
				for i := 0; i < 50; i++ {
					if err := echo(ctx, tr, key, fmt.Sprintf("%s-%d-%d", key, g, i)); err != nil {
						t.Error(err)
						return
					}
				}
			}(k, g)
		}
	}
	wg.Wait()
	if st := tr.Stats(); st.RepliesMatched != 20*3*50 || st.RepliesUnknown != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A request larger than the largest reply the transport accepts is refused
// before anything is sent: its reply would drop the connection.
func TestOversizedRequestRefused(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr, stompx.WithFrameLimits(stompx.DefaultMaxHeaderLine, stompx.DefaultMaxHeaders, 4096))
	ctx := ctxT(t, 10*time.Second)
	if err := echo(ctx, tr, testKey, strings.Repeat("x", 3000)); err != nil {
		t.Fatalf("a request under the limit: %v", err)
	}
	err := echo(ctx, tr, testKey, strings.Repeat("x", 5000))
	if !errors.Is(err, ivclient.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), "stompx: invalid argument: ") ||
		!strings.Contains(err.Error(), "WithFrameLimits") {
		t.Fatalf("a request over the limit: %v", err)
	}
	if st := tr.Stats(); st.CallsSent != 1 || st.ConnectionsLost != 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := echo(ctx, tr, testKey, "after"); err != nil {
		t.Fatal(err)
	}
}
