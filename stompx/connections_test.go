package stompx_test

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// TestConnectionExperiment measures the transport with one STOMP
// connection (requests sent on the connection that receives replies and
// events) against today's two, on go-stomp's server,
// ivtest's broker and RabbitMQ (with IV_RABBITMQ_ADDR), at 1, 128 and
// 1,024 calls in flight, with and without an event flood on a subscribed
// topic. It logs calls/s of each and whether a run hung (no progress for
// 20s; the transport is then closed, which fails the calls). It is an
// experiment, not a check: it runs only with IV_CONN_EXPERIMENT=1.
//
//	IV_CONN_EXPERIMENT=1 IV_RABBITMQ_ADDR=127.0.0.1:61613 go test -run TestConnectionExperiment -v ./stompx
func TestConnectionExperiment(t *testing.T) {
	if os.Getenv("IV_CONN_EXPERIMENT") == "" {
		t.Skip("set IV_CONN_EXPERIMENT=1 to run the one-versus-two-connections experiment")
	}
	for _, broker := range []string{"gostomp", "ivtest", "rabbitmq"} {
		t.Run(broker, func(t *testing.T) {
			for _, flood := range []bool{false, true} {
				for _, n := range []int{1, 128, 1024} {
					for round := 0; round < 2; round++ { // alternate, twice
						for _, one := range []bool{true, false} {
							// A fresh embedded broker for every run: one
							// that deadlocked stays wedged.
							var rate float64
							var hung bool
							t.Run("run", func(t *testing.T) {
								rate, hung = connRun(t, experimentTarget(t, broker), n, one, flood)
							})
							name := map[bool]string{true: "one", false: "two"}[one]
							t.Logf("%-8s flood=%-5v in-flight=%-5d %s connection(s): %8.0f calls/s hung=%v", broker, flood, n, name, rate, hung)
						}
					}
				}
			}
		})
	}
}

func experimentTarget(t *testing.T, broker string) benchTarget {
	switch broker {
	case "gostomp":
		br := newTestBroker(t)
		return benchTarget{addr: br.addr, key: testKey, queue: stompx.DefaultRequestQueue}
	case "ivtest":
		p := ivtestEcho(t)
		return benchTarget{addr: p.STOMPAddr(), key: p.Key(), queue: stompx.DefaultRequestQueue}
	default:
		addr := rabbitAddr(t)
		p, queue := rabbitPlatform(t, addr)
		return benchTarget{addr: addr, key: p.Key(), queue: queue, opts: []stompx.Option{stompx.WithRequestQueue(queue)}}
	}
}

// connRun makes calls with n in flight for about 2s (at least 2n calls)
// and returns the rate, or hung when no call completed for 20s (the
// transport is then closed, which fails the calls in flight).
func connRun(t *testing.T, tg benchTarget, n int, one, flood bool) (float64, bool) {
	opts := append([]stompx.Option(nil), tg.opts...)
	if one {
		opts = append(opts, stompx.WithOneConnection())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tr, err := stompx.Dial(ctx, tg.addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	sdkCall(t, tr, tg.key)
	stopFlood := func() {}
	if flood {
		topic := "/topic/iv.agents.flood" + randName("f") + "_1001"
		sub, err := tr.Subscribe(ctx, topic) // never read: events beyond the buffer are dropped
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		pub, nc := dialRaw(t, tg.addr)
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := []byte(`{"direction":"INBOUND","callerid":"2198765456","type":"NEWCALL","uniqueid":"1282781304.2","agent":"default_1001"}`)
			for {
				select {
				case <-done:
					return
				default:
				}
				if pub.Send(topic, "application/json", body) != nil {
					return
				}
			}
		}()
		stopFlood = func() { close(done); wg.Wait(); _ = nc.Close() }
	}
	var calls atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	t0 := time.Now()
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := tr.Call(ctx, benchRequest(tg.key), nil); err != nil {
					return
				}
				calls.Add(1)
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	hung := false
	last, lastChange := int64(0), time.Now()
	for done := false; !done; {
		select {
		case <-finished:
			done = true
		case <-time.After(50 * time.Millisecond):
			c := calls.Load()
			if c != last {
				last, lastChange = c, time.Now()
			}
			if time.Since(t0) > 2*time.Second && c >= int64(2*n) {
				stop.Store(true)
			}
			if time.Since(lastChange) > 20*time.Second {
				hung = true
				_ = tr.Close() // fails every call in flight
				stop.Store(true)
			}
		}
	}
	elapsed := time.Since(t0)
	stopFlood()
	return float64(calls.Load()) / elapsed.Seconds(), hung
}

func benchRequest(key string) *ivclient.Request {
	return &ivclient.Request{Method: "AgentLogin", Key: key, Args: benchArgs}
}

func ivtestEcho(tb testing.TB) *ivtest.Platform {
	p := ivtest.NewPlatform(tb)
	echoPlatform(p)
	return p
}
