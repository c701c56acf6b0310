package stompx_test

// Benchmarks of the SDK beside the same exchange done with raw go-stomp and
// encoding/json, in the same run, against three brokers: go-stomp's own
// server with the test responder (gostomp), ivtest's broker and processor
// (ivtest), and RabbitMQ with ivtest's processor attached to it
// (rabbitmq, only with IV_RABBITMQ_ADDR):
//
//	IV_RABBITMQ_ADDR=127.0.0.1:61613 go test -run '^$' -bench . -benchmem -count 5 ./stompx
//
// "raw" subscribes to /topic/KEY on one connection, sends
// ["AgentLogin", KEY, {...}, "<uuid>"] to the request queue on a second
// one (as the SDK does: one connection cannot carry 1,024 in flight on
// go-stomp's server, go-stomp-limits.md), and matches the replies by
// identifier through a map[id]chan filled by one goroutine reading the
// subscription. "sdk" is stompx.Transport.Call. Both use the same broker
// and the same responder in the same run.

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/google/uuid"

	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

type loginArgs struct {
	Accountcode string `json:"Accountcode"`
	User        string `json:"User"`
	Interface   string `json:"Interface"`
}

var benchArgs = loginArgs{Accountcode: "default", User: "default_1001", Interface: "SIP/default_0001"}

type rawClient struct {
	conn    *stomp.Conn // sends the requests
	queue   string
	key     string
	mu      sync.Mutex
	pending map[string]chan []byte
	done    chan struct{}
}

func newRawClient(tb testing.TB, tg benchTarget) *rawClient {
	c, nc := dialRaw(tb, tg.addr)
	pub, pubNC := dialRaw(tb, tg.addr)
	key := tg.key
	r := &rawClient{conn: pub, queue: tg.queue, key: key, pending: make(map[string]chan []byte), done: make(chan struct{})}
	sub, err := c.Subscribe("/topic/"+key, stomp.AckAuto)
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.Send("/topic/raw.sync", "", nil, stomp.SendOpt.Receipt); err != nil {
		tb.Fatal(err)
	}
	go func() {
		defer close(r.done)
		for m := range sub.C {
			if m.Err != nil {
				continue
			}
			var parts []json.RawMessage
			if json.Unmarshal(m.Body, &parts) != nil || len(parts) < 3 {
				continue
			}
			var id string
			if json.Unmarshal(parts[len(parts)-1], &id) != nil {
				continue
			}
			r.mu.Lock()
			ch := r.pending[id]
			delete(r.pending, id)
			r.mu.Unlock()
			if ch != nil {
				ch <- m.Body
			}
		}
	}()
	tb.Cleanup(func() {
		_ = pubNC.Close()
		_ = nc.Close()
		<-r.done
	})
	return r
}

func (r *rawClient) call(tb testing.TB) {
	id := uuid.NewString()
	body, err := json.Marshal([]any{"AgentLogin", r.key, benchArgs, id})
	if err != nil {
		tb.Fatal(err)
	}
	ch := make(chan []byte, 1)
	r.mu.Lock()
	r.pending[id] = ch
	r.mu.Unlock()
	if err := r.conn.Send(r.queue, "", body); err != nil {
		tb.Fatal(err)
	}
	reply := <-ch
	var parts []json.RawMessage
	if json.Unmarshal(reply, &parts) != nil || string(parts[0]) != "0" {
		tb.Fatalf("reply %s", reply)
	}
}

func sdkCall(tb testing.TB, tr *stompx.Transport, key string) {
	if err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: key, Args: benchArgs}, nil); err != nil {
		tb.Fatal(err)
	}
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// benchTarget is a broker with a responder: where to connect, the key to
// call with, the request queue, and the options the SDK needs there.
type benchTarget struct {
	addr, key, queue string
	opts             []stompx.Option
}

func (tg benchTarget) dial(b *testing.B, opts ...stompx.Option) *stompx.Transport {
	return dial(b, tg.addr, append(append([]stompx.Option(nil), tg.opts...), opts...)...)
}

// benchBrokers runs f against go-stomp's embedded server (with the test
// responder), ivtest's embedded broker and processor, and RabbitMQ with
// ivtest's processor on a request queue of its own (skipped without
// IV_RABBITMQ_ADDR); ivtest's processor answers every request with its
// arguments.
func benchBrokers(b *testing.B, f func(b *testing.B, tg benchTarget)) {
	b.Run("gostomp", func(b *testing.B) {
		br := newTestBroker(b)
		f(b, benchTarget{addr: br.addr, key: testKey, queue: stompx.DefaultRequestQueue})
	})
	b.Run("ivtest", func(b *testing.B) {
		p := ivtest.NewPlatform(b)
		echoPlatform(p)
		f(b, benchTarget{addr: p.STOMPAddr(), key: p.Key(), queue: stompx.DefaultRequestQueue})
	})
	b.Run("rabbitmq", func(b *testing.B) {
		addr := rabbitAddr(b)
		p, queue := rabbitPlatform(b, addr)
		f(b, benchTarget{addr: addr, key: p.Key(), queue: queue, opts: []stompx.Option{stompx.WithRequestQueue(queue)}})
	})
}

func BenchmarkSequential(b *testing.B) {
	benchBrokers(b, func(b *testing.B, tg benchTarget) {
		b.Run("raw", func(b *testing.B) {
			r := newRawClient(b, tg)
			r.call(b)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.call(b)
			}
			reportRate(b)
		})
		b.Run("sdk", func(b *testing.B) {
			tr := tg.dial(b)
			sdkCall(b, tr, tg.key)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sdkCall(b, tr, tg.key)
			}
			reportRate(b)
		})
	})
}

// 128 calls in flight on one client: RunParallel with 64 goroutines per
// core on the 2-core reference machine.
func BenchmarkInFlight128(b *testing.B) {
	par := 128 / max(1, runtimeProcs())
	benchBrokers(b, func(b *testing.B, tg benchTarget) {
		b.Run("raw", func(b *testing.B) {
			r := newRawClient(b, tg)
			r.call(b)
			b.ReportAllocs()
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r.call(b)
				}
			})
			reportRate(b)
		})
		b.Run("sdk", func(b *testing.B) {
			tr := tg.dial(b)
			sdkCall(b, tr, tg.key)
			b.ReportAllocs()
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					sdkCall(b, tr, tg.key)
				}
			})
			reportRate(b)
		})
	})
}

// The machine the benchmarks run on may be shared: the paired benchmarks
// alternate raw and SDK in short rounds, so that both see the same load,
// and report each one's rate and their ratio (sdk/raw).

func BenchmarkPairedSequential(b *testing.B) {
	benchBrokers(b, func(b *testing.B, tg benchTarget) {
		r := newRawClient(b, tg)
		tr := tg.dial(b)
		r.call(b)
		sdkCall(b, tr, tg.key)
		var rawT, sdkT time.Duration
		b.ResetTimer()
		// Rounds of 10 calls: on a broker as slow as RabbitMQ (about 700 µs
		// a call here) a one-second run still has dozens of rounds, so that
		// a burst of load on the machine weighs on both sides alike.
		const per = 10
		for i := 0; i < b.N; i += per {
			n := min(per, b.N-i)
			raw := func() {
				t0 := time.Now()
				for j := 0; j < n; j++ {
					r.call(b)
				}
				rawT += time.Since(t0)
			}
			sdk := func() {
				t0 := time.Now()
				for j := 0; j < n; j++ {
					sdkCall(b, tr, tg.key)
				}
				sdkT += time.Since(t0)
			}
			alternate(i/per, raw, sdk)
		}
		reportPair(b, b.N, rawT, sdkT)
	})
}

func BenchmarkPairedInFlight128(b *testing.B)  { pairedInFlight(b, 128) }
func BenchmarkPairedInFlight1024(b *testing.B) { pairedInFlight(b, 1024) }

// pairedInFlight alternates rounds of 8 calls by each of n goroutines,
// raw and SDK.
func pairedInFlight(b *testing.B, n int) {
	benchBrokers(b, func(b *testing.B, tg benchTarget) {
		r := newRawClient(b, tg)
		tr := tg.dial(b)
		r.call(b)
		sdkCall(b, tr, tg.key)
		round := func(f func()) time.Duration {
			var wg sync.WaitGroup
			t0 := time.Now()
			for g := 0; g < n; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; j < 8; j++ {
						f()
					}
				}()
			}
			wg.Wait()
			return time.Since(t0)
		}
		var rawT, sdkT time.Duration
		calls := 0
		b.ResetTimer()
		for k := 0; calls < b.N; k, calls = k+1, calls+8*n {
			alternate(k,
				func() { rawT += round(func() { r.call(b) }) },
				func() { sdkT += round(func() { sdkCall(b, tr, tg.key) }) })
		}
		reportPair(b, calls, rawT, sdkT)
	})
}

// alternate runs raw then sdk in even rounds and sdk then raw in odd
// ones, so that neither side always goes first (and pays for the garbage
// the other left, or finds the broker warmed by it).
func alternate(round int, raw, sdk func()) {
	if round%2 == 0 {
		raw()
		sdk()
		return
	}
	sdk()
	raw()
}

func reportPair(b *testing.B, calls int, rawT, sdkT time.Duration) {
	rawRate := float64(calls) / rawT.Seconds()
	sdkRate := float64(calls) / sdkT.Seconds()
	b.ReportMetric(rawRate, "raw-calls/s")
	b.ReportMetric(sdkRate, "sdk-calls/s")
	b.ReportMetric(sdkRate/rawRate, "sdk/raw")
}
