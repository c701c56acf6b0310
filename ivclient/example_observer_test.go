package ivclient_test

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"log"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// Per-method counters and latency, published with the standard library's
// expvar (served at /debug/vars by net/http's default mux): calls per
// method, total seconds per method, and outcomes by return code.
func ExampleWithObserver_expvar() {
	p, err := ivtest.Start(ivtest.WithAgent("default", "1001", "", "Alice"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A service makes these once and publishes them: expvar.Publish("instantvoice_calls", calls), ...
	calls := new(expvar.Map).Init()    // method -> calls
	seconds := new(expvar.Map).Init()  // method -> total seconds
	outcomes := new(expvar.Map).Init() // "OK", "RESPONSE_NOT_FOUND", "invalid argument", ...
	observe := func(_ context.Context, info ivclient.CallInfo) {
		calls.Add(info.Method, 1)
		seconds.AddFloat(info.Method, info.Duration.Seconds())
		var ce *codes.Error
		switch {
		case info.Err == nil:
			outcomes.Add("OK", 1)
		case errors.As(info.Err, &ce):
			outcomes.Add(ce.Code.String(), 1)
		case errors.Is(info.Err, ivclient.ErrInvalidArgument):
			outcomes.Add("invalid argument", 1)
		default:
			outcomes.Add("failed", 1) // timeouts, connection lost, ...
		}
	}

	t, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		log.Fatal(err)
	}
	c, err := ivclient.New(t, p.Key(), ivclient.WithObserver(observe))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	c.AgentLogin(ctx, "default", "1001", "SIP/default_0001")
	c.AgentLogin(ctx, "default", "1001", "SIP/default_0001") // already logged in
	c.AgentInfo(ctx, "default", "1001")
	c.AgentInfo(ctx, "default", "9999")           // no such agent
	c.QueueAdd(ctx, ivclient.Queue{Name: "7000"}) // no accountcode: refused, nothing sent

	fmt.Println("calls:", calls)
	fmt.Println("outcomes:", outcomes)
	fmt.Println("latency recorded for AgentInfo:", seconds.Get("AgentInfo") != nil)
	// Output:
	// calls: {"AgentInfo": 2, "AgentLogin": 2, "QueueAdd": 1}
	// outcomes: {"OK": 2, "RESPONSE_DUPLICATE": 1, "RESPONSE_NOT_FOUND": 1, "invalid argument": 1}
	// latency recorded for AgentInfo: true
}

// The shape of a tracer, as a partner's tracing library has it: a span
// lives in the context, and a child span can start at a given time. With
// OpenTelemetry it is trace.SpanFromContext(ctx), tracer.Start(ctx, name,
// trace.WithTimestamp(start)), span.RecordError(err) and
// span.End(trace.WithTimestamp(end)).
type span struct {
	name   string
	parent *span
}

type spanKey struct{}

func startSpan(ctx context.Context, name string, _ time.Time) (context.Context, *span) {
	parent, _ := ctx.Value(spanKey{}).(*span)
	s := &span{name: name, parent: parent}
	return context.WithValue(ctx, spanKey{}, s), s
}

func (s *span) recordError(err error) {
	var ce *codes.Error
	if errors.As(err, &ce) {
		fmt.Printf("  %s: error: %s\n", s.name, ce.Code)
		return
	}
	fmt.Printf("  %s: error: %v\n", s.name, err)
}

func (s *span) end(_ time.Time) {
	if s.parent != nil {
		fmt.Printf("  %s ended, child of %s\n", s.name, s.parent.name)
		return
	}
	fmt.Printf("  %s ended\n", s.name)
}

// A child span per call, under the span the caller's context carries: the
// observer runs on the caller's goroutine with the call's context, after the
// call, so the child starts Duration before now.
func ExampleWithObserver_trace() {
	p, err := ivtest.Start(ivtest.WithAgent("default", "1001", "", "Alice"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	observe := func(ctx context.Context, info ivclient.CallInfo) {
		end := time.Now()
		_, s := startSpan(ctx, "instantvoice."+info.Method, end.Add(-info.Duration))
		if info.Err != nil {
			s.recordError(info.Err)
		}
		s.end(end)
	}
	t, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		log.Fatal(err)
	}
	c, err := ivclient.New(t, p.Key(), ivclient.WithObserver(observe))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// A request of the partner's own service, traced.
	fmt.Println("screen pop for agent 1001:")
	reqCtx, root := startSpan(ctx, "crm.screen-pop", time.Now())
	c.AgentInfo(reqCtx, "default", "1001")
	c.AgentInfo(reqCtx, "default", "1002")
	root.end(time.Now())
	// Output:
	// screen pop for agent 1001:
	//   instantvoice.AgentInfo ended, child of crm.screen-pop
	//   instantvoice.AgentInfo: error: RESPONSE_NOT_FOUND
	//   instantvoice.AgentInfo ended, child of crm.screen-pop
	//   crm.screen-pop ended
}
