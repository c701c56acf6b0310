package ivotel_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/ivotel"
	"github.com/instantvoice/instantvoice-go/stompx"
	"go.opentelemetry.io/otel/trace"
)

// TestHandlerConsume runs a wrapped handler under events.Consume on a
// durable subscription, two agents on two lanes, with a handler that
// fails each HANGUP once: every attempt is a consumer span and a
// measurement with its outcome, and Consume sees the handler's error (it
// retries the HANGUP, which then succeeds).
func TestHandlerConsume(t *testing.T) {
	p := ivtest.NewPlatform(t, ivtest.WithAgent("default", "1001", "", "Alice"), ivtest.WithAgent("default", "1002", "", "Bob"))
	tel := newTelemetry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	c, err := ivclient.New(tr, p.Key(), ivclient.KeepTransportOpen())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := tr.SubscribeDurable(ctx, "ivotel-consume",
		[]string{events.AgentTopic("default", "1001"), events.AgentTopic("default", "1002")})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	errTransient := errors.New("crm busy")
	var mu sync.Mutex
	failed := make(map[string]bool) // HANGUPs failed once, by uniqueid
	done := make(chan events.Type, 16)
	h := ivotel.Handler(func(ctx context.Context, ev events.Event) error {
		if !trace.SpanFromContext(ctx).IsRecording() {
			t.Errorf("%s: no recording span in the handler's context", ev.Type)
		}
		if ev.Type == events.Hangup {
			mu.Lock()
			first := !failed[ev.UniqueID]
			failed[ev.UniqueID] = true
			mu.Unlock()
			if first {
				return errTransient
			}
		}
		done <- ev.Type
		return nil
	}, ivotel.WithTracerProvider(tel.tp), ivotel.WithMeterProvider(tel.mp))

	cctx, stop := context.WithCancel(ctx)
	consumed := make(chan error, 1)
	go func() {
		consumed <- events.Consume(cctx, sub, h, events.WithLanes(2), events.WithRetry(3, 10*time.Millisecond))
	}()

	for _, user := range []string{"1001", "1002"} {
		if err := c.AgentLogin(ctx, "default", user, "SIP/default_"+user); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.OutboundCall("default", "1001", "5551234", ivtest.NoAnswer); err != nil {
		t.Fatal(err)
	}
	handled := make(map[events.Type]int)
	for n := 0; n < 6; n++ { // LOGIN, LOGIN, NEWCALL, CONNECT, DNEWCALL, HANGUP
		select {
		case typ := <-done:
			handled[typ]++
		case <-ctx.Done():
			t.Fatalf("handled %v: %v", handled, ctx.Err())
		}
	}
	stop()
	if err := <-consumed; !errors.Is(err, context.Canceled) {
		t.Errorf("Consume: %v", err)
	}

	// Every event was settled (the HANGUP after its second attempt), none
	// dead-lettered: the queue empties once the broker has the acks.
	for {
		q, ok := p.BrokerQueue("iv.events.ivotel-consume")
		if !ok {
			t.Fatal("no queue iv.events.ivotel-consume")
		}
		if q.Ready == 0 && q.Unacked == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("queue %+v: events left unsettled", q)
		case <-time.After(10 * time.Millisecond):
		}
	}

	const tail = ",messaging.destination.template=/topic/iv.agents.{agent},messaging.operation.name=process,messaging.system=rabbitmq"
	want := map[string]uint64{
		"instantvoice.event.type=LOGIN" + tail:                                 2,
		"instantvoice.event.type=NEWCALL" + tail:                               1,
		"instantvoice.event.type=CONNECT" + tail:                               1,
		"instantvoice.event.type=DNEWCALL" + tail:                              1,
		"instantvoice.event.type=HANGUP" + tail:                                1,
		"error.type=*errors.errorString,instantvoice.event.type=HANGUP" + tail: 1,
	}
	if got := counts(histogram(t, tel.metrics(t), "messaging.process.duration")); !equalCounts(got, want) {
		t.Errorf("histogram counts:\n got %v\nwant %v", got, want)
	}
	if n := len(tel.spans.Ended()); n != 7 {
		t.Errorf("%d spans, want 7 (one per attempt)", n)
	}
}
