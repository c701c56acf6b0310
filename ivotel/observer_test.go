package ivotel_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/internal/catalog"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/ivotel"
	"go.opentelemetry.io/otel"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// call is one call a test made and what its span and metric must say.
type call struct {
	method  string
	status  string // rpc.response.status_code; "" when the platform did not answer
	errType string // error.type; "" on success
}

// metricLabel is the label (see label) of call's histogram series.
func (c call) metricLabel() string {
	s := ""
	if c.errType != "" {
		s += "error.type=" + c.errType + ","
	}
	s += "rpc.method=" + c.method + ","
	if c.status != "" {
		s += "rpc.response.status_code=" + c.status + ","
	}
	return s + "rpc.system.name=instantvoice"
}

// TestObserver makes calls that succeed, fail with a platform code, are
// refused before sending, time out and find the client closed, over both
// transports, and checks one span per call with its method, outcome and
// parent, histogram counts equal to the calls made, and the keys nowhere.
func TestObserver(t *testing.T) {
	const key, limitedKey = "S3cretKey0tel", "L1mitedKey0tel"
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			p := ivtest.NewPlatform(t, ivtest.WithKey(key), ivtest.WithKey(limitedKey, "AgentList"),
				ivtest.WithAgent("default", "1001", "", "Alice"))
			tel := newTelemetry(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			transport, err := tr.dial(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			obs := ivotel.Observer(ivotel.WithTracerProvider(tel.tp), ivotel.WithMeterProvider(tel.mp))
			c, err := ivclient.New(transport, key, obs, ivclient.KeepTransportOpen())
			if err != nil {
				t.Fatal(err)
			}
			defer transport.Close()
			limited, err := ivclient.New(transport, limitedKey, obs, ivclient.KeepTransportOpen())
			if err != nil {
				t.Fatal(err)
			}
			defer limited.Close()

			ctx, parent := tel.tp.Tracer("test").Start(ctx, "partner request")
			var made []call
			check := func(c call, err, want error) {
				t.Helper()
				if want == nil && err != nil || want != nil && !errors.Is(err, want) {
					t.Fatalf("%s: %v, want %v", c.method, err, want)
				}
				made = append(made, c)
			}
			_, err = c.AgentInfo(ctx, "default", "1001")
			check(call{"AgentInfo", "OK", ""}, err, nil)
			_, err = c.AgentInfo(ctx, "default", "4242")
			check(call{"AgentInfo", "RESPONSE_NOT_FOUND", "RESPONSE_NOT_FOUND"}, err, codes.ErrNotFound)
			err = c.QueueAdd(ctx, ivclient.Queue{Accountcode: "default"}) // refused: no name
			check(call{"QueueAdd", "", "ivclient.ErrInvalidArgument"}, err, ivclient.ErrInvalidArgument)
			err = c.AgentLogin(ctx, "default", "1001", "SIP/default_0001")
			check(call{"AgentLogin", "OK", ""}, err, nil)
			err = c.AgentLogin(ctx, "default", "1001", "SIP/default_0001")
			check(call{"AgentLogin", "RESPONSE_DUPLICATE", "RESPONSE_DUPLICATE"}, err, codes.ErrDuplicate)
			_, err = limited.AgentList(ctx, "default")
			check(call{"AgentList", "OK", ""}, err, nil)
			_, err = limited.AgentInfo(ctx, "default", "1001")
			check(call{"AgentInfo", "PERMISSION_DENIED", "PERMISSION_DENIED"}, err, codes.ErrPermissionDenied)
			p.DropReplies(1, "AgentList")
			short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
			_, err = c.AgentList(short, "default")
			cancelShort()
			check(call{"AgentList", "", "context.DeadlineExceeded"}, err, context.DeadlineExceeded)
			c.Close()
			err = c.AgentUnpause(ctx, "default", "1001")
			check(call{"AgentUnpause", "", "ivclient.ErrClosed"}, err, ivclient.ErrClosed)
			parent.End()

			spans := tel.spans.Ended()
			if len(spans) != len(made)+1 {
				t.Fatalf("%d spans, want %d (one per call and the parent)", len(spans), len(made)+1)
			}
			for i, want := range made {
				s := spans[i]
				a := attrs(s)
				if s.Name() != want.method || s.SpanKind() != trace.SpanKindClient {
					t.Errorf("span %d: %q kind %v, want %q kind client", i, s.Name(), s.SpanKind(), want.method)
				}
				if s.Parent().SpanID() != parent.SpanContext().SpanID() {
					t.Errorf("span %d (%s): not a child of the caller's span", i, want.method)
				}
				if a["rpc.method"].AsString() != want.method || a["rpc.system.name"].AsString() != "instantvoice" {
					t.Errorf("span %d: attributes %v", i, s.Attributes())
				}
				if got := a["rpc.response.status_code"].AsString(); got != want.status {
					t.Errorf("span %d (%s): rpc.response.status_code %q, want %q", i, want.method, got, want.status)
				}
				if got := a["error.type"].AsString(); got != want.errType {
					t.Errorf("span %d (%s): error.type %q, want %q", i, want.method, got, want.errType)
				}
				if !s.StartTime().Before(s.EndTime()) && !s.StartTime().Equal(s.EndTime()) {
					t.Errorf("span %d: starts after it ends", i)
				}
				st := s.Status()
				switch {
				case want.errType == "" && st.Code != otelcodes.Unset:
					t.Errorf("span %d (%s): status %v, want unset", i, want.method, st)
				case want.errType != "" && st.Code != otelcodes.Error:
					t.Errorf("span %d (%s): status %v, want Error", i, want.method, st)
				case want.errType != "" && want.status != "" && st.Description != want.status:
					t.Errorf("span %d (%s): status description %q, want the code's name %q", i, want.method, st.Description, want.status)
				case want.errType != "" && len(s.Events()) != 1:
					t.Errorf("span %d (%s): %d events, want the error's", i, want.method, len(s.Events()))
				}
			}

			rm := tel.metrics(t)
			got := counts(histogram(t, rm, "rpc.client.call.duration"))
			want := make(map[string]uint64)
			for _, c := range made {
				want[c.metricLabel()]++
			}
			if !equalCounts(got, want) {
				t.Errorf("histogram counts:\n got %v\nwant %v", got, want)
			}
			for _, s := range everything(spans, rm) {
				if strings.Contains(s, key) || strings.Contains(s, limitedKey) {
					t.Errorf("a key in the telemetry: %q", s)
				}
			}
		})
	}
}

func equalCounts(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestObserverInvoke: Invoke's calls are observed with the method's name,
// a call refused by the typed method's checks (a missing argument) included.
func TestObserverInvoke(t *testing.T) {
	p := ivtest.NewPlatform(t)
	tel := newTelemetry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	transport, err := transports[0].dial(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ivclient.New(transport, p.Key(), ivotel.Observer(ivotel.WithTracerProvider(tel.tp), ivotel.WithMeterProvider(tel.mp)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := catalog.Invoke(ctx, c, "QueueList", map[string]any{"accountcode": "default"}); err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.Invoke(ctx, c, "QueueList", map[string]any{}); !errors.Is(err, ivclient.ErrInvalidArgument) {
		t.Fatalf("Invoke without its argument: %v", err)
	}
	want := map[string]uint64{
		call{"QueueList", "OK", ""}.metricLabel():                          1,
		call{"QueueList", "", "ivclient.ErrInvalidArgument"}.metricLabel(): 1,
	}
	if got := counts(histogram(t, tel.metrics(t), "rpc.client.call.duration")); !equalCounts(got, want) {
		t.Errorf("histogram counts:\n got %v\nwant %v", got, want)
	}
	if n := len(tel.spans.Ended()); n != 2 {
		t.Errorf("%d spans, want 2", n)
	}
}

// TestObserverOptions: a nil option or a bad value fails ivclient.New with
// an error matching ErrInvalidArgument that names it; nil providers mean
// the global ones.
func TestObserverOptions(t *testing.T) {
	p := ivtest.NewPlatform(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	transport, err := transports[1].dial(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer transport.Close()
	for _, tc := range []struct {
		opts []ivotel.Option
		text string
	}{
		{[]ivotel.Option{nil}, "ivotel: Observer: invalid argument: option 1 is nil"},
		{[]ivotel.Option{ivotel.WithTracerProvider(nil), nil}, "ivotel: Observer: invalid argument: option 2 is nil"},
		{[]ivotel.Option{ivotel.WithMessagingSystem("")}, "ivotel: Observer: invalid argument: WithMessagingSystem: name is empty"},
	} {
		_, err := ivclient.New(transport, p.Key(), ivotel.Observer(tc.opts...), ivclient.KeepTransportOpen())
		if !errors.Is(err, ivclient.ErrInvalidArgument) || err.Error() != tc.text {
			t.Errorf("New: %v, want %q matching ErrInvalidArgument", err, tc.text)
		}
	}

	// The global providers, when none is given or nil is: set them for the
	// length of this test (no test here runs in parallel).
	tel := newTelemetry(t)
	oldTP, oldMP := otel.GetTracerProvider(), otel.GetMeterProvider()
	otel.SetTracerProvider(tel.tp)
	otel.SetMeterProvider(tel.mp)
	defer func() { otel.SetTracerProvider(oldTP); otel.SetMeterProvider(oldMP) }()
	for _, obs := range []ivclient.Option{ivotel.Observer(), ivotel.Observer(ivotel.WithTracerProvider(nil), ivotel.WithMeterProvider(nil))} {
		c, err := ivclient.New(transport, p.Key(), obs, ivclient.KeepTransportOpen())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.QueueList(ctx, "default"); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if n := len(tel.spans.Ended()); n != 2 {
		t.Errorf("%d spans through the global provider, want 2", n)
	}
	want := map[string]uint64{call{"QueueList", "OK", ""}.metricLabel(): 2}
	if got := counts(histogram(t, tel.metrics(t), "rpc.client.call.duration")); !equalCounts(got, want) {
		t.Errorf("histogram counts:\n got %v\nwant %v", got, want)
	}
}

// TestObserverConcurrent: calls from many goroutines at once are each one
// span and one measurement, over both transports.
func TestObserverConcurrent(t *testing.T) {
	const goroutines, calls = 8, 20
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			p := ivtest.NewPlatform(t, ivtest.WithAgent("default", "1001", "", "Alice"))
			tel := newTelemetry(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			transport, err := tr.dial(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			c, err := ivclient.New(transport, p.Key(), ivotel.Observer(ivotel.WithTracerProvider(tel.tp), ivotel.WithMeterProvider(tel.mp)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			errs := make(chan error, goroutines)
			for g := range goroutines {
				go func() {
					for i := range calls {
						user := "1001"
						if (g+i)%2 == 1 {
							user = "4242"
						}
						if _, err := c.AgentInfo(ctx, "default", user); err != nil && !errors.Is(err, codes.ErrNotFound) {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for range goroutines {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			half := uint64(goroutines * calls / 2)
			want := map[string]uint64{
				call{"AgentInfo", "OK", ""}.metricLabel():                                   half,
				call{"AgentInfo", "RESPONSE_NOT_FOUND", "RESPONSE_NOT_FOUND"}.metricLabel(): half,
			}
			if got := counts(histogram(t, tel.metrics(t), "rpc.client.call.duration")); !equalCounts(got, want) {
				t.Errorf("histogram counts:\n got %v\nwant %v", got, want)
			}
			if n := len(tel.spans.Ended()); n != goroutines*calls {
				t.Errorf("%d spans, want %d", n, goroutines*calls)
			}
		})
	}
}
