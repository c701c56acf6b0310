package ivotel_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/soapx"
	"github.com/instantvoice/instantvoice-go/stompx"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-stomp's Unsubscribe can miss its wake-up for good; the
		// transport does not wait for it (see stompx's TestMain).
		goleak.IgnoreAnyFunction("github.com/go-stomp/stomp/v3.(*Subscription).Unsubscribe"),
	)
}

// transports lists the transports every call test runs over.
var transports = []struct {
	name string
	dial func(ctx context.Context, p *ivtest.Platform) (ivclient.Transport, error)
}{
	{"stomp", func(ctx context.Context, p *ivtest.Platform) (ivclient.Transport, error) {
		return stompx.Dial(ctx, p.STOMPAddr())
	}},
	{"soap", func(_ context.Context, p *ivtest.Platform) (ivclient.Transport, error) {
		return soapx.New(p.SOAPURL())
	}},
}

// telemetry is an SDK tracer and meter provider recording in memory.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
	mp     *sdkmetric.MeterProvider
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		_ = tel.tp.Shutdown(context.Background())
		_ = tel.mp.Shutdown(context.Background())
	})
	return tel
}

// metrics collects what the meter provider holds.
func (tel *telemetry) metrics(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

// histogram returns the data points of the histogram named name.
func histogram(t *testing.T, rm metricdata.ResourceMetrics, name string) []metricdata.HistogramDataPoint[float64] {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			h, ok := m.Data.(metricdata.Histogram[float64])
			if !ok {
				t.Fatalf("%s is a %T, want a float64 histogram", name, m.Data)
			}
			if m.Unit != "s" {
				t.Errorf("%s: unit %q, want s", name, m.Unit)
			}
			return h.DataPoints
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// label renders a set of attributes as "k=v,k=v" (sorted by key).
func label(s attribute.Set) string {
	var b strings.Builder
	for _, kv := range s.ToSlice() {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%s", kv.Key, kv.Value.String())
	}
	return b.String()
}

// counts returns each data point's count by its attributes (label).
func counts(points []metricdata.HistogramDataPoint[float64]) map[string]uint64 {
	out := make(map[string]uint64)
	for _, p := range points {
		out[label(p.Attributes)] += p.Count
	}
	return out
}

// everything returns all the text the spans and metrics hold: names,
// attribute keys and values, event names and attributes, status
// descriptions, resource and scope, for a search for a secret.
func everything(spans []sdktrace.ReadOnlySpan, rm metricdata.ResourceMetrics) []string {
	var out []string
	kvs := func(kv []attribute.KeyValue) {
		for _, a := range kv {
			out = append(out, string(a.Key), a.Value.String())
		}
	}
	for _, s := range spans {
		out = append(out, s.Name(), s.Status().Description, s.InstrumentationScope().Name)
		kvs(s.Attributes())
		kvs(s.Resource().Attributes())
		for _, e := range s.Events() {
			out = append(out, e.Name)
			kvs(e.Attributes)
		}
		for _, l := range s.Links() {
			kvs(l.Attributes)
		}
	}
	for _, sm := range rm.ScopeMetrics {
		out = append(out, sm.Scope.Name)
		for _, m := range sm.Metrics {
			out = append(out, m.Name, m.Description, m.Unit)
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
				for _, p := range h.DataPoints {
					kvs(p.Attributes.ToSlice())
				}
			}
		}
	}
	return out
}

// attrs returns a span's attributes by key.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

// attributeKey converts a name to an attribute.Key.
func attributeKey(name string) attribute.Key { return attribute.Key(name) }
