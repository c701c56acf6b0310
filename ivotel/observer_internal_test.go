package ivotel

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/ivclient"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestObserveBounds: a method the client does not have is "_OTHER" with
// rpc.method_original on the span, and a code the platform does not
// define is its number on the span and "_OTHER" in the metric, so that
// neither can grow the metric's series; an error the SDK does not name is
// "_OTHER" too. None of them happens through a Client today (its methods
// are fixed, Invoke does not observe unknown names), but a transport may
// return any code.
func TestObserveBounds(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c, err := newConfig("test", []Option{WithTracerProvider(tp), WithMeterProvider(mp)})
	if err != nil {
		t.Fatal(err)
	}
	o := newObserver(c)
	ctx := context.Background()
	o.observe(ctx, ivclient.CallInfo{Method: "Bogus", Duration: time.Millisecond})
	o.observe(ctx, ivclient.CallInfo{Method: "QueueInfo", Err: &codes.Error{Code: 77, Method: "QueueInfo"}})
	o.observe(ctx, ivclient.CallInfo{Method: "QueueInfo", Err: &codes.Error{Code: 78, Method: "QueueInfo"}})
	o.observe(ctx, ivclient.CallInfo{Method: "QueueInfo", Err: errors.New("something else")})

	type span struct{ name, method, original, status, errType, desc string }
	want := []span{
		{"_OTHER", "_OTHER", "Bogus", "OK", "", ""},
		{"QueueInfo", "QueueInfo", "", "CODE(77)", "CODE(77)", "CODE(77)"},
		{"QueueInfo", "QueueInfo", "", "CODE(78)", "CODE(78)", "CODE(78)"},
		{"QueueInfo", "QueueInfo", "", "", "_OTHER", "something else"},
	}
	ended := spans.Ended()
	if len(ended) != len(want) {
		t.Fatalf("%d spans, want %d", len(ended), len(want))
	}
	for i, s := range ended {
		got := span{name: s.Name(), desc: s.Status().Description}
		for _, kv := range s.Attributes() {
			switch kv.Key {
			case "rpc.method":
				got.method = kv.Value.AsString()
			case "rpc.method_original":
				got.original = kv.Value.AsString()
			case "rpc.response.status_code":
				got.status = kv.Value.AsString()
			case "error.type":
				got.errType = kv.Value.AsString()
			}
		}
		if got != want[i] {
			t.Errorf("span %d: %+v, want %+v", i, got, want[i])
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	series := make(map[string]uint64)
	for _, p := range rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Histogram[float64]).DataPoints {
		m, _ := p.Attributes.Value("rpc.method")
		st, _ := p.Attributes.Value("rpc.response.status_code")
		et, _ := p.Attributes.Value("error.type")
		series[m.AsString()+" "+st.AsString()+" "+et.AsString()] += p.Count
	}
	wantSeries := map[string]uint64{"_OTHER OK ": 1, "QueueInfo _OTHER _OTHER": 2, "QueueInfo  _OTHER": 1}
	if len(series) != len(wantSeries) {
		t.Errorf("series %v, want %v", series, wantSeries)
	}
	for k, n := range wantSeries {
		if series[k] != n {
			t.Errorf("series %v, want %v", series, wantSeries)
		}
	}
}
