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
