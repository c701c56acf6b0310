package stompx_test

// Integration tests against a real Apache ActiveMQ 5 (Debian's activemq
// package), the second broker product partners run the SDK on:
//
//	bash scripts/activemq.sh start
//	IV_ACTIVEMQ_ADDR=127.0.0.1:61616 go test -race -count=1 -run ActiveMQ ./stompx
//
// Without IV_ACTIVEMQ_ADDR they skip; with IV_REQUIRE_ACTIVEMQ=1 (as CI
// sets) a missing or unreachable broker fails them. TestActiveMQRestart
// stops and starts the broker with scripts/activemq.sh and runs only with
// IV_ACTIVEMQ_RESTART=1 as well. Each test uses its own request queue,
// accountcode and topics.
//
// What differs from RabbitMQ, and is proved here: the multi-level topic
// wildcard is '>' (stompx.WithWildcard(">")), a request's expiry header is
// "expires" in absolute milliseconds since the epoch, and durable
// subscriptions are not supported (ivclient.ErrNotSupported).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

const activemqRun = "bash scripts/activemq.sh start && " +
	"IV_ACTIVEMQ_ADDR=127.0.0.1:61616 go test -race -count=1 -run ActiveMQ ./stompx"

// activemqAddr returns IV_ACTIVEMQ_ADDR once the broker there accepts TCP
// connections. It skips the test when the variable is empty or the broker
// unreachable, and fails it instead when IV_REQUIRE_ACTIVEMQ=1.
func activemqAddr(t testing.TB) string {
	t.Helper()
	required := os.Getenv("IV_REQUIRE_ACTIVEMQ") == "1"
	addr := os.Getenv("IV_ACTIVEMQ_ADDR")
	if addr == "" {
		if required {
			t.Fatal("IV_REQUIRE_ACTIVEMQ=1 but IV_ACTIVEMQ_ADDR is empty")
		}
		t.Skip("set IV_ACTIVEMQ_ADDR to run against ActiveMQ: " + activemqRun)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		if required {
			t.Fatalf("ActiveMQ at IV_ACTIVEMQ_ADDR=%s: %v", addr, err)
		}
		t.Skipf("ActiveMQ at IV_ACTIVEMQ_ADDR=%s is unreachable (%v): %s", addr, err, activemqRun)
	}
	_ = c.Close()
	return addr
}

// activemqDial dials ActiveMQ with its wildcard.
func activemqDial(t testing.TB, addr string, opts ...stompx.Option) *stompx.Transport {
	t.Helper()
	return dial(t, addr, append([]stompx.Option{stompx.WithWildcard(">")}, opts...)...)
}

// activemqPlatform attaches ivtest's request processor to ActiveMQ on queue
// (a fresh one when empty), with one accountcode of its own that has the
// agents 1001 and 1002.
func activemqPlatform(t testing.TB, addr, queue string, opts ...ivtest.Option) (p *ivtest.Platform, acct, q string) {
	t.Helper()
	if queue == "" {
		queue = "/queue/" + randName("stompx.amq.config.")
	}
	acct = randName("amq")
	opts = append([]ivtest.Option{
		ivtest.WithExternalBroker(addr, testLogin, testPasscode),
		ivtest.WithRequestQueue(queue),
		ivtest.WithAccountcodes(acct),
		ivtest.WithAgent(acct, "1001", "", "Ada"),
		ivtest.WithAgent(acct, "1002", "", "Bob"),
	}, opts...)
	return ivtest.NewPlatform(t, opts...), acct, queue
}

func TestActiveMQIdentified(t *testing.T) {
	addr := activemqAddr(t)
	c, nc := dialRaw(t, addr)
	defer nc.Close()
	defer func() { _ = c.Disconnect() }()
	// What stompx's broker detection reads (broker.go); the other tests
	// show what it decides.
	if s := c.Server(); !strings.HasPrefix(s, "ActiveMQ/5.") {
		t.Fatalf("CONNECTED server header %q, want ActiveMQ/5.x", s)
	}
	t.Logf("server %s, STOMP %s", c.Server(), c.Version())
}

func TestActiveMQWrongPasscode(t *testing.T) {
	addr := activemqAddr(t)
	const secret = "Wr0ngPassc0de-xyzzy"
	_, err := stompx.Dial(ctxT(t, 10*time.Second), addr, stompx.WithLogin(testLogin, secret))
	if !errors.Is(err, stompx.ErrConnectRefused) || strings.Contains(err.Error(), secret) {
		t.Fatalf("Dial with a wrong passcode = %v, want ErrConnectRefused without the passcode", err)
	}
}

// Typed calls through the fake platform's processor attached to ActiveMQ:
// successes, and the platform's return codes as *codes.Error.
func TestActiveMQCalls(t *testing.T) {
	addr := activemqAddr(t)
	p, acct, queue := activemqPlatform(t, addr, "")
	tr := activemqDial(t, addr, stompx.WithRequestQueue(queue))
	c, err := ivclient.New(tr, p.Key(), ivclient.KeepTransportOpen())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t, 30*time.Second)
	if err := c.AgentLogin(ctx, acct, "1001", "SIP/1001"); err != nil {
		t.Fatalf("AgentLogin: %v", err)
	}
	err = c.AgentLogin(ctx, acct, "1001", "SIP/1001")
	var ce *codes.Error
	if !errors.Is(err, codes.ErrDuplicate) || !errors.As(err, &ce) || ce.Method != "AgentLogin" {
		t.Fatalf("second AgentLogin = %v, want RESPONSE_DUPLICATE", err)
	}
	if err := c.AgentLogin(ctx, acct, "9999", "SIP/9999"); !errors.Is(err, codes.ErrNotFound) {
		t.Fatalf("AgentLogin of an unknown agent = %v, want RESPONSE_NOT_FOUND", err)
	}
	stranger, err := ivclient.New(tr, "nosuchkey", ivclient.KeepTransportOpen())
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	if err := stranger.AgentLogoff(ctx, acct, "1001"); !errors.Is(err, codes.ErrPermissionDenied) {
		t.Fatalf("AgentLogoff with an unknown key = %v, want PERMISSION_DENIED", err)
	}
	if err := c.AgentLogoff(ctx, acct, "1001"); err != nil {
		t.Fatalf("AgentLogoff: %v", err)
	}
	if st := tr.Stats(); st.RepliesMatched != 5 {
		t.Fatalf("stats %+v, want 5 replies matched", st)
	}
}

func TestActiveMQInFlight1024(t *testing.T) {
	addr := activemqAddr(t)
	p, _, queue := activemqPlatform(t, addr, "")
	echoPlatform(p)
	tr := activemqDial(t, addr, stompx.WithRequestQueue(queue))
	ctx := ctxT(t, 2*time.Minute)
	if err := echo(ctx, tr, p.Key(), "warm"); err != nil {
		t.Fatal(err)
	}
	echoAtOnce(t, ctx, tr, p.Key(), 1024)
}

// Events the platform publishes on ActiveMQ reach a subscription of
// events.AllAgents (rewritten to ActiveMQ's '>' by WithWildcard) and one of
// the agent's own topic, and only that agent's reach the latter. Without
// WithWildcard(">"), AllAgents is RabbitMQ's "#", a plain name to
// ActiveMQ, which receives nothing: the option is what makes it work.
func TestActiveMQEvents(t *testing.T) {
	addr := activemqAddr(t)
	p, acct, queue := activemqPlatform(t, addr, "")
	tr := activemqDial(t, addr, stompx.WithRequestQueue(queue))
	ctx := ctxT(t, time.Minute)
	all, err := tr.Subscribe(ctx, events.AllAgents)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	one, err := tr.Subscribe(ctx, events.AgentTopic(acct, "1001"))
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	hash := dial(t, addr) // RabbitMQ's wildcard
	literal, err := hash.Subscribe(ctx, events.AllAgents)
	if err != nil {
		t.Fatal(err)
	}
	defer literal.Close()

	c, err := ivclient.New(tr, p.Key(), ivclient.KeepTransportOpen())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The platform's own events, from calls: LOGIN of 1002 then of 1001.
	for _, user := range []string{"1002", "1001"} {
		if err := c.AgentLogin(ctx, acct, user, "SIP/"+user); err != nil {
			t.Fatal(err)
		}
	}
	// And one published directly, as a call's NEWCALL.
	if err := p.PublishEvent(events.Event{Type: events.NewCall, Agent: acct + "_1001", UniqueID: "u1", Direction: "INBOUND", CallerID: "5551234"}); err != nil {
		t.Fatal(err)
	}
	want := []string{acct + "_1002 LOGIN", acct + "_1001 LOGIN", acct + "_1001 NEWCALL"}
	var got []string
	for len(got) < len(want) {
		ev := recv(t, all) // other tests' agents may be in it too
		if strings.HasPrefix(ev.Agent, acct+"_") {
			if ev.Topic != events.AgentTopic(acct, ev.Agent) {
				t.Fatalf("event of %s on %s", ev.Agent, ev.Topic)
			}
			got = append(got, ev.Agent+" "+string(ev.Type))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("all agents got %v, want %v", got, want)
	}
	// 1002's LOGIN was published first: had it reached 1001's
	// subscription, it would be the first event there.
	for _, w := range want[1:] {
		ev := recv(t, one)
		if ev.Agent+" "+string(ev.Type) != w || ev.Topic != events.AgentTopic(acct, "1001") {
			t.Fatalf("agent 1001's subscription got %s %s on %s, want %s", ev.Agent, ev.Type, ev.Topic, w)
		}
	}
	if n := literal.Delivered(); n != 0 {
		t.Fatalf("a subscription of %s without WithWildcard(\">\") got %d events on ActiveMQ", events.AllAgents, n)
	}
}

// Every request sent to ActiveMQ carries "expires", the call's deadline in
// absolute milliseconds since the epoch (and not RabbitMQ's "expiration"):
// read back from the request queue by a plain consumer.
func TestActiveMQRequestExpiresHeader(t *testing.T) {
	addr := activemqAddr(t)
	queue := "/queue/" + randName("stompx.amq.expires.")
	tr := activemqDial(t, addr, stompx.WithRequestQueue(queue))
	conn, nc := dialRaw(t, addr)
	defer nc.Close()
	sub, err := conn.Subscribe(queue, stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	// The SUBSCRIBE has reached the broker once a later frame's receipt is back.
	if err := conn.Send("/topic/"+randName("stompx.amq.sync."), "", nil, stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dl, _ := ctx.Deadline()
	errc := make(chan error, 1)
	go func() { errc <- echo(ctx, tr, testKey, "x") }()
	var m *stomp.Message
	select {
	case m = <-sub.C:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the queue")
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("call = %v", err)
	}
	if m.Err != nil {
		t.Fatal(m.Err)
	}
	if v, ok := m.Header.Contains("expiration"); ok {
		t.Fatalf("request carries RabbitMQ's expiration:%s on ActiveMQ", v)
	}
	at, err := strconv.ParseInt(m.Header.Get("expires"), 10, 64)
	if err != nil || at < dl.UnixMilli() || at > dl.UnixMilli()+1 {
		t.Fatalf("expires %q, want the deadline %d (ms since the epoch)", m.Header.Get("expires"), dl.UnixMilli())
	}
	_ = conn.Disconnect()
}

// TestActiveMQRequestExpiry is the proof that expiry works on ActiveMQ and
// that the test can fail: requests made while the platform's processor is
// stopped time out; when it comes back, ActiveMQ hands it none of them,
// unless the transport was dialled WithoutRequestExpiry, in which case the
// platform executes every one (a NewCall would dial a customer after the
// caller gave up).
func TestActiveMQRequestExpiry(t *testing.T) {
	addr := activemqAddr(t)
	for _, c := range []struct {
		name string
		opts []stompx.Option
		want int
	}{
		{"expiry", nil, 0},
		{"WithoutRequestExpiry", []stompx.Option{stompx.WithoutRequestExpiry()}, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			const key = "ExpiryKey1"
			p, _, queue := activemqPlatform(t, addr, "", ivtest.WithKey(key))
			echoPlatform(p)
			tr := activemqDial(t, addr, append(c.opts, stompx.WithRequestQueue(queue))...)
			if err := echo(ctxT(t, 30*time.Second), tr, key, "before"); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(); err != nil { // the platform's consumer goes down
				t.Fatal(err)
			}
			stale := map[string]bool{}
			var last time.Time
			for i := 0; i < 5; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				last, _ = ctx.Deadline()
				n := "stale-" + strconv.Itoa(i)
				err := echo(ctx, tr, key, n)
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("call %d with the processor stopped = %v", i, err)
				}
				stale[n] = true
			}
			// Every expiry has passed (they are rounded up to the ms).
			time.Sleep(time.Until(last.Add(20 * time.Millisecond)))
			// The processor comes back on the same queue. A call made
			// now is queued behind the stale ones, so once it is
			// answered the platform has seen every stale request that
			// ActiveMQ still handed out.
			p2, _, _ := activemqPlatform(t, addr, queue, ivtest.WithKey(key))
			echoPlatform(p2)
			if err := echo(ctxT(t, 30*time.Second), tr, key, "after"); err != nil {
				t.Fatal(err)
			}
			got := 0
			for _, r := range p2.Requests() {
				if n, _ := r.Args["n"].(string); stale[n] {
					got++
				}
			}
			if got != c.want {
				t.Fatalf("the returning platform executed %d of the 5 timed-out requests, want %d", got, c.want)
			}
		})
	}
}

// A call with a long deadline made while the platform's processor is down
// succeeds when it comes back in time: expiry drops only what its caller
// has given up on.
func TestActiveMQRequestLongDeadlineWaitsForPlatform(t *testing.T) {
	addr := activemqAddr(t)
	queue := "/queue/" + randName("stompx.amq.late.")
	tr := activemqDial(t, addr, stompx.WithRequestQueue(queue))
	ctx := ctxT(t, 30*time.Second)
	errc := make(chan error, 1)
	go func() { errc <- echo(ctx, tr, testKey, "late") }()
	for tr.Stats().CallsSent == 0 { // queued on the broker
		select {
		case err := <-errc:
			t.Fatalf("call ended early: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	p, _, _ := activemqPlatform(t, addr, queue, ivtest.WithKey(testKey))
	// The platform serves the queued request as soon as it starts, with
	// its own answer to a method it does not know.
	if err := <-errc; !errors.Is(err, codes.ErrInvalid) {
		t.Fatalf("call = %v, want the platform's reply (RESPONSE_INVALID, unknown method)", err)
	}
	if r := p.Requests(); len(r) != 1 || r[0].Method != "Echo" || r[0].Args["n"] != "late" {
		t.Fatalf("the platform received %+v, want the one Echo", r)
	}
}

// ActiveMQ's durable topic subscription (client-id plus
// activemq.subscriptionName) allows one consumer per client-id and name, so
// it cannot give SubscribeDurable's shared, acknowledged queue: the
// transport says so at once, without touching the broker's state.
func TestActiveMQDurableNotSupported(t *testing.T) {
	addr := activemqAddr(t)
	tr := activemqDial(t, addr)
	ctx := ctxT(t, 10*time.Second)
	if _, err := tr.SubscribeDurable(ctx, randName("workers"), []string{events.AllAgents}); !errors.Is(err, ivclient.ErrNotSupported) {
		t.Fatalf("SubscribeDurable on ActiveMQ = %v, want ErrNotSupported", err)
	}
	if err := tr.DeleteDurable(ctx, randName("workers")); !errors.Is(err, ivclient.ErrNotSupported) {
		t.Fatalf("DeleteDurable on ActiveMQ = %v, want ErrNotSupported", err)
	}
	if ctx.Err() != nil {
		t.Fatal("SubscribeDurable waited for its deadline")
	}
	// The transport is unharmed.
	if _, err := tr.Subscribe(ctx, events.AgentTopic(randName("amq"), "1001")); err != nil {
		t.Fatal(err)
	}
}

// An idle connection to ActiveMQ outlives several heart-beat periods: the
// broker honours the heart-beats the transport negotiates.
func TestActiveMQIdleHeartBeats(t *testing.T) {
	addr := activemqAddr(t)
	tr := activemqDial(t, addr, stompx.WithHeartBeat(500*time.Millisecond, 500*time.Millisecond))
	time.Sleep(3 * time.Second)
	if st := tr.Stats(); st.ConnectionsLost != 0 || tr.State() != stompx.Connected {
		t.Fatalf("state %v %+v", tr.State(), st)
	}
	if _, err := tr.Subscribe(ctxT(t, 10*time.Second), events.AgentTopic(randName("amq"), "1")); err != nil {
		t.Fatal(err)
	}
}

// activemqScript runs scripts/activemq.sh with the port of addr.
func activemqScript(t *testing.T, addr, cmd string) time.Duration {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	begin := time.Now()
	c := exec.CommandContext(ctx, "bash", filepath.Join("..", "scripts", "activemq.sh"), cmd)
	c.Env = append(os.Environ(), "IV_ACTIVEMQ_STOMP_PORT="+port)
	c.WaitDelay = 5 * time.Second
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/activemq.sh %s: %v: %s", cmd, err, strings.TrimSpace(string(out)))
	}
	return time.Since(begin)
}

// TestActiveMQRestart stops ActiveMQ while calls are in flight and starts
// it again: calls end with ErrConnectionLost or their deadline, never hang,
// and once the broker is back, the transport and the platform's processor
// reconnect by themselves: calls succeed again (one made during the outage
// too, within its deadline) and the subscription made before the stop
// receives events again.
func TestActiveMQRestart(t *testing.T) {
	addr := activemqAddr(t)
	if os.Getenv("IV_ACTIVEMQ_RESTART") != "1" {
		t.Skip("TestActiveMQRestart stops and starts the ActiveMQ of scripts/activemq.sh; run it with IV_ACTIVEMQ_RESTART=1")
	}
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" && host != "localhost" {
		t.Fatalf("IV_ACTIVEMQ_ADDR %q: TestActiveMQRestart restarts a broker on loopback only", addr)
	}
	p, acct, queue := activemqPlatform(t, addr, "")
	echoPlatform(p)
	var states stateLog
	tr := activemqDial(t, addr, stompx.WithRequestQueue(queue), stompx.WithStateHandler(states.add),
		stompx.WithReconnectBackoff(50*time.Millisecond, 500*time.Millisecond))
	ctx := ctxT(t, 3*time.Minute)
	topic := events.AgentTopic(acct, "1001")
	sub, err := tr.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	// Calls may time out: sent just before the stop and lost with the
	// broker's non-persistent queue, or waiting for the connection past
	// their deadline.
	load := startCallLoad(t, ctx, tr, p.Key(), 5*time.Second, true)
	load.waitMore(t, 100)
	stopT := activemqScript(t, addr, "stop")
	states.waitFor(t, stompx.Connected, stompx.Reconnecting)
	// A call with a long deadline made while the broker is down waits for
	// the connection and succeeds once the broker is back.
	patient := make(chan error, 1)
	go func() {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		patient <- echo(cctx, tr, p.Key(), "patient")
	}()
	startT := activemqScript(t, addr, "start")
	states.waitFor(t, stompx.Connected, stompx.Reconnecting, stompx.Connected)
	if err := <-patient; err != nil {
		t.Fatalf("call made during the outage = %v, want success after the restart", err)
	}
	load.waitMore(t, 100)
	load.finish()
	if tr.State() != stompx.Connected {
		t.Fatalf("state %v after the restart", tr.State())
	}
	// The subscription was restored: an event the platform publishes
	// now arrives on it.
	if err := p.PublishEvent(events.Event{Type: events.Login, Agent: acct + "_1001", UniqueID: "after"}); err != nil {
		t.Fatal(err)
	}
	for {
		ev := recv(t, sub)
		if ev.UniqueID == "after" {
			break
		}
	}
	st := tr.Stats()
	if st.Reconnects < 1 || st.ConnectionsLost < 1 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("stop %v, start %v; calls ok %d, lost %d, timed out %d; %+v",
		stopT.Round(time.Millisecond), startT.Round(time.Millisecond), load.ok.Load(), load.lost.Load(), load.timedOut.Load(), st)
}
