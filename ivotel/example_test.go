package ivotel_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/ivotel"
	"github.com/instantvoice/instantvoice-go/stompx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Call metrics scraped by Prometheus: the OpenTelemetry Prometheus exporter
// as the meter provider's reader, served at /metrics. The example scrapes
// it once and prints the call counts by method and outcome.
func ExampleObserver_prometheus() {
	p, err := ivtest.Start(ivtest.WithAgent("default", "1001", "", "Alice"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutTargetInfo(), otelprom.WithoutScopeInfo())
	if err != nil {
		log.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(ctx)
	metrics := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})) // a service mounts it at /metrics
	defer metrics.Close()

	t, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		log.Fatal(err)
	}
	c, err := ivclient.New(t, p.Key(), ivotel.Observer(ivotel.WithMeterProvider(mp)))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.AgentLogin(ctx, "default", "1001", "SIP/default_0001")
	c.AgentLogin(ctx, "default", "1001", "SIP/default_0001") // already logged in
	c.AgentInfo(ctx, "default", "1001")
	c.QueueAdd(ctx, ivclient.Queue{Name: "7000"}) // no accountcode: refused, nothing sent

	res, err := http.Get(metrics.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	var lines []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "rpc_client_call_duration_seconds_count") {
			lines = append(lines, sc.Text())
		}
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// rpc_client_call_duration_seconds_count{error_type="RESPONSE_DUPLICATE",rpc_method="AgentLogin",rpc_response_status_code="RESPONSE_DUPLICATE",rpc_system_name="instantvoice"} 1
	// rpc_client_call_duration_seconds_count{error_type="ivclient.ErrInvalidArgument",rpc_method="QueueAdd",rpc_system_name="instantvoice"} 1
	// rpc_client_call_duration_seconds_count{rpc_method="AgentInfo",rpc_response_status_code="OK",rpc_system_name="instantvoice"} 1
	// rpc_client_call_duration_seconds_count{rpc_method="AgentLogin",rpc_response_status_code="OK",rpc_system_name="instantvoice"} 1
}

// A trace from an HTTP request of the partner's service through the SDK's
// call: the service's HTTP handler runs in a server span (made here by hand,
// as otelhttp.NewHandler would make it), and the NewCall the handler makes
// is its child. The spans go to an in-memory recorder for the example; a
// service gives the tracer provider an OTLP or stdout exporter instead.
func ExampleObserver_httpTrace() {
	p, err := ivtest.Start(ivtest.WithAgent("default", "1001", "", "Alice"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(ctx)

	t, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		log.Fatal(err)
	}
	c, err := ivclient.New(t, p.Key(), ivotel.Observer(ivotel.WithTracerProvider(tp)))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_0001"); err != nil {
		log.Fatal(err)
	}

	// The partner's service: POST /dial?exten=... places a call for agent 1001.
	dial := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := c.NewCall(r.Context(), "default", "1001", r.URL.Query().Get("exten"), "crm-42")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintln(w, "dialing")
	})
	tracer := tp.Tracer("partner-service")
	withServerSpan := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, span := tracer.Start(r.Context(), r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path)))
			defer span.End()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	srv := httptest.NewServer(withServerSpan(dial))
	defer srv.Close()
	res, err := http.Post(srv.URL+"/dial?exten=5551234", "text/plain", nil)
	if err != nil {
		log.Fatal(err)
	}
	res.Body.Close()
	fmt.Println("HTTP", res.StatusCode)

	// The spans the request made, the parent first (a span ends after its
	// children, so the recorder has it last).
	ended := spans.Ended()
	byID := make(map[trace.SpanID]sdktrace.ReadOnlySpan)
	for _, s := range ended {
		byID[s.SpanContext().SpanID()] = s
	}
	for _, s := range ended {
		if s.Name() != "POST /dial" {
			continue
		}
		fmt.Printf("%s (%s)\n", s.Name(), s.SpanKind())
		for _, child := range ended {
			if child.Parent().SpanID() == s.SpanContext().SpanID() {
				fmt.Printf("  %s (%s) %s=%s, same trace: %v\n", child.Name(), child.SpanKind(), semconv.RPCSystemNameKey,
					value(child.Attributes(), semconv.RPCSystemNameKey), child.SpanContext().TraceID() == s.SpanContext().TraceID())
			}
		}
	}
	// Output:
	// HTTP 200
	// POST /dial (server)
	//   NewCall (client) rpc.system.name=instantvoice, same trace: true
}

// value returns the value of key among kv.
func value(kv []attribute.KeyValue, key attribute.Key) string {
	for _, a := range kv {
		if a.Key == key {
			return a.Value.String()
		}
	}
	return ""
}

// Each event a wrapped handler handles is a consumer span and a
// measurement of messaging.process.duration, with its outcome; the
// handler's error is returned unchanged to events.Consume, which retries
// the event (here it is given one attempt, and no durable subscription to
// dead-letter to, so it gives up on it at once).
func ExampleHandler() {
	p, err := ivtest.Start(ivtest.WithAgent("default", "1001", "", "Alice"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(ctx)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(ctx)

	t, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		log.Fatal(err)
	}
	c, err := ivclient.New(t, p.Key())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	sub, err := t.Subscribe(ctx, events.AgentTopic("default", "1001"))
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	consumeCtx, stop := context.WithCancel(ctx)
	h := ivotel.Handler(func(ctx context.Context, ev events.Event) error {
		if ev.Type == events.Logout {
			stop() // the last event of the example
			return errors.New("crm unavailable")
		}
		fmt.Println("handled", ev.Type, "of", ev.Agent)
		return nil
	}, ivotel.WithTracerProvider(tp), ivotel.WithMeterProvider(mp))

	c.AgentLogin(ctx, "default", "1001", "SIP/default_0001")
	c.AgentLogoff(ctx, "default", "1001")
	err = events.Consume(consumeCtx, sub, h, events.WithRetry(1, time.Second))
	fmt.Println("Consume:", err)

	for _, s := range spans.Ended() {
		fmt.Printf("span %q (%s) %s=%s status=%s\n", s.Name(), s.SpanKind(), ivotel.EventTypeKey,
			value(s.Attributes(), ivotel.EventTypeKey), s.Status().Code)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
			typ, _ := dp.Attributes.Value(ivotel.EventTypeKey)
			labels := "type=" + typ.AsString()
			if errType, failed := dp.Attributes.Value(semconv.ErrorTypeKey); failed {
				labels += " error.type=" + errType.AsString()
			}
			fmt.Printf("%s{%s} count=%d\n", m.Name, labels, dp.Count)
		}
	}
	// Unordered output:
	// handled LOGIN of default_1001
	// Consume: context canceled
	// span "process /topic/iv.agents.{agent}" (consumer) instantvoice.event.type=LOGIN status=Unset
	// span "process /topic/iv.agents.{agent}" (consumer) instantvoice.event.type=LOGOUT status=Error
	// messaging.process.duration{type=LOGIN} count=1
	// messaging.process.duration{type=LOGOUT error.type=*errors.errorString} count=1
}
