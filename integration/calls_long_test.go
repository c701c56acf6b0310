package integration

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// RabbitMQ 3.10's consumer_timeout (30 minutes) and channel_tick_interval
// (a minute: how often a channel looks for deliveries past the timeout),
// which TestCallsLongCall lowers for its run and then sets again.
const (
	longCallCommand = "IV_RABBITMQ_ADDR=127.0.0.1:61613 IV_REQUIRE_BROKER=1 IV_RABBITMQ_CONSUMER_TIMEOUT=1 " +
		"go test -race -count=1 -run '^TestCallsLongCall$' -v ./integration"

	consumerTimeoutDefault = 1800000
	channelTickDefault     = 60000
)

// setConsumerTimeout sets RabbitMQ's consumer_timeout (milliseconds), and
// its channel_tick_interval to a second so that the timeout is enforced
// within a second rather than a minute, for channels opened from now on;
// it sets the defaults again when the test ends. It is the broker every
// test shares: keep the window short.
func setConsumerTimeout(t *testing.T, ms int) {
	t.Helper()
	set := func(key string, ms int) error {
		out, err := exec.Command("rabbitmqctl", "eval", fmt.Sprintf("application:set_env(rabbit, %s, %d).", key, ms)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("rabbitmqctl eval: %v: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skipf("lowering the broker's consumer_timeout needs rabbitmqctl: %v", err)
	}
	t.Cleanup(func() {
		for key, def := range map[string]int{"consumer_timeout": consumerTimeoutDefault, "channel_tick_interval": channelTickDefault} {
			if err := set(key, def); err != nil {
				t.Errorf("setting %s back to %d: %v", key, def, err)
			}
		}
	})
	if err := set("channel_tick_interval", 1000); err != nil {
		t.Fatal(err)
	}
	if err := set("consumer_timeout", ms); err != nil {
		t.Fatal(err)
	}
}

// TestCallsLongCall lowers RabbitMQ's consumer_timeout to 5 s, and holds a
// call open for 15 s while ConsumeCalls consumes with WithMaxHold(2s): the
// call is handed over Open (its events so far settled) and handed again,
// whole, when it ends, with no reconnection at all. Without the bound (the
// control: WithMaxHold's default, 25 minutes) the broker closes the
// connection every time the held events pass its timeout: a reconnection
// loop, which shows the lowered timeout is in effect.
//
// The lowered timeout applies to every channel opened on the broker
// meanwhile, other tests' included, so the test runs only when asked for,
// in a go test invocation of its own (longCallCommand).
func TestCallsLongCall(t *testing.T) {
	if os.Getenv("IV_RABBITMQ_CONSUMER_TIMEOUT") != "1" {
		t.Skip("TestCallsLongCall lowers the broker's consumer_timeout for a minute; run it on its own with: " + longCallCommand)
	}
	b := needRabbit(t)
	setConsumerTimeout(t, 5000)
	t.Run("WithMaxHold", func(t *testing.T) {
		calls, warns := testLongCall(t, b, 15*time.Second, events.WithMaxHold(2*time.Second))
		var open, whole int
		for _, c := range calls {
			switch {
			case c.Redelivered:
				t.Errorf("the call was handed over with Redelivered: its events came again (the broker closed the connection?): %+v; log: %q", c, warns)
			case c.Open:
				open++
				if c.Reason != "" || !c.HangupAt.IsZero() {
					t.Errorf("a call handed over Open has reason %q, hangup %v", c.Reason, c.HangupAt)
				}
			case c.Reason == events.ReasonByCaller && c.Direction == "INBOUND" && c.CallerID != "" && !c.Expired:
				whole++
			default:
				t.Errorf("the long call was handed over as %+v", c)
			}
		}
		if open == 0 || whole != 1 {
			t.Errorf("the long call was handed over %d times Open and %d times whole; want at least once Open, then once whole", open, whole)
		}
		if len(warns) > 0 {
			t.Errorf("the transport warned: %q", warns)
		}
		t.Logf("a call held 15 s with consumer_timeout 5 s and WithMaxHold(2s): handed over %d times Open, then once whole, never Redelivered; the transport logged %d warnings", open, len(warns))
	})
	t.Run("control", func(t *testing.T) {
		calls, warns := testLongCall(t, b, 12*time.Second)
		if len(calls) == 0 || !calls[len(calls)-1].Redelivered {
			t.Errorf("the call's events were held 12 s past a consumer_timeout of 5 s and not delivered again (%+v): is the lowered timeout in effect?", calls)
		}
		t.Logf("without the bound the broker closed the connection every time the held events passed its timeout, and they came again: the transport logged %d warnings in 12 s (%q); the call was then handed over %d times, Redelivered", len(warns), warns, len(calls))
	})
}

// testLongCall publishes a call's NEWCALL and CONNECT, waits hold, then its
// HANGUP, with ConsumeCalls (and opts) consuming a durable name; it returns
// the call as handed over, each time, once handed over whole, and the
// transport's warnings (a lost connection is one).
func testLongCall(t *testing.T, b *durableBroker, hold time.Duration, opts ...events.ConsumeOption) ([]events.Call, []string) {
	ctx, cancel := context.WithTimeout(context.Background(), durableLimit)
	defer cancel()
	topics := agentTopics("itl"+randHex(4), 1)
	script := newCallScript(randHex(6), topics, 1, 1)
	script.calls[0].direction, script.calls[0].reason, script.calls[0].answered = "INBOUND", events.ReasonByCaller, true
	script.steps = []callStep{{0, events.NewCall}, {0, events.Connect}, {0, events.Hangup}}
	name := durableName("long")
	warns := &warnLog{}
	addr, dopts := b.dialOpts(0, stompx.WithLogger(slog.New(warns)))
	deleteDurable(t, addr, dopts, name, testDurableOpts())
	tr, err := stompx.Dial(ctx, addr, dopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	sub, err := tr.SubscribeDurable(ctx, name, topics, testDurableOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	var mu sync.Mutex
	var calls []events.Call
	got := make(chan struct{}, 16)
	cctx, stop := context.WithCancel(ctx)
	consumed := background(t, func() error {
		return events.ConsumeCalls(cctx, sub, func(_ context.Context, c events.Call) error {
			mu.Lock()
			calls = append(calls, c)
			mu.Unlock()
			if c.Reason != "" {
				got <- struct{}{}
			}
			return nil
		}, opts...)
	})
	pub := b.publisher(t, 0).(rawSender)
	if err := script.publishSteps(ctx, pub, 0, 2, 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := sleepCtx(ctx, hold); err != nil {
		t.Fatal(err)
	}
	if err := script.publishSteps(ctx, pub, 2, 3, 0, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(phaseLimit):
		t.Errorf("the call was not handed over whole %v after its HANGUP", phaseLimit)
	}
	stop()
	if err := consumed(); err != nil && cctx.Err() == nil {
		t.Errorf("ConsumeCalls: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return calls, warns.all()
}

// warnLog is a slog.Handler that keeps the messages of warnings and errors.
type warnLog struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnLog) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	w.msgs = append(w.msgs, r.Message)
	w.mu.Unlock()
	return nil
}
func (w *warnLog) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnLog) WithGroup(string) slog.Handler      { return w }

func (w *warnLog) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.msgs)
}
