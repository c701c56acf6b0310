package ivotel_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/ivotel"
	"github.com/instantvoice/instantvoice-go/stompx"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// TestHandler wraps a handler that fails on HANGUP and calls it with the
// events of an agent's subscription (a login, a call that is not answered,
// an event of a type the reference does not define): one consumer span per
// event, the handler's error returned unchanged and on its span, counts by
// type and outcome, no agent, uniqueid or topic in the metrics, no key
// anywhere.
func TestHandler(t *testing.T) {
	const key = "S3cretKey0tel"
	p := ivtest.NewPlatform(t, ivtest.WithKey(key), ivtest.WithAgent("default", "1001", "", "Alice"))
	tel := newTelemetry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ivclient.New(tr, key, ivotel.Observer(ivotel.WithTracerProvider(tel.tp), ivotel.WithMeterProvider(tel.mp)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := tr.Subscribe(ctx, events.AgentTopic("default", "1001"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	errHangup := errors.New("crm down")
	var inner []trace.SpanContext // the span each event's handler saw in its context
	h := ivotel.Handler(func(ctx context.Context, ev events.Event) error {
		inner = append(inner, trace.SpanContextFromContext(ctx))
		if ev.Type == events.Hangup {
			return errHangup
		}
		return nil
	}, ivotel.WithTracerProvider(tel.tp), ivotel.WithMeterProvider(tel.mp))

	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_0001"); err != nil {
		t.Fatal(err)
	}
	uid, err := p.OutboundCall("default", "1001", "5551234", ivtest.NoAnswer)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PublishEvent(events.Event{Type: "WEIRD", Agent: "default_1001", UniqueID: "u-weird"}); err != nil {
		t.Fatal(err)
	}
	var got []events.Event
	for len(got) == 0 || got[len(got)-1].Type != "WEIRD" {
		select {
		case ev := <-sub.C():
			got = append(got, ev)
			err := h(ctx, ev)
			if want := error(nil); ev.Type == events.Hangup {
				want = errHangup
				if err != want { // unchanged, not wrapped
					t.Fatalf("HANGUP: handler returned %v, want %v itself", err, want)
				}
			} else if err != want {
				t.Fatalf("%s: handler returned %v", ev.Type, err)
			}
		case <-ctx.Done():
			t.Fatalf("events so far: %v; %v", got, ctx.Err())
		}
	}

	all := tel.spans.Ended()
	var spans []int // indexes of the consumer spans in all
	for i, s := range all {
		if s.SpanKind() == trace.SpanKindConsumer {
			spans = append(spans, i)
		}
	}
	if len(spans) != len(got) {
		t.Fatalf("%d consumer spans for %d events", len(spans), len(got))
	}
	want := make(map[string]uint64)
	hangups := 0
	for n, i := range spans {
		s, ev := all[i], got[n]
		a := attrs(s)
		if s.Name() != "process /topic/iv.agents.{agent}" {
			t.Errorf("span %d: name %q", n, s.Name())
		}
		if s.SpanContext().SpanID() != inner[n].SpanID() {
			t.Errorf("span %d: the handler's context did not carry it", n)
		}
		for k, v := range map[string]string{
			"messaging.system": "rabbitmq", "messaging.operation.type": "process", "messaging.operation.name": "process",
			"messaging.destination.name": "/topic/iv.agents.default_1001", "messaging.destination.template": "/topic/iv.agents.{agent}",
			"messaging.message.conversation_id": ev.UniqueID, "instantvoice.event.type": string(ev.Type),
			"instantvoice.event.agent": "default_1001", "instantvoice.event.reason": ev.Reason,
		} {
			if got := a[attributeKey(k)].String(); got != v {
				t.Errorf("span %d (%s): %s = %q, want %q", n, ev.Type, k, got, v)
			}
		}
		if a["messaging.message.body.size"].AsInt64() != int64(len(ev.Raw)) {
			t.Errorf("span %d: body size %v, want %d", n, a["messaging.message.body.size"], len(ev.Raw))
		}
		typ, outcome := string(ev.Type), ""
		if !ev.Type.Known() {
			typ = "_OTHER"
		}
		if ev.Type == events.Hangup {
			hangups++
			outcome = "error.type=*errors.errorString,"
			if st := s.Status(); st.Code != otelcodes.Error || st.Description != "crm down" || len(s.Events()) != 1 {
				t.Errorf("HANGUP span: status %v, %d events", st, len(s.Events()))
			}
			if ev.UniqueID != uid {
				t.Errorf("HANGUP of %q, want the call's %q", ev.UniqueID, uid)
			}
		} else if st := s.Status(); st.Code != otelcodes.Unset {
			t.Errorf("span %d (%s): status %v", n, ev.Type, st)
		}
		want[outcome+"instantvoice.event.type="+typ+",messaging.destination.template=/topic/iv.agents.{agent},messaging.operation.name=process,messaging.system=rabbitmq"]++
	}
	if hangups != 1 {
		t.Errorf("%d HANGUP events, want 1", hangups)
	}
	rm := tel.metrics(t)
	if got := counts(histogram(t, rm, "messaging.process.duration")); !equalCounts(got, want) {
		t.Errorf("histogram counts:\n got %v\nwant %v", got, want)
	}
	for _, s := range everything(all, rm) {
		if strings.Contains(s, key) {
			t.Errorf("the key in the telemetry: %q", s)
		}
	}
	for _, p := range histogram(t, rm, "messaging.process.duration") {
		for _, kv := range p.Attributes.ToSlice() {
			v := kv.Value.String()
			if strings.Contains(v, "1001") || strings.Contains(v, uid) || kv.Key == "messaging.destination.name" {
				t.Errorf("a metric attribute names an agent, a call or a topic: %s=%s", kv.Key, v)
			}
		}
	}
}

// TestHandlerOptions: a nil handler, a nil option or a bad value makes a
// handler that fails every event with an error matching ErrInvalidArgument
// and naming it; WithMessagingSystem sets messaging.system; an event from
// no topic gives a span named "process".
func TestHandlerOptions(t *testing.T) {
	ok := func(context.Context, events.Event) error { return nil }
	for _, tc := range []struct {
		h    events.Handler
		opts []ivotel.Option
		text string
	}{
		{nil, nil, "ivotel: Handler: invalid argument: h is nil"},
		{ok, []ivotel.Option{nil}, "ivotel: Handler: invalid argument: option 1 is nil"},
		{ok, []ivotel.Option{ivotel.WithMeterProvider(nil), ivotel.WithMessagingSystem("")}, "ivotel: Handler: invalid argument: WithMessagingSystem: name is empty"},
	} {
		err := ivotel.Handler(tc.h, tc.opts...)(context.Background(), events.Event{Type: events.Login})
		if !errors.Is(err, ivclient.ErrInvalidArgument) || err.Error() != tc.text {
			t.Errorf("handler: %v, want %q matching ErrInvalidArgument", err, tc.text)
		}
	}

	tel := newTelemetry(t)
	h := ivotel.Handler(ok, ivotel.WithTracerProvider(tel.tp), ivotel.WithMeterProvider(tel.mp), ivotel.WithMessagingSystem("activemq"))
	if err := h(nil, events.Event{Type: events.Login}); !errors.Is(err, ivclient.ErrInvalidArgument) || err.Error() != "ivotel: Handler: invalid argument: nil context" {
		t.Errorf("a nil context: %v", err)
	}
	ev, err := events.Decode([]byte(`{"type":"LOGIN","agent":"default_1001"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := h(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	spans := tel.spans.Ended()
	if len(spans) != 1 || spans[0].Name() != "process" || attrs(spans[0])["messaging.system"].AsString() != "activemq" {
		t.Fatalf("spans: %v", spans)
	}
	want := map[string]uint64{"instantvoice.event.type=LOGIN,messaging.operation.name=process,messaging.system=activemq": 1}
	if got := counts(histogram(t, tel.metrics(t), "messaging.process.duration")); !equalCounts(got, want) {
		t.Errorf("histogram counts:\n got %v\nwant %v", got, want)
	}
}

// TestHandlerConcurrent: a handler called from many goroutines at once, as
// events.Consume's lanes call it, records each event once.
func TestHandlerConcurrent(t *testing.T) {
	const goroutines, per = 8, 30
	tel := newTelemetry(t)
	errNo := errors.New("no")
	h := ivotel.Handler(func(_ context.Context, ev events.Event) error {
		if ev.Type == events.Pause {
			return errNo
		}
		return nil
	}, ivotel.WithTracerProvider(tel.tp), ivotel.WithMeterProvider(tel.mp))
	types := []events.Type{events.Login, events.Pause, events.Unpause}
	done := make(chan struct{})
	for g := range goroutines {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range per {
				user := strconv.Itoa(1000 + g)
				ev := events.Event{Type: types[i%len(types)], Agent: "default_" + user, Topic: events.AgentTopic("default", user)}
				if err := h(context.Background(), ev); (err != nil) != (ev.Type == events.Pause) {
					t.Errorf("%s: %v", ev.Type, err)
				}
			}
		}()
	}
	for range goroutines {
		<-done
	}
	got := counts(histogram(t, tel.metrics(t), "messaging.process.duration"))
	const tail = ",messaging.destination.template=/topic/iv.agents.{agent},messaging.operation.name=process,messaging.system=rabbitmq"
	n := uint64(goroutines * per / len(types))
	want := map[string]uint64{
		"instantvoice.event.type=LOGIN" + tail:                                n,
		"error.type=*errors.errorString,instantvoice.event.type=PAUSE" + tail: n,
		"instantvoice.event.type=UNPAUSE" + tail:                              n,
	}
	if !equalCounts(got, want) {
		t.Errorf("histogram counts:\n got %v\nwant %v", got, want)
	}
	if s := len(tel.spans.Ended()); s != goroutines*per {
		t.Errorf("%d spans, want %d", s, goroutines*per)
	}
}

// TestHandlerRedelivered: an event a durable subscription delivers again,
// after its first consumer's connection ended without acking it, is marked
// on its span (and only there).
func TestHandlerRedelivered(t *testing.T) {
	p := ivtest.NewPlatform(t)
	tel := newTelemetry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	topics := []string{events.AgentTopic("default", "1001")}
	first, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		t.Fatal(err)
	}
	sub, err := first.SubscribeDurable(ctx, "ivotel-redelivered", topics)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PublishEvent(events.Event{Type: events.Login, Agent: "default_1001"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.C(): // taken, never acked
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	first.Close()

	second, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	sub, err = second.SubscribeDurable(ctx, "ivotel-redelivered", topics)
	if err != nil {
		t.Fatal(err)
	}
	h := ivotel.Handler(func(context.Context, events.Event) error { return nil },
		ivotel.WithTracerProvider(tel.tp), ivotel.WithMeterProvider(tel.mp))
	select {
	case ev := <-sub.C():
		if !ev.Redelivered {
			t.Fatalf("event not marked redelivered: %+v", ev)
		}
		if err := h(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if err := sub.Ack(ev); err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	spans := tel.spans.Ended()
	if len(spans) != 1 || !attrs(spans[0])["instantvoice.event.redelivered"].AsBool() {
		t.Fatalf("spans %v: want one, marked redelivered", spans)
	}
	for _, dp := range histogram(t, tel.metrics(t), "messaging.process.duration") {
		if _, ok := dp.Attributes.Value("instantvoice.event.redelivered"); ok {
			t.Errorf("redelivery is a metric attribute: %s", label(dp.Attributes))
		}
	}
}
