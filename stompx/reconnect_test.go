package stompx_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/wire"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/stompx"
)

var fast = stompx.WithReconnectBackoff(5*time.Millisecond, 50*time.Millisecond)

// holdReplies withholds the replies to method Hold.
func holdReplies(b *testBroker) {
	b.resp.setReply(func(req wire.IncomingRequest, reply []byte) [][]byte {
		if req.Method == "Hold" {
			return nil
		}
		return [][]byte{reply}
	})
}

// startHeld starts a call of Hold and waits until the platform has it.
func startHeld(t *testing.T, ctx context.Context, b *testBroker, tr *stompx.Transport) <-chan error {
	t.Helper()
	before := b.resp.holds.Load()
	errc := make(chan error, 1)
	go func() { errc <- tr.Call(ctx, &ivclient.Request{Method: "Hold", Key: testKey}, nil) }()
	for deadline := time.Now().Add(10 * time.Second); b.resp.holds.Load() == before; {
		if time.Now().After(deadline) {
			t.Fatal("the held request did not arrive")
		}
		time.Sleep(time.Millisecond)
	}
	return errc
}

func wantErr(t *testing.T, errc <-chan error, target error) {
	t.Helper()
	select {
	case err := <-errc:
		if !errors.Is(err, target) {
			t.Fatalf("got %v, want %v", err, target)
		}
	case <-time.After(10 * time.Second):
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("the call did not return; goroutines:\n%s", buf[:n])
	}
}

// Kill the TCP connections under load: calls in flight fail with
// ErrConnectionLost, the transport reconnects, the subscription is
// restored behind the same value, later calls succeed, no reply crosses.
func TestKillConnectionUnderLoad(t *testing.T) {
	b := newTestBroker(t)
	holdReplies(b)
	p := newProxy(t, b.addr)
	var states stateLog
	tr := dial(t, p.addr(), fast, stompx.WithStateHandler(states.add))
	ctx := ctxT(t, time.Minute)
	topic := events.AgentTopic("default", "1001")
	sub, err := tr.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	b.publish(t, topic, eventBody("LOGIN", "default_1001", "before"))
	if ev := recv(t, sub); ev.UniqueID != "before" {
		t.Fatalf("%+v", ev)
	}

	load := startCallLoad(t, ctx, tr, testKey, 10*time.Second, false)
	load.waitMore(t, 200)
	held := startHeld(t, ctx, b, tr)
	if n := p.kill(); n < 2 {
		t.Fatalf("killed %d connections", n)
	}
	wantErr(t, held, ivclient.ErrConnectionLost)
	states.waitFor(t, stompx.Connecting, stompx.Connected, stompx.Reconnecting, stompx.Connected)
	load.waitMore(t, 200)
	load.finish()

	b.publish(t, topic, eventBody("LOGOUT", "default_1001", "after"))
	if ev := recv(t, sub); ev.UniqueID != "after" {
		t.Fatalf("%+v", ev)
	}
	st := tr.Stats()
	if st.Reconnects < 1 || st.ConnectionsLost < 1 || st.CallsLost < 1 {
		t.Fatalf("stats %+v", st)
	}
	for _, c := range states.changes() {
		if c.State == stompx.Reconnecting && !errors.Is(c.Err, ivclient.ErrConnectionLost) {
			t.Fatalf("Reconnecting cause %v", c.Err)
		}
	}
	t.Logf("ok %d, lost %d, %+v", load.ok.Load(), load.lost.Load(), st)
}

func waitCount(t *testing.T, n *atomic.Int64, want int64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); n.Load() < want; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d", n.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWithoutReconnect(t *testing.T) {
	b := newTestBroker(t)
	holdReplies(b)
	p := newProxy(t, b.addr)
	var states stateLog
	tr := dial(t, p.addr(), stompx.WithoutReconnect(), stompx.WithStateHandler(states.add))
	ctx := ctxT(t, 30*time.Second)
	sub, err := tr.Subscribe(ctx, events.AllAgents)
	if err != nil {
		t.Fatal(err)
	}
	held := startHeld(t, ctx, b, tr)
	p.kill()
	wantErr(t, held, ivclient.ErrConnectionLost)
	states.waitFor(t, stompx.Connected, stompx.Closed)
	if err := echo(ctx, tr, testKey, "x"); !errors.Is(err, ivclient.ErrConnectionLost) {
		t.Fatalf("after loss: %v", err)
	}
	select {
	case _, open := <-sub.C():
		if open {
			t.Fatal("event")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscription did not end")
	}
	if !errors.Is(sub.Err(), ivclient.ErrConnectionLost) {
		t.Fatalf("sub.Err %v", sub.Err())
	}
	if tr.State() != stompx.Closed {
		t.Fatalf("state %v", tr.State())
	}
}

func TestCallsWaitWhileReconnecting(t *testing.T) {
	b := newTestBroker(t)
	p := newProxy(t, b.addr)
	var states stateLog
	tr := dial(t, p.addr(), fast, stompx.WithStateHandler(states.add))
	ctx := ctxT(t, 30*time.Second)
	if err := echo(ctx, tr, testKey, "warm"); err != nil {
		t.Fatal(err)
	}
	p.setRefuse(true)
	p.kill()
	states.waitFor(t, stompx.Connected, stompx.Reconnecting)
	// A short deadline ends while reconnecting.
	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := echo(sctx, tr, testKey, "short"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("short: %v", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- echo(ctx, tr, testKey, "waits") }()
	time.Sleep(20 * time.Millisecond)
	p.setRefuse(false)
	if err := <-errc; err != nil {
		t.Fatalf("waiting call: %v", err)
	}
}

func TestFailFast(t *testing.T) {
	b := newTestBroker(t)
	p := newProxy(t, b.addr)
	var states stateLog
	tr := dial(t, p.addr(), fast, stompx.WithFailFast(true), stompx.WithStateHandler(states.add))
	ctx := ctxT(t, 30*time.Second)
	if err := echo(ctx, tr, testKey, "warm"); err != nil {
		t.Fatal(err)
	}
	p.setRefuse(true)
	p.kill()
	states.waitFor(t, stompx.Connected, stompx.Reconnecting)
	if err := echo(ctx, tr, testKey, "x"); !errors.Is(err, ivclient.ErrConnectionLost) {
		t.Fatalf("fail fast: %v", err)
	}
	if _, err := tr.Subscribe(ctx, events.AllAgents); !errors.Is(err, ivclient.ErrConnectionLost) {
		t.Fatalf("fail fast subscribe: %v", err)
	}
	p.setRefuse(false)
	states.waitFor(t, stompx.Connected, stompx.Reconnecting, stompx.Connected)
	if err := echo(ctx, tr, testKey, "y"); err != nil {
		t.Fatal(err)
	}
}

func TestRetryOnFailedConnect(t *testing.T) {
	b := newTestBroker(t)
	p := newProxy(t, b.addr)
	p.setRefuse(true)
	ctx := ctxT(t, 30*time.Second)
	if _, err := stompx.Dial(ctx, p.addr(), fast); err == nil {
		t.Fatal("Dial should fail without WithRetryOnFailedConnect")
	}
	tr := dial(t, p.addr(), fast, stompx.WithRetryOnFailedConnect(true))
	if s := tr.State(); s != stompx.Reconnecting {
		t.Fatalf("state %v", s)
	}
	errc := make(chan error, 1)
	go func() { errc <- echo(ctx, tr, testKey, "first") }()
	time.Sleep(20 * time.Millisecond)
	p.setRefuse(false)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestMaxReconnects(t *testing.T) {
	b := newTestBroker(t)
	p := newProxy(t, b.addr)
	var states stateLog
	tr := dial(t, p.addr(), fast, stompx.WithMaxReconnects(3), stompx.WithStateHandler(states.add))
	ctx := ctxT(t, 30*time.Second)
	p.setRefuse(true)
	p.kill()
	states.waitFor(t, stompx.Connected, stompx.Reconnecting, stompx.Closed)
	last := states.changes()
	if c := last[len(last)-1]; c.State != stompx.Closed || !errors.Is(c.Err, ivclient.ErrConnectionLost) {
		t.Fatalf("last change %+v", c)
	}
	if err := echo(ctx, tr, testKey, "x"); !errors.Is(err, ivclient.ErrConnectionLost) {
		t.Fatalf("after giving up: %v", err)
	}
}

func TestFailoverAcrossAddrs(t *testing.T) {
	b := newTestBroker(t)
	dead := newProxy(t, b.addr)
	dead.setRefuse(true)
	p := newProxy(t, b.addr)
	var states stateLog
	tr := dial(t, dead.addr(), fast, stompx.WithAddrs(p.addr()), stompx.WithStateHandler(states.add))
	ctx := ctxT(t, 30*time.Second)
	if err := echo(ctx, tr, testKey, "x"); err != nil {
		t.Fatal(err)
	}
	// The second broker goes away and the first comes back.
	p.setRefuse(true)
	dead.setRefuse(false)
	p.kill()
	states.waitFor(t, stompx.Connected, stompx.Reconnecting, stompx.Connected)
	if err := echo(ctx, tr, testKey, "y"); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, c := range states.changes() {
		if c.State == stompx.Connected {
			addrs = append(addrs, c.Addr)
		}
	}
	if len(addrs) < 2 || addrs[0] != p.addr() || addrs[len(addrs)-1] != dead.addr() {
		t.Fatalf("connected to %v", addrs)
	}
}

// A broker that goes silent (the TCP connection stays open) is detected by
// the heart-beats and the transport reconnects.
func TestSilentPeerDetected(t *testing.T) {
	b := newTestBroker(t, 50*time.Millisecond)
	p := newProxy(t, b.addr)
	var states stateLog
	tr := dial(t, p.addr(), fast, stompx.WithHeartBeat(50*time.Millisecond, 50*time.Millisecond), stompx.WithStateHandler(states.add))
	ctx := ctxT(t, 30*time.Second)
	if err := echo(ctx, tr, testKey, "x"); err != nil {
		t.Fatal(err)
	}
	p.freeze()
	states.waitFor(t, stompx.Connected, stompx.Reconnecting, stompx.Connected)
	if err := echo(ctx, tr, testKey, "y"); err != nil {
		t.Fatal(err)
	}
}

// An idle connection with heart-beats on both sides stays up for many
// heart-beat periods. The period is 200ms, not less: go-stomp's server
// drops a client not heard from for twice the period, the transport sends
// every half period (connOptions) and drops a broker not heard from for
// 2.25 periods (go-stomp's grace); with 20ms periods a stall of some 25ms of either
// side (the race detector on a loaded machine) dropped the connection, and
// the test measured the machine. With 200ms it takes a 250ms stall.
func TestIdleConnectionKept(t *testing.T) {
	const period = 200 * time.Millisecond
	b := newTestBroker(t, period)
	tr := dial(t, b.addr, stompx.WithHeartBeat(period, period))
	ctx := ctxT(t, 30*time.Second)
	if err := echo(ctx, tr, testKey, "x"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * period)
	if st := tr.Stats(); st.ConnectionsLost != 0 || tr.State() != stompx.Connected {
		t.Fatalf("state %v stats %+v", tr.State(), st)
	}
	if err := echo(ctx, tr, testKey, "y"); err != nil {
		t.Fatal(err)
	}
}

// A broker that declines to send heart-beats although asked: the transport
// connects again without asking, so that go-stomp does not drop the idle
// connection for want of them.
func TestBrokerWithoutHeartBeats(t *testing.T) {
	m := newFakeBroker(t, fakeConfig{hb: "0,20"})
	tr := dial(t, m.addr(), stompx.WithHeartBeat(20*time.Millisecond, 20*time.Millisecond))
	time.Sleep(300 * time.Millisecond) // 15 periods idle
	if st := tr.Stats(); st.ConnectionsLost != 0 || tr.State() != stompx.Connected {
		t.Fatalf("state %v stats %+v", tr.State(), st)
	}
	got := m.connectHeaders()
	want := []string{"20,20", "20,0", "20,20", "20,0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("CONNECT heart-beats %v, want %v", got, want)
	}
}

// A call whose context ends while it waits for a session counts as timed
// out, as one that waits for its reply does.
func TestTimedOutWhileReconnectingCounted(t *testing.T) {
	b := newTestBroker(t)
	p := newProxy(t, b.addr)
	var states stateLog
	tr := dial(t, p.addr(), fast, stompx.WithStateHandler(states.add))
	ctx := ctxT(t, 30*time.Second)
	if err := echo(ctx, tr, testKey, "warm"); err != nil {
		t.Fatal(err)
	}
	p.setRefuse(true)
	p.kill()
	states.waitFor(t, stompx.Connected, stompx.Reconnecting)
	const n = 5
	for i := 0; i < n; i++ {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err := echo(sctx, tr, testKey, "short")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("short: %v", err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := echo(cctx, tr, testKey, "cancelled"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if st := tr.Stats(); st.CallsTimedOut != n || st.CallsSent != 1 {
		// A call cancelled before it starts is not a call that timed out.
		t.Fatalf("stats %+v, want %d calls timed out", st, n)
	}
}

// After a connection loss the next address is tried first: the one that
// just failed is tried again only after the others.
func TestFailoverTriesNextAddressFirst(t *testing.T) {
	b := newTestBroker(t)
	first := newProxy(t, b.addr)
	second := newProxy(t, b.addr)
	var states stateLog
	tr := dial(t, first.addr(), fast, stompx.WithAddrs(second.addr()), stompx.WithStateHandler(states.add))
	ctx := ctxT(t, 30*time.Second)
	if err := echo(ctx, tr, testKey, "x"); err != nil {
		t.Fatal(err)
	}
	first.kill() // the connections drop, but first still accepts
	states.waitFor(t, stompx.Connected, stompx.Reconnecting, stompx.Connected)
	second.kill()
	states.waitFor(t, stompx.Connected, stompx.Reconnecting, stompx.Connected, stompx.Reconnecting, stompx.Connected)
	if err := echo(ctx, tr, testKey, "y"); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, c := range states.changes() {
		if c.State == stompx.Connected {
			addrs = append(addrs, c.Addr)
		}
	}
	want := []string{first.addr(), second.addr(), first.addr()}
	if fmt.Sprint(addrs) != fmt.Sprint(want) {
		t.Fatalf("connected to %v, want %v", addrs, want)
	}
}
