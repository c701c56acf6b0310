package ivotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/ivotel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// nopTransport answers every call at once with success, so that a
// benchmark over it measures the client and the observer alone.
type nopTransport struct{}

func (nopTransport) Call(context.Context, *ivclient.Request, any) error { return nil }
func (nopTransport) Close() error                                       { return nil }

// discard is a span exporter that drops what it is given.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// benchClients returns two clients of one transport: plain, and observed
// by ivotel with the SDK's providers as a service has them (every span
// sampled and batched to an exporter, here one that drops them; the
// histogram aggregated for a reader).
func benchClients(b *testing.B, transport string) (plain, observed *ivclient.Client) {
	b.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	var t ivclient.Transport = nopTransport{}
	key := "benchkey1"
	if transport != "none" {
		p := ivtest.NewPlatform(b)
		key = p.Key()
		for _, tr := range transports {
			if tr.name == transport {
				var err error
				if t, err = tr.dial(context.Background(), p); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Cleanup(func() { t.Close() })
	var err error
	if plain, err = ivclient.New(t, key, ivclient.KeepTransportOpen()); err != nil {
		b.Fatal(err)
	}
	obs := ivotel.Observer(ivotel.WithTracerProvider(tp), ivotel.WithMeterProvider(mp))
	if observed, err = ivclient.New(t, key, obs, ivclient.KeepTransportOpen()); err != nil {
		b.Fatal(err)
	}
	return plain, observed
}

func benchCall(b *testing.B, c *ivclient.Client) {
	if _, err := c.QueueList(context.Background(), "default"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkObserver is one call (QueueList) without and with Observer:
// over no transport at all (the observer's own cost, allocations
// included), and over STOMP and SOAP to ivtest.
func BenchmarkObserver(b *testing.B) {
	for _, transport := range []string{"none", "stomp", "soap"} {
		b.Run(transport, func(b *testing.B) {
			plain, observed := benchClients(b, transport)
			for _, side := range []struct {
				name string
				c    *ivclient.Client
			}{{"plain", plain}, {"observer", observed}} {
				b.Run(side.name, func(b *testing.B) {
					benchCall(b, side.c)
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						benchCall(b, side.c)
					}
				})
			}
		})
	}
}

// BenchmarkPairedObserver alternates rounds of 10 calls without and with
// Observer on one transport, so that both sides see the same load on a
// shared machine, and reports each side's time per call and their ratio
// (observer/plain: 1.00 is no cost).
func BenchmarkPairedObserver(b *testing.B) {
	for _, transport := range []string{"none", "stomp", "soap"} {
		b.Run(transport, func(b *testing.B) {
			plain, observed := benchClients(b, transport)
			benchCall(b, plain)
			benchCall(b, observed)
			var plainT, obsT time.Duration
			side := func(c *ivclient.Client, n int, total *time.Duration) {
				t0 := time.Now()
				for range n {
					benchCall(b, c)
				}
				*total += time.Since(t0)
			}
			b.ResetTimer()
			const per = 10
			for i := 0; i < b.N; i += per {
				n := min(per, b.N-i)
				if i/per%2 == 0 {
					side(plain, n, &plainT)
					side(observed, n, &obsT)
				} else {
					side(observed, n, &obsT)
					side(plain, n, &plainT)
				}
			}
			b.ReportMetric(float64(plainT.Nanoseconds())/float64(b.N), "plain-ns/call")
			b.ReportMetric(float64(obsT.Nanoseconds())/float64(b.N), "observer-ns/call")
			b.ReportMetric(float64(obsT)/float64(plainT), "observer/plain")
		})
	}
}

// BenchmarkHandler is one NEWCALL event handed to a handler that does
// nothing, plain and wrapped by Handler (the SDK's providers as in
// benchClients): the cost Handler adds to each event.
func BenchmarkHandler(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer tp.Shutdown(context.Background())
	defer mp.Shutdown(context.Background())
	ev, err := events.Decode([]byte(`{"direction":"INBOUND","callerid":"5551234","type":"NEWCALL","uniqueid":"1700000000.42","agent":"default_1001"}`))
	if err != nil {
		b.Fatal(err)
	}
	ev.Topic = events.AgentTopic("default", "1001")
	plain := func(context.Context, events.Event) error { return nil }
	for _, side := range []struct {
		name string
		h    events.Handler
	}{
		{"plain", plain},
		{"handler", ivotel.Handler(plain, ivotel.WithTracerProvider(tp), ivotel.WithMeterProvider(mp))},
	} {
		b.Run(side.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := side.h(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
