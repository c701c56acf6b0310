package events_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
)

// benchHandlerTime is what the benchmarks' handler takes per event: a
// database write, say.
const benchHandlerTime = 2 * time.Millisecond

var benchRun atomic.Int64

// benchConsume publishes b.N events of 64 agents to a durable queue on
// ivtest's broker, then times consume handling them all with a handler
// taking benchHandlerTime. The three runs are paired: run them together.
func benchConsume(b *testing.B, consume func(ctx context.Context, s *events.Subscription, h events.Handler) error) {
	p := ivtest.NewPlatform(b)
	_, s := durable(b, p, fmt.Sprintf("bench-%d", benchRun.Add(1)))
	for i := 0; i < b.N; i++ {
		require.NoError(b, p.PublishEvent(events.Event{Type: events.Pause, Agent: agentName(i % 64), UniqueID: fmt.Sprint(i)}))
	}
	require.NoError(b, p.Sync(context.Background()))
	var handled atomic.Int64
	all := make(chan struct{})
	h := func(context.Context, events.Event) error {
		time.Sleep(benchHandlerTime)
		if handled.Add(1) == int64(b.N) {
			close(all)
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ResetTimer()
	go func() { done <- consume(ctx, s, h) }()
	<-all
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	require.NoError(b, s.Close())
}

// BenchmarkConsume compares Consume on 1 and 32 lanes with the loop a
// partner writes without it: SubscribeDurable, handle, Ack.
func BenchmarkConsume(b *testing.B) {
	b.Run("ack-loop", func(b *testing.B) {
		benchConsume(b, func(ctx context.Context, s *events.Subscription, h events.Handler) error {
			for {
				select {
				case ev := <-s.C():
					if err := h(ctx, ev); err == nil {
						_ = s.Ack(ev)
					}
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		})
	})
	for _, lanes := range []int{1, 32} {
		b.Run(fmt.Sprintf("lanes=%d", lanes), func(b *testing.B) {
			benchConsume(b, func(ctx context.Context, s *events.Subscription, h events.Handler) error {
				return events.Consume(ctx, s, h, events.WithLanes(lanes))
			})
		})
	}
}

// BenchmarkConsumeCalls times ConsumeCalls on 32 lanes handing b.N calls
// (NEWCALL, CONNECT, HANGUP each, 64 agents) to a handler taking
// benchHandlerTime: what one active worker sustains.
func BenchmarkConsumeCalls(b *testing.B) {
	p := ivtest.NewPlatform(b)
	_, s := durable(b, p, fmt.Sprintf("bench-calls-%d", benchRun.Add(1)))
	for i := 0; i < b.N; i++ {
		agent, uid := agentName(i%64), fmt.Sprint(i)
		for _, t := range []events.Type{events.NewCall, events.Connect, events.Hangup} {
			require.NoError(b, p.PublishEvent(events.Event{Type: t, Agent: agent, UniqueID: uid, Direction: "INBOUND"}))
		}
	}
	require.NoError(b, p.Sync(context.Background()))
	var handled atomic.Int64
	all := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.ResetTimer()
	go func() {
		done <- events.ConsumeCalls(ctx, s, func(context.Context, events.Call) error {
			time.Sleep(benchHandlerTime)
			if handled.Add(1) == int64(b.N) {
				close(all)
			}
			return nil
		}, events.WithLanes(32))
	}()
	<-all
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	require.NoError(b, s.Close())
}
