package ivotel

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/internal/catalog"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/rpcconv"
	"go.opentelemetry.io/otel/trace"
)

// RPCSystem is the rpc.system.name of the calls' spans and metrics. The
// conventions' list (grpc, dubbo, connectrpc, jsonrpc) is open, and none of
// its systems is the platform's request/reply protocol, which is the same
// whichever transport carries it.
const RPCSystem = "instantvoice"

// Observer returns an ivclient option (built on ivclient.WithObserver) that
// records every call of the client as a span and in metrics, through the
// providers given (default: the global ones). A platform code sets the
// span's status to Error with the code's name; the key never appears.
//
// Each call is one span of kind client named after the method
// ("AgentLogin"), a child of the span in the call's context, from the
// call's start to its end (the observer runs after the call, so the span
// is made with both times given). It carries rpc.system.name
// ("instantvoice"), rpc.method, rpc.response.status_code (the platform's
// code name, "OK" or "RESPONSE_NOT_FOUND", when the platform answered) and
// error.type when the call failed: the code's name, or for a call that got
// no code the SDK's error it matches ("ivclient.ErrInvalidArgument",
// "ivclient.ErrConnectionLost", "context.DeadlineExceeded", ... or
// "_OTHER"). A failed call's span has status Error, described by the code's
// name or by the error's text, and the error as an exception event. Calls
// refused before anything was sent (an invalid argument, a closed client)
// are recorded the same way.
//
// Each call is also one measurement of the histogram
// rpc.client.call.duration, in seconds, with the same four attributes (a
// code the platform does not define is "_OTHER" there, not its number):
// nothing about the call's arguments, so no agent, uniqueid or number, and
// a series per method and outcome. One Observer may serve many clients.
//
// A nil option, or an option with a bad value, makes ivclient.New fail with
// an error wrapping ivclient.ErrInvalidArgument that names it.
func Observer(opts ...Option) ivclient.Option {
	c, err := newConfig("ivotel: Observer", opts)
	if err != nil {
		return failing(ivclient.WithObserver(func(context.Context, ivclient.CallInfo) {}), err)
	}
	return ivclient.WithObserver(newObserver(c).observe)
}

// failing returns an option of the type of its first argument that fails
// with err. The type parameters let it make an ivclient.Option, whose
// argument type is not exported, from any one such option.
func failing[O ~func(P) error, P any](_ O, err error) O {
	return func(P) error { return err }
}

// observer records calls. It is read-only once made.
type observer struct {
	tracer   trace.Tracer
	kind     trace.SpanStartOption // SpanKindClient
	duration metric.Float64Histogram
	methods  map[string]*method // the client's methods, by name
	outcomes []outcome
	codeAt   map[codes.Code]int // the outcome index of each known non-zero code
	sdkErrs  []sdkError         // outcomes 2.. in order
}

// method holds the attributes of calls of one method made so far, one
// per outcome, so that most calls make none.
type method struct {
	name  string // rpc.method
	attrs []atomic.Pointer[attrs]
}

// outcome is how a call ended.
type outcome struct {
	status  string // rpc.response.status_code, when the platform answered
	errType string // error.type, when the call failed
}

// sdkError is an outcome of calls that got no return code: the error they
// match, and its error.type.
type sdkError struct {
	err  error
	name string
}

// sdkErrors returns the errors a call can match besides a return code.
func sdkErrors() []sdkError {
	return []sdkError{
		{ivclient.ErrInvalidArgument, "ivclient.ErrInvalidArgument"},
		{ivclient.ErrInvalidKey, "ivclient.ErrInvalidKey"},
		{ivclient.ErrClosed, "ivclient.ErrClosed"},
		{ivclient.ErrNotSupported, "ivclient.ErrNotSupported"},
		{ivclient.ErrConnectionLost, "ivclient.ErrConnectionLost"},
		{ivclient.ErrMalformedReply, "ivclient.ErrMalformedReply"},
		{context.DeadlineExceeded, "context.DeadlineExceeded"},
		{context.Canceled, "context.Canceled"},
	}
}

const (
	outcomeOK    = 0
	outcomeOther = 1 // an error none of the others is
)

// newObserver makes the observer of c's providers: its instruments, and
// the table of outcomes its attributes are cached by.
func newObserver(c *config) *observer {
	o := &observer{
		tracer:  c.tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		methods: make(map[string]*method),
		codeAt:  make(map[codes.Code]int),
		sdkErrs: sdkErrors(),
		kind:    trace.WithSpanKind(trace.SpanKindClient),
	}
	o.outcomes = []outcome{
		outcomeOK:    {status: codes.OK.String()},
		outcomeOther: {errType: semconv.ErrorTypeOther.Value.AsString()},
	}
	for _, e := range o.sdkErrs {
		o.outcomes = append(o.outcomes, outcome{errType: e.name})
	}
	for _, k := range codes.All() {
		if k != codes.OK {
			o.codeAt[k] = len(o.outcomes)
			o.outcomes = append(o.outcomes, outcome{status: k.String(), errType: k.String()})
		}
	}
	// An unknown code: its number is in the span, "_OTHER" in the metric.
	o.outcomes = append(o.outcomes, outcome{status: "_OTHER", errType: "_OTHER"})
	for _, m := range catalog.Methods() {
		o.methods[m.Name] = &method{name: m.Name, attrs: make([]atomic.Pointer[attrs], len(o.outcomes))}
	}
	// A meter that refuses the instrument still gives a working no-op one.
	d, _ := rpcconv.NewClientCallDuration(c.mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL)))
	o.duration = d.Inst()
	return o
}

// classify returns the index of err's outcome, and for a platform code the
// code.
func (o *observer) classify(err error) (int, *codes.Error) {
	if err == nil {
		return outcomeOK, nil
	}
	var ce *codes.Error
	if errors.As(err, &ce) {
		if i, ok := o.codeAt[ce.Code]; ok {
			return i, ce
		}
		return len(o.outcomes) - 1, ce
	}
	for i, e := range o.sdkErrs {
		if errors.Is(err, e.err) {
			return 2 + i, nil
		}
	}
	return outcomeOther, nil
}

// observe records one finished call.
func (o *observer) observe(ctx context.Context, info ivclient.CallInfo) {
	end := time.Now()
	i, ce := o.classify(info.Err)
	var a *attrs
	if m, ok := o.methods[info.Method]; ok && (ce == nil || ce.Code.Known()) {
		a = o.cached(m, i)
	} else {
		a = o.attrs(info.Method, i, ce)
	}
	_, span := o.tracer.Start(ctx, a.name, o.kind, trace.WithTimestamp(end.Add(-info.Duration)), a.spanOpt)
	if info.Err != nil && span.IsRecording() {
		span.RecordError(info.Err, trace.WithTimestamp(end))
		if ce != nil {
			span.SetStatus(otelcodes.Error, ce.Code.String())
		} else {
			span.SetStatus(otelcodes.Error, info.Err.Error())
		}
	}
	span.End(trace.WithTimestamp(end))
	if o.duration.Enabled(ctx) {
		o.duration.Record(ctx, info.Duration.Seconds(), a.setOpt)
	}
}

// attrs are the attributes of a call's span and metric.
type attrs struct {
	name    string                // the span's name: rpc.method
	spanOpt trace.SpanStartOption // the span's attributes
	setOpt  metric.RecordOption   // the metric's attributes
}

// cached returns the attributes of a call of m with outcome i, made once.
func (o *observer) cached(m *method, i int) *attrs {
	if a := m.attrs[i].Load(); a != nil {
		return a
	}
	a := o.attrs(m.name, i, nil)
	m.attrs[i].Store(a)
	return a
}

// attrs makes the attributes of a call of the method named name with
// outcome i and, when the platform answered with one, the code ce.
func (o *observer) attrs(name string, i int, ce *codes.Error) *attrs {
	out := o.outcomes[i]
	a := &attrs{name: name}
	if _, ok := o.methods[name]; !ok {
		a.name = "_OTHER"
	}
	kv := []attribute.KeyValue{semconv.RPCSystemNameKey.String(RPCSystem), semconv.RPCMethod(a.name)}
	if out.status != "" {
		kv = append(kv, semconv.RPCResponseStatusCode(out.status))
	}
	if out.errType != "" {
		kv = append(kv, semconv.ErrorTypeKey.String(out.errType))
	}
	a.setOpt = metric.WithAttributeSet(attribute.NewSet(kv...))
	if ce != nil && !ce.Code.Known() { // its number in the span, "_OTHER" in the metric
		kv = kv[:2]
		kv = append(kv, semconv.RPCResponseStatusCode(ce.Code.String()), semconv.ErrorTypeKey.String(ce.Code.String()))
	}
	if a.name != name {
		kv = append(kv, semconv.RPCMethodOriginal(name))
	}
	a.spanOpt = trace.WithAttributes(kv...)
	return a
}
