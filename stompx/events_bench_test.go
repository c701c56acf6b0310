package stompx_test

// End-to-end event throughput: events published on an agent topic of
// ivtest's embedded broker by a raw go-stomp publisher, received through a
// subscription. "raw" is a go-stomp subscription whose reader decodes each
// body with encoding/json into a struct; "sdk" is stompx.Transport.Subscribe
// delivering events.Event values. Both wait for every event (the SDK
// subscription blocks instead of dropping, as go-stomp does), so events/s
// compare like for like:
//
//	go test -run '^$' -bench BenchmarkEvents -benchmem -count 5 ./stompx

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

type rawEvent struct {
	Direction string `json:"direction"`
	CallerID  string `json:"callerid"`
	Type      string `json:"type"`
	UniqueID  string `json:"uniqueid"`
	Agent     string `json:"agent"`
	Reason    string `json:"reason"`
}

const benchTopic = "/topic/iv.agents.default_1001"

// publish sends n events to benchTopic on its own connection, in the
// background; the returned channel yields the publisher's error, if any.
func publish(b *testing.B, addr string, n int) <-chan error {
	conn, nc := dialRaw(b, addr)
	errc := make(chan error, 1)
	go func() {
		defer nc.Close()
		defer conn.Disconnect()
		for i := 0; i < n; i++ {
			body := fmt.Appendf(nil, `{"direction":"INBOUND","callerid":"2198765456","type":"NEWCALL","uniqueid":"1282781304.2.%d","agent":"default_1001"}`, i)
			if err := conn.Send(benchTopic, "application/json", body); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	return errc
}

func BenchmarkEvents(b *testing.B) {
	b.Run("raw", func(b *testing.B) {
		p := ivtest.NewPlatform(b)
		conn, nc := dialRaw(b, p.STOMPAddr())
		defer nc.Close()
		sub, err := conn.Subscribe(benchTopic, stomp.AckAuto)
		if err != nil {
			b.Fatal(err)
		}
		if err := conn.Send("/topic/raw.sync", "", nil, stomp.SendOpt.Receipt); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		errc := publish(b, p.STOMPAddr(), b.N)
		for i := 0; i < b.N; i++ {
			m := <-sub.C
			if m == nil || m.Err != nil {
				b.Fatalf("subscription ended: %v", m)
			}
			var ev rawEvent
			if err := json.Unmarshal(m.Body, &ev); err != nil || ev.Type != "NEWCALL" {
				b.Fatalf("event %s: %v", m.Body, err)
			}
		}
		b.StopTimer()
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("sdk", func(b *testing.B) {
		p := ivtest.NewPlatform(b)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		tr, err := stompx.Dial(ctx, p.STOMPAddr(), stompx.WithBlockingEvents())
		if err != nil {
			b.Fatal(err)
		}
		defer tr.Close()
		sub, err := tr.Subscribe(ctx, benchTopic)
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
		b.ReportAllocs()
		b.ResetTimer()
		errc := publish(b, p.STOMPAddr(), b.N)
		for i := 0; i < b.N; i++ {
			ev, ok := <-sub.C()
			if !ok || ev.Type != events.NewCall {
				b.Fatalf("event %v %v: %v", ok, ev.Type, sub.Err())
			}
		}
		b.StopTimer()
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkPairedEvents alternates rounds of 1,000 events, published by a
// raw go-stomp connection, received by a raw go-stomp subscriber decoding
// each body into a struct, then by an SDK subscription (each on a topic of
// its own, so that neither sees the other's events; which goes first
// alternates), on each broker of benchBrokers. Both wait for every event (the SDK blocks instead of
// dropping, as go-stomp does).
func BenchmarkPairedEvents(b *testing.B) {
	benchBrokers(b, func(b *testing.B, tg benchTarget) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		suffix := randName("b")
		rawTopic := "/topic/iv.agents.raw" + suffix + "_1001"
		sdkTopic := "/topic/iv.agents.sdk" + suffix + "_1001"

		conn, nc := dialRaw(b, tg.addr)
		defer nc.Close()
		rawSub, err := conn.Subscribe(rawTopic, stomp.AckAuto)
		if err != nil {
			b.Fatal(err)
		}
		if err := conn.Send("/topic/raw.sync", "", nil, stomp.SendOpt.Receipt); err != nil {
			b.Fatal(err)
		}
		tr := tg.dial(b, stompx.WithBlockingEvents())
		sdkSub, err := tr.Subscribe(ctx, sdkTopic)
		if err != nil {
			b.Fatal(err)
		}
		defer sdkSub.Close()
		pub, pubNC := dialRaw(b, tg.addr)
		defer pubNC.Close()

		const per = 1000
		bodies := make([][]byte, per)
		for i := range bodies {
			bodies[i] = fmt.Appendf(nil, `{"direction":"INBOUND","callerid":"2198765456","type":"NEWCALL","uniqueid":"1282781304.2.%d","agent":"default_1001"}`, i)
		}
		round := func(topic string, recv func()) time.Duration {
			errc := make(chan error, 1)
			t0 := time.Now()
			go func() {
				for _, body := range bodies {
					if err := pub.Send(topic, "application/json", body); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			recv()
			d := time.Since(t0)
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
			return d
		}
		rawRecv := func() {
			for i := 0; i < per; i++ {
				m := <-rawSub.C
				if m == nil || m.Err != nil {
					b.Fatalf("raw subscription ended: %v", m)
				}
				var ev rawEvent
				if err := json.Unmarshal(m.Body, &ev); err != nil || ev.Type != "NEWCALL" {
					b.Fatalf("event %s: %v", m.Body, err)
				}
			}
		}
		sdkRecv := func() {
			for i := 0; i < per; i++ {
				ev, ok := <-sdkSub.C()
				if !ok || ev.Type != events.NewCall {
					b.Fatalf("event %v %v: %v", ok, ev.Type, sdkSub.Err())
				}
			}
		}
		var rawT, sdkT time.Duration
		n := 0
		b.ResetTimer()
		for ; n < b.N; n += per {
			alternate(n/per,
				func() { rawT += round(rawTopic, rawRecv) },
				func() { sdkT += round(sdkTopic, sdkRecv) })
		}
		rawRate, sdkRate := float64(n)/rawT.Seconds(), float64(n)/sdkT.Seconds()
		b.ReportMetric(rawRate, "raw-events/s")
		b.ReportMetric(sdkRate, "sdk-events/s")
		b.ReportMetric(sdkRate/rawRate, "sdk/raw")
	})
}
