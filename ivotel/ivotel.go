package ivotel

import (
	"strconv"

	"github.com/instantvoice/instantvoice-go/internal/errs"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tracers and meters ivotel
// gets from its providers: the module's import path.
const ScopeName = "github.com/instantvoice/instantvoice-go/ivotel"

// Option configures Observer and Handler.
type Option func(*config)

type config struct {
	tp     trace.TracerProvider
	mp     metric.MeterProvider
	system string // messaging.system of Handler's spans and metrics
	bad    string // what is wrong with the first bad option
}

// WithTracerProvider sets the provider of the tracer that makes the spans.
// Without it, or with nil, the global provider (otel.GetTracerProvider) at
// the time Observer or Handler is called is used: Option has no error to
// return, so nil is taken as "the default", as otelhttp and the other
// OpenTelemetry instrumentations take it.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets the provider of the meter that makes the metrics.
// Without it, or with nil, the global provider (otel.GetMeterProvider) at
// the time Observer or Handler is called is used, as WithTracerProvider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithMessagingSystem sets the messaging.system that Handler records
// ("rabbitmq", "activemq", ... in the semantic conventions' spelling).
// The default is "rabbitmq", the platform's broker: a handler sees only
// events, and an event does not say which broker carried it, so a service
// that takes its events from ActiveMQ says so here. An empty name is an
// invalid argument (see Observer and Handler for how it is reported).
// Observer ignores this option.
func WithMessagingSystem(name string) Option {
	return func(c *config) {
		if name == "" {
			c.fail("WithMessagingSystem: name is empty")
			return
		}
		c.system = name
	}
}

// fail keeps the first complaint about the options.
func (c *config) fail(detail string) {
	if c.bad == "" {
		c.bad = detail
	}
}

// newConfig applies opts. A nil option, or an option with a bad value, is
// an error wrapping ivclient.ErrInvalidArgument whose text starts with op.
func newConfig(op string, opts []Option) (*config, error) {
	c := &config{system: semconv.MessagingSystemRabbitMQ.Value.AsString()}
	for i, o := range opts {
		if o == nil {
			c.fail("option " + strconv.Itoa(i+1) + " is nil")
			continue
		}
		o(c)
	}
	if c.bad != "" {
		return nil, errs.Wrap(op, errs.ErrInvalidArgument, c.bad, nil)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	return c, nil
}
