package ivotel_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/ivotel"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// rabbitAddr returns the RabbitMQ of IV_RABBITMQ_ADDR, skipping the test
// when none is set, and failing it when IV_REQUIRE_BROKER=1 and none
// answers.
func rabbitAddr(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("IV_RABBITMQ_ADDR")
	if addr == "" {
		if os.Getenv("IV_REQUIRE_BROKER") == "1" {
			t.Fatal("IV_REQUIRE_BROKER=1 but IV_RABBITMQ_ADDR is empty")
		}
		t.Skip("IV_RABBITMQ_ADDR is not set")
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		if os.Getenv("IV_REQUIRE_BROKER") == "1" {
			t.Fatalf("no broker at IV_RABBITMQ_ADDR=%s: %v", addr, err)
		}
		t.Skipf("no broker at IV_RABBITMQ_ADDR=%s: %v", addr, err)
	}
	c.Close()
	return addr
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestRabbitMQ: calls and events through RabbitMQ, the platform's broker
// (ivtest's processor attached to it): a span and a measurement per call
// and per event handled, the event's topic as RabbitMQ delivers it reduced
// to its template in the metric, and the key nowhere.
func TestRabbitMQ(t *testing.T) {
	const login, passcode = "instantvoice", "sT0MpM3"
	addr := rabbitAddr(t)
	// A request queue of this test only, and an accountcode and a key of
	// this run only: a request an earlier run left in the queue carries
	// that run's key, which this platform refuses.
	const queue = "/queue/iv.ivotel.test"
	acct, key := "ot"+randHex(4), "k"+randHex(8)
	ivtest.NewPlatform(t, ivtest.WithExternalBroker(addr, login, passcode), ivtest.WithRequestQueue(queue),
		ivtest.WithAccountcodes(acct), ivtest.WithKey(key), ivtest.WithAgent(acct, "1001", "", "Alice"))
	tel := newTelemetry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := stompx.Dial(ctx, addr, stompx.WithLogin(login, passcode), stompx.WithRequestQueue(queue))
	if err != nil {
		t.Fatal(err)
	}
	opts := []ivotel.Option{ivotel.WithTracerProvider(tel.tp), ivotel.WithMeterProvider(tel.mp)}
	c, err := ivclient.New(tr, key, ivotel.Observer(opts...))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := tr.Subscribe(ctx, events.AgentTopic(acct, "1001"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	if err := c.AgentLogin(ctx, acct, "1001", "SIP/"+acct+"_0001"); err != nil {
		t.Fatal(err)
	}
	if err := c.AgentLogin(ctx, acct, "1001", "SIP/"+acct+"_0001"); !errors.Is(err, codes.ErrDuplicate) {
		t.Fatalf("second AgentLogin: %v", err)
	}
	var ev events.Event
	select {
	case ev = <-sub.C():
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	h := ivotel.Handler(func(context.Context, events.Event) error { return nil }, opts...)
	if err := h(ctx, ev); err != nil {
		t.Fatal(err)
	}

	rm := tel.metrics(t)
	calls := map[string]uint64{
		call{"AgentLogin", "OK", ""}.metricLabel():                                   1,
		call{"AgentLogin", "RESPONSE_DUPLICATE", "RESPONSE_DUPLICATE"}.metricLabel(): 1,
	}
	if got := counts(histogram(t, rm, "rpc.client.call.duration")); !equalCounts(got, calls) {
		t.Errorf("call counts:\n got %v\nwant %v", got, calls)
	}
	handled := map[string]uint64{
		"instantvoice.event.type=LOGIN,messaging.destination.template=/topic/iv.agents.{agent},messaging.operation.name=process,messaging.system=rabbitmq": 1,
	}
	if got := counts(histogram(t, rm, "messaging.process.duration")); !equalCounts(got, handled) {
		t.Errorf("event counts (topic %q):\n got %v\nwant %v", ev.Topic, got, handled)
	}
	spans := tel.spans.Ended()
	if len(spans) != 3 {
		t.Errorf("%d spans, want 3", len(spans))
	}
	for _, s := range everything(spans, rm) {
		if strings.Contains(s, key) {
			t.Errorf("the key in the telemetry: %q", s)
		}
	}
}
