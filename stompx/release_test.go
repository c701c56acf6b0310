package stompx_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// churn runs n short-lived clients on tr, each with a key of its own
// (prefix + index), each making one call and closing.
func churn(t *testing.T, ctx context.Context, tr *stompx.Transport, prefix string, n int) {
	t.Helper()
	const workers = 16
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				c, err := ivclient.New(tr, fmt.Sprintf("%s%05d", prefix, i), ivclient.KeepTransportOpen())
				if err != nil {
					t.Error(err)
					return
				}
				err = c.AgentLogin(ctx, "default", "1001", "SIP/1001")
				_ = c.Close()
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// warmUp makes the baseline: 100 short-lived clients, then 10,000 calls
// of one more, since ivtest records the last 10,000 requests (the
// baseline holds that ring full).
func warmUp(t *testing.T, ctx context.Context, tr *stompx.Transport, prefix string) {
	t.Helper()
	churn(t, ctx, tr, prefix, 100)
	warm, _ := ivclient.New(tr, prefix+"x", ivclient.KeepTransportOpen())
	defer warm.Close()
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10000/16+1; i++ {
				if err := warm.AgentLogin(ctx, "default", "1001", "SIP/1001"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

type footprint struct {
	goroutines int
	heap       uint64
}

func measure() footprint {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return footprint{runtime.NumGoroutine(), ms.HeapAlloc}
}

// settle waits (30s at most) until the goroutines are back to base plus
// slack, and returns the footprint then.
func settle(base footprint, slack int) footprint {
	deadline := time.Now().Add(30 * time.Second)
	for {
		f := measure()
		if f.goroutines <= base.goroutines+slack || time.Now().After(deadline) {
			return f
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkFootprint fails unless goroutines and heap came back to base:
// 10,000 keys kept would hold 10,000 reply pumps and go-stomp
// subscriptions (three goroutines each, and several MB of heap).
func checkFootprint(t *testing.T, base, after footprint) {
	t.Helper()
	t.Logf("goroutines %d -> %d, heap %.1f MB -> %.1f MB", base.goroutines, after.goroutines,
		float64(base.heap)/(1<<20), float64(after.heap)/(1<<20))
	if after.goroutines > base.goroutines+10 {
		t.Errorf("goroutines %d, baseline %d", after.goroutines, base.goroutines)
	}
	if after.heap > base.heap+4<<20 {
		t.Errorf("heap %d bytes, baseline %d", after.heap, base.heap)
	}
}

// Issue 11, item 2: 10,000 short-lived clients, each with its own key, on
// one transport (ivtest's broker). When each closes, its key's reply
// subscription goes: goroutines and heap return to the baseline.
func TestReleasedKeysForgotten(t *testing.T) {
	t.Skip("ivclient no longer tells the transport when a client of a key closes (KeyHolder removed): stompx keeps its key subscriptions itself, on h-stompx")
	n := 10000
	if testing.Short() || raceEnabled {
		n = 2000
	}
	p := ivtest.NewPlatform(t)
	echoPlatform(p)
	tr := dial(t, p.STOMPAddr())
	ctx := ctxT(t, 5*time.Minute)
	warmUp(t, ctx, tr, "warm")
	base := settle(measure(), 0)
	churn(t, ctx, tr, "tenant", n)
	checkFootprint(t, base, settle(base, 10))
	if f := os.Getenv("IV_HEAPPROF"); f != "" {
		w, _ := os.Create(f)
		runtime.GC()
		_ = pprof.WriteHeapProfile(w)
		w.Close()
	}
	if st := tr.Stats(); st.RepliesMatched != uint64(n+100+16*(10000/16+1)) || st.CallsLost != 0 || st.ConnectionsLost != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Two clients of one key: the first Close keeps the key for the second;
// the last one releases it, failing a call of the key still in flight.
func TestReleaseKeyCounted(t *testing.T) {
	t.Skip("ivclient no longer tells the transport when a client of a key closes (KeyHolder removed): stompx keeps its key subscriptions itself, on h-stompx")
	b := newTestBroker(t)
	holdReplies(b)
	tr := dial(t, b.addr)
	ctx := ctxT(t, 30*time.Second)
	c1, err := ivclient.New(tr, testKey, ivclient.KeepTransportOpen())
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := ivclient.New(tr, testKey, ivclient.KeepTransportOpen())
	if err := echo(ctx, tr, testKey, "one"); err != nil {
		t.Fatal(err)
	}
	errc := startHeld(t, ctx, b, tr)
	_ = c1.Close()
	_ = c1.Close() // idempotent: releases once
	if err := echo(ctx, tr, testKey, "two"); err != nil {
		t.Fatalf("after the first Close: %v", err)
	}
	select {
	case err := <-errc:
		t.Fatalf("the held call ended with the first Close: %v", err)
	default:
	}
	_ = c2.Close()
	wantErr(t, errc, ivclient.ErrClosed)
	// A later call of the key subscribes again.
	if err := echo(ctx, tr, testKey, "three"); err != nil {
		t.Fatalf("after the last Close: %v", err)
	}
	if st := tr.Stats(); st.ConnectionsLost != 0 || st.RepliesMatched != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// A key released while the transport reconnects is not restored.
func TestReleasedWhileReconnecting(t *testing.T) {
	t.Skip("ivclient no longer tells the transport when a client of a key closes (KeyHolder removed): stompx keeps its key subscriptions itself, on h-stompx")
	b := newTestBroker(t)
	px := newProxy(t, b.addr)
	var states stateLog
	var logs syncBuffer
	tr := dial(t, px.addr(), fast, stompx.WithStateHandler(states.add), stompx.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := ctxT(t, 30*time.Second)
	c, _ := ivclient.New(tr, "gone1", ivclient.KeepTransportOpen())
	if err := echo(ctx, tr, "gone1", "x"); err != nil {
		t.Fatal(err)
	}
	if err := echo(ctx, tr, testKey, "x"); err != nil {
		t.Fatal(err)
	}
	px.setRefuse(true)
	px.kill()
	states.waitFor(t, stompx.Connected, stompx.Reconnecting)
	_ = c.Close()
	px.setRefuse(false)
	states.waitFor(t, stompx.Connected, stompx.Reconnecting, stompx.Connected)
	if !strings.Contains(logs.String(), "keys=1") {
		t.Fatalf("want one key restored:\n%s", logs.String())
	}
}

// Issue 11, item 2 on RabbitMQ: 10,000 short-lived clients, each with its
// own key. Goroutines, heap and the broker's bindings (one exclusive queue
// with one consumer per reply subscription) return to the baseline.
func TestRabbitReleasedKeysForgotten(t *testing.T) {
	t.Skip("ivclient no longer tells the transport when a client of a key closes (KeyHolder removed): stompx keeps its key subscriptions itself, on h-stompx")
	addr := rabbitAddr(t)
	n := 10000
	if testing.Short() || raceEnabled {
		n = 1000
	}
	_, queue := rabbitPlatform(t, addr)
	tr := dial(t, addr, stompx.WithRequestQueue(queue))
	ctx := ctxT(t, 10*time.Minute)
	prefix := randName("r")[:9]
	warmUp(t, ctx, tr, prefix+"w")
	base := settle(measure(), 0)
	consumersBefore := rabbitConsumers()
	bindingsBefore, rerr := rabbitBindings(prefix)
	if rerr == nil && bindingsBefore != 0 {
		t.Fatalf("%d bindings of released keys before the churn", bindingsBefore)
	}
	churn(t, ctx, tr, prefix+"t", n)
	checkFootprint(t, base, settle(base, 10))
	if rerr != nil {
		t.Logf("broker's bindings not checked: %v", rerr)
		return
	}
	var left int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		left, rerr = rabbitBindings(prefix)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if left == 0 || time.Now().After(deadline) {
			break
		}
	}
	if left != 0 {
		t.Fatalf("%d reply bindings of released keys left on the broker", left)
	}
	t.Logf("%d keys released; RabbitMQ bindings of those keys: 0; consumers on the (shared) broker: %d before, %d after",
		n, consumersBefore, rabbitConsumers())
}

// rabbitBindings counts the broker's amq.topic bindings whose routing key
// starts with prefix (the reply subscriptions of keys with that prefix).
func rabbitBindings(prefix string) (int, error) {
	out, err := exec.Command("rabbitmqctl", "-q", "list_bindings", "source_name", "routing_key").Output()
	if err != nil {
		return 0, fmt.Errorf("rabbitmqctl: %w", err)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "amq.topic" && strings.HasPrefix(f[1], prefix) {
			n++
		}
	}
	return n, nil
}

// rabbitConsumers counts every consumer on the broker (shared with other
// tests: logged, not asserted); -1 when rabbitmqctl fails.
func rabbitConsumers() int {
	out, err := exec.Command("rabbitmqctl", "-q", "list_consumers", "queue_name").Output()
	if err != nil {
		return -1
	}
	return strings.Count(string(out), "\n") - 1 // the header line
}
