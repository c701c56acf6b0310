package stompx_test

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// roles records what WithActiveChange reports.
type roles struct {
	mu  sync.Mutex
	got []bool
}

func (r *roles) add(active bool) {
	r.mu.Lock()
	r.got = append(r.got, active)
	r.mu.Unlock()
}

func (r *roles) list() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// waitFor waits until the reports are want.
func (r *roles) waitFor(t *testing.T, want ...bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got := r.list()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("active changes %v, want %v", got, want)
		}
	}
}

// noEvent checks that s gets no event for a moment.
func noEvent(t *testing.T, s *events.Subscription, what string) {
	t.Helper()
	select {
	case ev, ok := <-s.C():
		if ok {
			t.Fatalf("%s got an event: %+v", what, ev)
		}
	case <-time.After(300 * time.Millisecond):
	}
}

// Two single-active subscriptions of one name: one active, one standby;
// the active one's consumer closes, the standby takes over and receives
// what the first left unacknowledged, then the new events; each reports
// its changes in order.
func TestDurableSingleActiveTakeover(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr, stompx.WithSingleActive())
		tr1, tr2 := dial(t, addr), dial(t, addr)
		ctx := ctxT(t, time.Minute)
		var r1, r2 roles
		s1, err := tr1.SubscribeDurable(ctx, e.name, []string{e.topic}, append(e.opts, stompx.WithActiveChange(r1.add))...)
		if err != nil {
			t.Fatal(err)
		}
		r1.waitFor(t, true)
		s2, err := tr2.SubscribeDurable(ctx, e.name, []string{e.topic}, append(e.opts, stompx.WithActiveChange(r2.add))...)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		r2.waitFor(t, false)
		rabbitPublish(t, addr, e.topic, evBodies(0, 4)...)
		for i := 0; i < 4; i++ {
			ev := recv(t, s1)
			if seq(ev) != i {
				t.Fatalf("active: event %d is %d", i, seq(ev))
			}
			if i < 2 {
				if err := s1.Ack(ev); err != nil {
					t.Fatal(err)
				}
			}
		}
		noEvent(t, s2, "the standby")
		_ = s1.Close()
		r1.waitFor(t, true, false)
		r2.waitFor(t, false, true)
		for i := 2; i < 4; i++ {
			ev := recv(t, s2)
			if seq(ev) != i || !ev.Redelivered {
				t.Fatalf("after the takeover: event %d is %d, redelivered %v", i, seq(ev), ev.Redelivered)
			}
			if err := s2.Ack(ev); err != nil {
				t.Fatal(err)
			}
		}
		rabbitPublish(t, addr, e.topic, evBody(4))
		if ev := recv(t, s2); seq(ev) != 4 || ev.Redelivered {
			t.Fatalf("next event %+v", ev)
		}
		_ = s2.Close()
		r2.waitFor(t, false, true, false)
	})
}

// The active consumer's connection is cut (its process killed, as far as
// the broker can tell) and stays out: the standby takes over; no event of
// the lost connection can be settled. The time from the cut to the
// standby's first event is logged.
func TestDurableSingleActiveKilled(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr, stompx.WithSingleActive())
		px := newProxy(t, addr)
		tr1 := dial(t, px.addr(), stompx.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
		tr2 := dial(t, addr)
		ctx := ctxT(t, time.Minute)
		var r1, r2 roles
		s1, err := tr1.SubscribeDurable(ctx, e.name, []string{e.topic}, append(e.opts, stompx.WithActiveChange(r1.add))...)
		if err != nil {
			t.Fatal(err)
		}
		defer s1.Close()
		r1.waitFor(t, true)
		s2, err := tr2.SubscribeDurable(ctx, e.name, []string{e.topic}, append(e.opts, stompx.WithActiveChange(r2.add))...)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		r2.waitFor(t, false)
		rabbitPublish(t, addr, e.topic, evBody(0))
		held := recv(t, s1)
		px.setRefuse(true)
		cut := time.Now()
		px.kill()
		ev := recv(t, s2)
		took := time.Since(cut)
		if seq(ev) != 0 || !ev.Redelivered {
			t.Fatalf("after the takeover: %+v", ev)
		}
		if err := s1.Ack(held); !errors.Is(err, ivclient.ErrConnectionLost) {
			t.Fatalf("Ack of the lost connection's event = %v", err)
		}
		r1.waitFor(t, true, false)
		r2.waitFor(t, false, true)
		t.Logf("takeover: %v from the cut to the standby's first event", took.Round(time.Millisecond))
	})
}

// A standby whose address dies (its node, as far as it can tell) goes on
// trying at the address where it found the lock taken, not at the dead one
// first each time; and takes over there once the active one leaves.
func TestDurableStandbyLeavesDeadAddress(t *testing.T) {
	addr := ivtest.NewPlatform(t).STOMPAddr()
	e := newDurableEnv(t, addr, stompx.WithSingleActive())
	dead, alive := newProxy(t, addr), newProxy(t, addr)
	ctx := ctxT(t, time.Minute)
	var r1, r2 roles
	s1, err := dial(t, addr).SubscribeDurable(ctx, e.name, []string{e.topic}, append(e.opts, stompx.WithActiveChange(r1.add))...)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	r1.waitFor(t, true)
	tr2 := dial(t, dead.addr(), stompx.WithAddrs(alive.addr()), stompx.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
	s2, err := tr2.SubscribeDurable(ctx, e.name, []string{e.topic}, append(e.opts, stompx.WithActiveChange(r2.add))...)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	r2.waitFor(t, false)
	dead.setRefuse(true)
	dead.kill()
	onDead, onAlive := dead.accepted.Load(), alive.accepted.Load()
	// The session's reconnection and three of the standby's tries at least.
	for deadline := time.Now().Add(20 * time.Second); alive.accepted.Load() < onAlive+4; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d tries at the other address in 20 s", alive.accepted.Load()-onAlive)
		}
	}
	if n := dead.accepted.Load() - onDead; n > 1 {
		t.Fatalf("the standby tried the dead address %d times meanwhile (%d at the other), want 1 at most", n, alive.accepted.Load()-onAlive)
	}
	rabbitPublish(t, addr, e.topic, evBody(0))
	if ev := recv(t, s1); seq(ev) != 0 {
		t.Fatalf("active: %+v", ev)
	}
	_ = s1.Close()
	if ev := recv(t, s2); seq(ev) != 0 || !ev.Redelivered {
		t.Fatalf("after the takeover: %+v", ev)
	}
	r2.waitFor(t, false, true)
}

// A standby's refused tries (one a second) log no error or warning: being
// a standby is no error.
func TestDurableStandbyLogsNoError(t *testing.T) {
	addr := ivtest.NewPlatform(t).STOMPAddr()
	e := newDurableEnv(t, addr, stompx.WithSingleActive())
	px := newProxy(t, addr)
	ctx := ctxT(t, time.Minute)
	var r1, r2 roles
	s1, err := dial(t, addr).SubscribeDurable(ctx, e.name, []string{e.topic}, append(e.opts, stompx.WithActiveChange(r1.add))...)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	r1.waitFor(t, true)
	var logs syncBuffer
	tr := dial(t, px.addr(), stompx.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	s2, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, append(e.opts, stompx.WithActiveChange(r2.add))...)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	r2.waitFor(t, false)
	// The session, the refused first try, and two more.
	for deadline := time.Now().Add(20 * time.Second); px.accepted.Load() < 4; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections in 20 s", px.accepted.Load())
		}
	}
	if l := logs.String(); strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
		t.Fatalf("a standby logged:\n%s", l)
	}
}

// A consumer granted the lock whose check message does not come back
// through the lock queue (on RabbitMQ: the queue's name was taken from it
// by a node's cleanup after another node died, and a second consumer can be
// granted the lock) is a standby, and receives nothing; once the check
// comes back, it takes over.
func TestDurableSingleActiveLockCheck(t *testing.T) {
	addr := ivtest.NewPlatform(t).STOMPAddr()
	e := newDurableEnv(t, addr, stompx.WithSingleActive())
	fp := newFrameFilter(t, addr, func(f string) bool {
		head, _, _ := strings.Cut(f, "\n\n")
		return strings.HasPrefix(head, "SEND\n") && strings.Contains(head, "\ndestination:/amq/queue/iv.lock.")
	})
	tr := dial(t, fp.addr())
	ctx := ctxT(t, time.Minute)
	e.leave(ctx, t, dial(t, addr)) // the queue, for the event published while nobody consumes
	var r roles
	s, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, append(e.opts, stompx.WithActiveChange(r.add))...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r.waitFor(t, false)
	rabbitPublish(t, addr, e.topic, evBody(0))
	noEvent(t, s, "a consumer whose lock check failed")
	fp.dropping.Store(false)
	if ev := recv(t, s); seq(ev) != 0 {
		t.Fatalf("after the check came back: %+v", ev)
	}
	r.waitFor(t, false, true)
	if fp.dropped.Load() == 0 {
		t.Fatal("no check message was dropped")
	}
}

// frameFilter is a proxy to a STOMP broker that drops, while dropping is
// set, the client's frames that drop picks (the frames' bodies must not
// hold NUL bytes).
type frameFilter struct {
	*tcpFake
	dropping atomic.Bool
	dropped  atomic.Int64
}

func newFrameFilter(t *testing.T, target string, drop func(frame string) bool) *frameFilter {
	f := &frameFilter{}
	f.dropping.Store(true)
	f.tcpFake = startTCPFake(t, func(c net.Conn) {
		u, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer u.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = io.Copy(c, u)
			_ = c.Close()
		}()
		r := bufio.NewReader(c)
		for {
			fr, err := r.ReadBytes(0)
			if err != nil {
				break
			}
			if f.dropping.Load() && drop(strings.TrimLeft(string(fr), "\r\n")) {
				f.dropped.Add(1)
				continue
			}
			if _, err := u.Write(fr); err != nil {
				break
			}
		}
		_ = u.Close()
		<-done
	})
	return f
}

// A queue made without WithSingleActive (today's) is taken over as it is:
// the option changes no queue argument.
func TestDurableSingleActiveOnExistingQueue(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		tr := dial(t, addr)
		ctx := ctxT(t, time.Minute)
		e.leave(ctx, t, tr)
		rabbitPublish(t, addr, e.topic, evBody(0))
		s, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, stompx.WithSingleActive())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if ev := recv(t, s); seq(ev) != 0 {
			t.Fatalf("%+v", ev)
		}
	})
}

func TestDurableActiveChangeNeedsSingleActive(t *testing.T) {
	tr := dial(t, ivtest.NewPlatform(t).STOMPAddr())
	_, err := tr.SubscribeDurable(ctxT(t, 10*time.Second), "x", []string{"/topic/x"}, stompx.WithActiveChange(func(bool) {}))
	if !errors.Is(err, ivclient.ErrInvalidArgument) {
		t.Fatalf("WithActiveChange without WithSingleActive: %v", err)
	}
}

// TestRabbitTakeoverTimes measures takeovers on RabbitMQ: two single-active
// consumers, each behind a proxy; the active one's TCP connections are cut
// (and new ones refused, as for a killed process) and the time to the
// standby's first event is recorded; then the cut one comes back, as a
// standby. 3 takeovers, IV_TAKEOVER_RUNS for more; median and max logged.
func TestRabbitTakeoverTimes(t *testing.T) {
	addr := rabbitAddr(t)
	runs := 3
	if n, err := strconv.Atoi(os.Getenv("IV_TAKEOVER_RUNS")); err == nil && n > 0 {
		runs = n
	}
	e := newDurableEnv(t, addr, stompx.WithSingleActive())
	ctx := ctxT(t, time.Duration(runs)*30*time.Second+time.Minute)
	type worker struct {
		px *proxy
		s  *events.Subscription
		r  *roles
	}
	var ws [2]*worker
	for i := range ws {
		w := &worker{px: newProxy(t, addr), r: &roles{}}
		tr := dial(t, w.px.addr(), stompx.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
		s, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, append(e.opts, stompx.WithActiveChange(w.r.add))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		w.s = s
		ws[i] = w
		w.r.waitFor(t, i == 0)
	}
	var took []time.Duration
	active := 0
	for run := 0; run < runs; run++ {
		a, b := ws[active], ws[1-active]
		rabbitPublish(t, addr, e.topic, evBody(run))
		if ev := recv(t, a.s); seq(ev) != run {
			t.Fatalf("run %d: the active one got %+v", run, ev)
		}
		a.px.setRefuse(true)
		cut := time.Now()
		a.px.kill()
		ev := recv(t, b.s)
		took = append(took, time.Since(cut))
		if seq(ev) != run || !ev.Redelivered {
			t.Fatalf("run %d: the successor got %+v", run, ev)
		}
		if err := b.s.Ack(ev); err != nil {
			t.Fatal(err)
		}
		a.px.setRefuse(false) // it comes back, as a standby
		// Let it find the lock taken and settle into its standby tries, so
		// that the next cut measures a standby's takeover, not a race with
		// its reconnection.
		time.Sleep(2 * time.Second)
		active = 1 - active
	}
	slices.Sort(took)
	t.Logf("%d takeovers on RabbitMQ, from the cut to the successor's first event: median %v, min %v, max %v",
		runs, took[len(took)/2].Round(time.Millisecond), took[0].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
}

// With the default prefetch, 20,001 events (5,000 calls of 4 events open
// at once, and one more) all reach a consumer that settles none of them:
// no stall at the prefetch limit. (A connection lost meanwhile, on a
// starved machine, delivers them again: each is counted once.)
func TestDurableDefaultPrefetchHoldsManyCalls(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		const n = 5000*4 + 1
		e := newDurableEnv(t, addr)
		var logs syncBuffer
		tr := dial(t, addr, stompx.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		ctx := ctxT(t, 2*time.Minute)
		s := e.subscribe(ctx, t, tr)
		c, nc := dialRaw(t, addr)
		defer nc.Close()
		for i := 0; i < n; i++ {
			var opts []func(*frame.Frame) error
			if i == n-1 {
				opts = append(opts, stomp.SendOpt.Receipt)
			}
			if err := c.Send(e.topic, "", evBody(i), opts...); err != nil {
				t.Fatal(err)
			}
		}
		_ = c.Disconnect()
		seen := make([]bool, n)
		for left := n; left > 0; {
			ev := recv(t, s)
			i := seq(ev)
			if i < 0 || i >= n || (seen[i] && !ev.Redelivered) {
				t.Fatalf("event %d (redelivered %v) again, %d left; log:\n%s", i, ev.Redelivered, left, logs.String())
			}
			if !seen[i] {
				seen[i] = true
				left--
			}
		}
		if strings.Contains(logs.String(), "lost its connection") {
			t.Logf("the connection was lost meanwhile:\n%s", logs.String())
		}
	})
}
