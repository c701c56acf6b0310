package ivotel

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/errs"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/messagingconv"
	"go.opentelemetry.io/otel/trace"
)

// The attributes of an event's span that the conventions do not name.
const (
	// EventTypeKey is the event's type ("NEWCALL", ...). It is a metric
	// attribute too, with "_OTHER" for a type the platform's reference
	// does not define.
	EventTypeKey = attribute.Key("instantvoice.event.type")
	// EventAgentKey is the event's agent ("default_1001"); spans only.
	EventAgentKey = attribute.Key("instantvoice.event.agent")
	// EventReasonKey is a HANGUP's reason ("BYCALLER"); spans only.
	EventReasonKey = attribute.Key("instantvoice.event.reason")
	// EventRedeliveredKey is true on an event a durable subscription
	// delivered before (events.Event.Redelivered); spans only.
	EventRedeliveredKey = attribute.Key("instantvoice.event.redelivered")
)

// agentTemplate is the messaging.destination.template of an agent's topic.
const agentTemplate = events.TopicPrefix + "{agent}"

// Handler wraps an events.Handler: each event handled is a span (kind
// consumer) and counted, with its outcome; an error returned by h is
// recorded on the span and returned unchanged.
//
// The span follows the messaging conventions for a "process" operation:
// it is named "process /topic/iv.agents.{agent}" (the operation and the
// destination's template; "process" alone for an event that came from no
// topic), is a child of the span in h's context if there is one (the
// platform's events carry no trace context to link to), and carries
// messaging.system (see WithMessagingSystem), messaging.operation.type and
// .name ("process"), messaging.destination.name (the topic) and .template,
// messaging.message.conversation_id (the call's uniqueid),
// messaging.message.body.size, and the event's type, agent, hangup reason
// and redelivery (EventTypeKey, ...). h runs with the span in its context.
// When h fails, the span has status Error with the error's text, the error
// as an exception event, and error.type (the error's Go type, as
// semconv.ErrorType gives it).
//
// Each event is also one measurement of the histogram
// messaging.process.duration, in seconds, by messaging.system,
// messaging.operation.name, messaging.destination.template, event type
// and error.type (absent on success): never an agent, a uniqueid or a
// topic that names an agent.
//
// A nil h, a nil option or an option with a bad value makes a handler that
// records nothing and fails every event with an error wrapping
// ivclient.ErrInvalidArgument that names it (the signature has no other
// way to say so). A handler called with a nil context fails the same way,
// without calling h.
func Handler(h events.Handler, opts ...Option) events.Handler {
	const op = "ivotel: Handler"
	c, err := newConfig(op, opts)
	if err == nil && h == nil {
		err = errs.Wrap(op, errs.ErrInvalidArgument, "h is nil", nil)
	}
	if err != nil {
		return func(context.Context, events.Event) error { return err }
	}
	x := &handler{
		h:      h,
		tracer: c.tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		system: semconv.MessagingSystemKey.String(c.system),
		kind:   trace.WithSpanKind(trace.SpanKindConsumer),
		sets:   make(map[setKey]metric.RecordOption),
	}
	d, _ := messagingconv.NewProcessDuration(c.mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL)))
	x.duration = d.Inst()
	return x.handle
}

// handler is what Handler returns.
type handler struct {
	h        events.Handler
	tracer   trace.Tracer
	duration metric.Float64Histogram
	system   attribute.KeyValue
	kind     trace.SpanStartOption // SpanKindConsumer

	mu   sync.RWMutex
	sets map[setKey]metric.RecordOption // metric attributes, made once each
}

// setKey is what an event's metric attributes are made of.
type setKey struct{ template, typ, errType string }

// handle handles one event.
func (x *handler) handle(ctx context.Context, ev events.Event) error {
	if ctx == nil {
		return errs.Wrap("ivotel: Handler", errs.ErrInvalidArgument, "nil context", nil)
	}
	start := time.Now()
	tmpl := template(ev.Topic)
	name := "process"
	if tmpl != "" {
		name += " " + tmpl
	}
	ctx, span := x.tracer.Start(ctx, name, x.kind, trace.WithTimestamp(start),
		trace.WithAttributes(x.spanAttrs(ev, tmpl)...))
	err := x.h(ctx, ev)
	end := time.Now()
	k := setKey{template: tmpl, typ: string(ev.Type)}
	if !ev.Type.Known() {
		k.typ = "_OTHER"
	}
	if err != nil {
		k.errType = semconv.ErrorType(err).Value.AsString()
		span.SetAttributes(semconv.ErrorTypeKey.String(k.errType))
		span.RecordError(err, trace.WithTimestamp(end))
		span.SetStatus(otelcodes.Error, err.Error())
	}
	span.End(trace.WithTimestamp(end))
	if x.duration.Enabled(ctx) {
		x.duration.Record(ctx, end.Sub(start).Seconds(), x.set(k))
	}
	return err
}

// spanAttrs returns the attributes of ev's span.
func (x *handler) spanAttrs(ev events.Event, tmpl string) []attribute.KeyValue {
	kv := make([]attribute.KeyValue, 0, 12)
	kv = append(kv, x.system, semconv.MessagingOperationTypeProcess, semconv.MessagingOperationName("process"),
		EventTypeKey.String(string(ev.Type)), semconv.MessagingMessageBodySize(len(ev.Raw)))
	if ev.Topic != "" {
		kv = append(kv, semconv.MessagingDestinationName(ev.Topic))
	}
	if tmpl != "" {
		kv = append(kv, semconv.MessagingDestinationTemplate(tmpl))
	}
	if ev.UniqueID != "" {
		kv = append(kv, semconv.MessagingMessageConversationID(ev.UniqueID))
	}
	if ev.Agent != "" {
		kv = append(kv, EventAgentKey.String(ev.Agent))
	}
	if ev.Reason != "" {
		kv = append(kv, EventReasonKey.String(ev.Reason))
	}
	if ev.Redelivered {
		kv = append(kv, EventRedeliveredKey.Bool(true))
	}
	return kv
}

// set returns the metric attributes for k, made once.
func (x *handler) set(k setKey) metric.RecordOption {
	x.mu.RLock()
	s, ok := x.sets[k]
	x.mu.RUnlock()
	if ok {
		return s
	}
	kv := []attribute.KeyValue{x.system, semconv.MessagingOperationName("process"), EventTypeKey.String(k.typ)}
	if k.template != "" {
		kv = append(kv, semconv.MessagingDestinationTemplate(k.template))
	}
	if k.errType != "" {
		kv = append(kv, semconv.ErrorTypeKey.String(k.errType))
	}
	s = metric.WithAttributeSet(attribute.NewSet(kv...))
	x.mu.Lock()
	x.sets[k] = s
	x.mu.Unlock()
	return s
}

// template returns the low-cardinality form of an event's topic: an
// agent's topic becomes "/topic/iv.agents.{agent}", a wildcard topic stays
// as it is, and any other topic (or none) gives "".
func template(topic string) string {
	rest, ok := strings.CutPrefix(topic, events.TopicPrefix)
	switch {
	case !ok || rest == "":
		return ""
	case strings.ContainsAny(rest, "#*>"):
		return topic
	}
	return agentTemplate
}
