// Package ivotel records InstantVoice calls and events with OpenTelemetry:
// a span and a duration measurement for every call of an ivclient.Client
// (Observer) and for every event an events.Handler handles (Handler).
//
// It is a module of its own, github.com/instantvoice/instantvoice-go/ivotel,
// so that the SDK's module takes no OpenTelemetry dependency: only the
// services that import ivotel do.
//
//	c, err := ivclient.New(t, key, ivotel.Observer())            // the global providers
//	h := ivotel.Handler(onEvent, ivotel.WithTracerProvider(tp)) // events.Consume(ctx, sub, h)
//
// # Calls: the RPC conventions
//
// A call is a request naming a method and a reply carrying a return code,
// the same over STOMP and over IVWS (SOAP): a remote procedure call, and
// Observer records it with OpenTelemetry's RPC conventions (semantic
// conventions v1.43.0, where they are a release candidate): a client span
// named after the method, rpc.system.name "instantvoice" (the conventions'
// list of systems is open, and none on it is the platform's protocol),
// rpc.method, rpc.response.status_code and error.type, and the histogram
// rpc.client.call.duration. The messaging conventions would describe
// the STOMP exchange below the call instead (a SEND to /queue/config, a
// MESSAGE on a reply topic that is named after the access key, so that
// its destination could never be recorded), and the HTTP conventions the
// SOAP POST: neither is the unit a partner asks about ("how long do
// AgentLogin calls take, and how many fail with which code?"), and both
// would differ by transport. server.address is left out: the observer
// sees the call, not the transport's address.
//
// Observer is built on ivclient.WithObserver, which runs after each call
// with its duration: the span is made then, with its start and end given.
// So a span made inside the call (by an instrumented http.Client given to
// soapx, say) is a sibling of the call's span, not its child, and the
// call carries no trace context to the platform, whose protocol has no
// place for one.
//
// # Events: the messaging conventions
//
// Handler records each event it handles as the messaging conventions'
// "process" operation: a consumer span and the histogram
// messaging.process.duration. messaging.system is "rabbitmq" unless
// WithMessagingSystem says otherwise: a handler is given events only, and
// an event does not say which broker carried it, so ivotel takes the
// platform's broker, RabbitMQ, and a service on ActiveMQ says so. Under
// events.Consume every attempt at an event is handled, so an event that
// is retried is a span and a measurement per attempt, each with its
// outcome. The platform's events carry no trace context, so an event's
// span has no link to the call that caused it.
//
// # Cardinality and secrets
//
// Metric attributes are bounded: method (41, or "_OTHER"), return code
// or error kind (about 30), event type (9, or "_OTHER"), the topic's
// template ("/topic/iv.agents.{agent}"). An agent, a uniqueid, a number or
// a topic that names an agent is a span attribute at most, never a metric
// attribute. The access key is never recorded: ivclient.CallInfo does not
// hold it, and the SDK's error texts, which spans record, never contain it
// (the tests search every recorded span and metric for it).
//
// # Options
//
// Option has no error to return (its signature is fixed), so a nil
// provider means the global one, as in OpenTelemetry's own
// instrumentations. A nil option, or an option with a bad value, is an
// error wrapping ivclient.ErrInvalidArgument: ivclient.New returns it for
// Observer, and a handler made by Handler returns it for every event.
//
// # Cost
//
// With the OpenTelemetry SDK's providers (every span sampled and batched,
// the histogram aggregated), an observed call costs a few microseconds
// and about 10 allocations more than a plain one, most of it the SDK's
// span; a call to the platform takes a hundred microseconds or more. The
// benchmarks BenchmarkObserver and BenchmarkPairedObserver measure it.
package ivotel
