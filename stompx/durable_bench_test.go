package stompx_test

// Durable events against plain Subscribe and against raw go-stomp with
// client-individual acks, on RabbitMQ, paired in one run: each round
// publishes the same number of events to each consumer's own topic and
// waits for all of them, alternating, so that all three see the same load.
// "raw" is a go-stomp durable subscription (the same queue headers, the
// same prefetch) acking every message with conn.Ack after decoding it with
// encoding/json; "durable" is SubscribeDurable with Subscription.Ack after
// each event; "plain" is Subscribe (WithBlockingEvents, no acks):
//
//	IV_RABBITMQ_ADDR=127.0.0.1:61613 go test -run '^$' -bench PairedDurable -benchmem -count 5 ./stompx

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/stompx"
)

func benchRabbitAddr(b *testing.B) string {
	addr := os.Getenv("IV_RABBITMQ_ADDR")
	if addr == "" {
		if os.Getenv("IV_REQUIRE_BROKER") != "" {
			b.Fatal("IV_REQUIRE_BROKER is set but IV_RABBITMQ_ADDR is empty")
		}
		b.Skip("set IV_RABBITMQ_ADDR to benchmark against RabbitMQ")
	}
	return addr
}

func BenchmarkPairedDurableEvents(b *testing.B) {
	addr := benchRabbitAddr(b)
	const round, prefetch = 500, 1024
	id := randName("")
	topics := map[string]string{}
	for _, k := range []string{"raw", "plain", "durable"} {
		topics[k] = "/topic/durbench." + id + "." + k
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// raw: go-stomp, the same durable queue headers, client-individual acks.
	rawDurable := "stompxbench.raw." + id // deleted with DeleteDurable below
	rawName := "iv.events." + rawDurable
	conn, nc := dialRaw(b, addr)
	defer nc.Close()
	rawSub, err := conn.Subscribe(topics["raw"], stomp.AckClientIndividual,
		stomp.SubscribeOpt.Header("durable", "true"), stomp.SubscribeOpt.Header("auto-delete", "false"),
		stomp.SubscribeOpt.Header("x-queue-name", rawName), stomp.SubscribeOpt.Header("prefetch-count", strconv.Itoa(prefetch)))
	if err != nil {
		b.Fatal(err)
	}
	if err := conn.Send("/topic/raw.sync", "", nil, stomp.SendOpt.Receipt); err != nil {
		b.Fatal(err)
	}
	rawRound := func(n int) {
		for i := 0; i < n; i++ {
			m := <-rawSub.C
			if m == nil || m.Err != nil {
				b.Fatalf("raw subscription ended: %v", m)
			}
			var ev rawEvent
			if err := json.Unmarshal(m.Body, &ev); err != nil || ev.Type != "NEWCALL" {
				b.Fatalf("event %s: %v", m.Body, err)
			}
			if err := conn.Ack(m); err != nil {
				b.Fatal(err)
			}
		}
	}

	tr := dial(b, addr, stompx.WithBlockingEvents())
	plain, err := tr.Subscribe(ctx, topics["plain"])
	if err != nil {
		b.Fatal(err)
	}
	defer plain.Close()
	durName := "stompxbench." + id
	durable, err := tr.SubscribeDurable(ctx, durName, []string{topics["durable"]}, stompx.WithPrefetch(prefetch))
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		durable.Close()
		_ = conn.Disconnect()
		_ = tr.DeleteDurable(context.Background(), durName)
		_ = tr.DeleteDurable(context.Background(), rawDurable)
	}()
	sdkRound := func(s *events.Subscription, ack bool) func(int) {
		return func(n int) {
			for i := 0; i < n; i++ {
				ev, ok := <-s.C()
				if !ok || ev.Type != events.NewCall {
					b.Fatalf("event %v %v: %v", ok, ev.Type, s.Err())
				}
				if ack {
					if err := s.Ack(ev); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
	consumers := []struct {
		name string
		run  func(int)
	}{{"raw", rawRound}, {"plain", sdkRound(plain, false)}, {"durable", sdkRound(durable, true)}}
	elapsed := map[string]time.Duration{}
	b.ReportAllocs()
	b.ResetTimer()
	total := 0
	for ; total < b.N; total += round {
		n := min(round, b.N-total)
		for _, c := range consumers {
			t0 := time.Now()
			errc := publishTo(b, addr, topics[c.name], n)
			c.run(n)
			elapsed[c.name] += time.Since(t0)
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	rate := func(k string) float64 { return float64(b.N) / elapsed[k].Seconds() }
	b.ReportMetric(rate("raw"), "raw-events/s")
	b.ReportMetric(rate("plain"), "plain-events/s")
	b.ReportMetric(rate("durable"), "durable-events/s")
	b.ReportMetric(rate("durable")/rate("plain"), "durable/plain")
	b.ReportMetric(rate("durable")/rate("raw"), "durable/raw")
}

// publishTo sends n events to topic on a connection of its own, in the
// background, as publish does for benchTopic.
func publishTo(b *testing.B, addr, topic string, n int) <-chan error {
	conn, nc := dialRaw(b, addr)
	errc := make(chan error, 1)
	go func() {
		defer nc.Close()
		defer conn.Disconnect()
		for i := 0; i < n; i++ {
			body := fmt.Appendf(nil, `{"direction":"INBOUND","callerid":"2198765456","type":"NEWCALL","uniqueid":"1282781304.2.%d","agent":"default_1001"}`, i)
			if err := conn.Send(topic, "application/json", body); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	return errc
}
