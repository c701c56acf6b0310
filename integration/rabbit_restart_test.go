package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

const (
	rabbitLogin    = "instantvoice"
	rabbitPasscode = "sT0MpM3"

	runCommand = "IV_RABBITMQ_ADDR=127.0.0.1:61613 IV_REQUIRE_BROKER=1 IV_RABBITMQ_RESTART=1 " +
		"go test -race -count=1 -run TestRabbitRestart -v ./integration"

	workers      = 4
	callDeadline = 5 * time.Second  // each call's own deadline
	callSlack    = time.Second      // how late past its deadline a call may return
	outage       = 3 * time.Second  // how long the broker stays stopped
	warmCalls    = 20               // successful calls per worker before the stop, and again after the restart
	maxCalls     = 200000           // calls per worker, at most
	loadLimit    = 3 * time.Minute  // how long the workers may run, at most
	phaseLimit   = 30 * time.Second // how long any one wait of the test may take
	cmdLimit     = time.Minute      // how long a stop or start command may take
)

// restartBroker returns the address of the RabbitMQ that TestRabbitRestart
// may stop and start, or skips (fails, when IV_REQUIRE_BROKER is set and
// the test was asked for) when there is none.
func restartBroker(t *testing.T) (addr string, stop, start []string) {
	t.Helper()
	if os.Getenv("IV_RABBITMQ_RESTART") != "1" {
		t.Skip("TestRabbitRestart stops and restarts the local RabbitMQ; run it on its own with: " + runCommand)
	}
	required := os.Getenv("IV_REQUIRE_BROKER") != ""
	unavailable := func(format string, args ...any) {
		t.Helper()
		if required {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (run: "+runCommand+")", args...)
	}
	addr = os.Getenv("IV_RABBITMQ_ADDR")
	if addr == "" {
		unavailable("IV_RABBITMQ_RESTART=1 but IV_RABBITMQ_ADDR is empty")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("IV_RABBITMQ_ADDR %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		t.Fatalf("IV_RABBITMQ_ADDR %q: TestRabbitRestart restarts a broker on loopback only", addr)
	}
	stop = command("IV_RABBITMQ_STOP_CMD", "rabbitmqctl stop_app")
	start = command("IV_RABBITMQ_START_CMD", "rabbitmqctl start_app")
	for _, c := range [][]string{stop, start} {
		if _, err := exec.LookPath(c[0]); err != nil {
			unavailable("cannot stop and start the broker: %v", err)
		}
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		unavailable("no broker answers at IV_RABBITMQ_ADDR=%s: %v", addr, err)
	}
	_ = c.Close()
	return addr, stop, start
}

func command(env, def string) []string {
	s := strings.TrimSpace(os.Getenv(env))
	if s == "" {
		s = def
	}
	return strings.Fields(s)
}

// run runs a stop or start command, bounded by cmdLimit.
func run(argv []string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdLimit)
	defer cancel()
	begin := time.Now()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return time.Since(begin), fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return time.Since(begin), nil
}

// waitPort waits until addr accepts TCP connections, within ctx.
func waitPort(ctx context.Context, addr string) error {
	var d net.Dialer
	for {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still refuses connections: %v", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// clock measures everything from one origin, on the monotonic clock.
type clock struct{ base time.Time }

func (c clock) now() time.Duration { return time.Since(c.base) }

// mark is an instant of the test, set once; zero until then.
type mark struct{ ns atomic.Int64 }

func (m *mark) set(d time.Duration) { m.ns.CompareAndSwap(0, int64(d)) }
func (m *mark) get() time.Duration  { return time.Duration(m.ns.Load()) }

// stateRec records the transport's state changes, with when they came.
type stateRec struct {
	clk clock
	mu  sync.Mutex
	log []stateAt
}

type stateAt struct {
	stompx.StateChange
	at time.Duration
}

func (r *stateRec) add(c stompx.StateChange) {
	at := r.clk.now()
	r.mu.Lock()
	r.log = append(r.log, stateAt{c, at})
	r.mu.Unlock()
}

func (r *stateRec) all() []stateAt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]stateAt(nil), r.log...)
}

// first returns the first change to s at or after from.
func (r *stateRec) first(s stompx.State, from time.Duration) (stateAt, bool) {
	for _, c := range r.all() {
		if c.State == s && c.at >= from {
			return c, true
		}
	}
	return stateAt{}, false
}

// eventLog consumes one subscription and keeps what it delivered.
type eventLog struct {
	clk  clock
	mu   sync.Mutex
	evs  []seenEvent
	wake chan struct{}
	done chan struct{}
}

type seenEvent struct {
	typ        events.Type
	uid, agent string
	topic      string
	at         time.Duration
}

func consume(clk clock, sub *events.Subscription) *eventLog {
	l := &eventLog{clk: clk, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for ev := range sub.C() {
			e := seenEvent{typ: ev.Type, uid: ev.UniqueID, agent: ev.Agent, topic: ev.Topic, at: l.clk.now()}
			l.mu.Lock()
			l.evs = append(l.evs, e)
			l.mu.Unlock()
			select {
			case l.wake <- struct{}{}:
			default:
			}
		}
	}()
	return l
}

func (l *eventLog) find(from int, pred func(seenEvent) bool) (seenEvent, int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := from; i < len(l.evs); i++ {
		if pred(l.evs[i]) {
			return l.evs[i], i, true
		}
	}
	return seenEvent{}, len(l.evs), false
}

// wait waits, within limit, for an event matching pred.
func (l *eventLog) wait(limit time.Duration, pred func(seenEvent) bool) (seenEvent, bool) {
	tm := time.NewTimer(limit)
	defer tm.Stop()
	for i := 0; ; {
		e, next, ok := l.find(i, pred)
		if ok {
			return e, true
		}
		i = next
		select {
		case <-l.wake:
		case <-l.done:
			e, _, ok := l.find(i, pred)
			return e, ok
		case <-tm.C:
			return seenEvent{}, false
		}
	}
}

// worker makes calls whose results it can check: its own agent, its own
// queue. Workers 0 and 2 share one access key, 1 and 3 another, so replies
// are told apart both by key (reply topic) and by identifier.
type worker struct {
	id     int
	c      *ivclient.Client
	acct   string
	number string // the agent's number
	name   string // the agent's name
	queue  string // the queue's extension
}

var opNames = [...]string{"AgentInfo", "AgentPause", "QueueInfo", "AgentUnpause"}

// call makes operation op; wrong describes a result that belongs to
// another caller.
func (w *worker) call(ctx context.Context, op int) (wrong string, err error) {
	switch op {
	case 0:
		var a *ivclient.AgentInfo
		if a, err = w.c.AgentInfo(ctx, w.acct, w.number); err == nil {
			if a.Accountcode != w.acct || a.User != w.acct+"_"+w.number || a.Name != w.name {
				wrong = fmt.Sprintf("AgentInfo of %s_%s returned agent %q %q of %q", w.acct, w.number, a.User, a.Name, a.Accountcode)
			}
		}
	case 1:
		err = w.c.AgentPause(ctx, w.acct, w.number, "1")
	case 2:
		var q *ivclient.QueueInfo
		if q, err = w.c.QueueInfo(ctx, w.acct, w.queue); err == nil {
			if q.Accountcode != w.acct || q.Name != w.acct+"_"+w.queue {
				wrong = fmt.Sprintf("QueueInfo of %s_%s returned queue %q of %q", w.acct, w.queue, q.Name, q.Accountcode)
			}
		}
	case 3:
		err = w.c.AgentUnpause(ctx, w.acct, w.number)
	}
	return wrong, err
}

// outcome classifies a call's error; ok is false for an error that is
// neither a result nor one of the typed errors a call may end with.
func outcome(op int, err error) (string, bool) {
	var ce *codes.Error
	switch {
	case err == nil:
		return "ok", true
	case errors.Is(err, ivclient.ErrConnectionLost):
		return "ErrConnectionLost", true
	case errors.Is(err, context.DeadlineExceeded):
		return "DeadlineExceeded", true
	case errors.Is(err, ivclient.ErrClosed):
		return "ErrClosed", true
	case errors.As(err, &ce):
		// A pause or unpause whose reply was lost may have been acted on:
		// the next one then repeats it. Any other return code would be a
		// reply meant for another call.
		if (op == 1 || op == 3) && errors.Is(err, codes.ErrDuplicate) {
			return "codes." + ce.Code.String(), true
		}
		return "codes." + ce.Code.String(), false
	}
	return "untyped", false
}

// callRec is one call a worker made.
type callRec struct {
	worker, op int
	start, end time.Duration
	outcome    string
}

// TestRabbitRestart stops and restarts RabbitMQ while 4 goroutines make
// calls and two subscriptions (RabbitMQ's wildcard and one agent's topic)
// listen, and checks that every call ended with a result or a typed error
// within its deadline, that no reply reached the wrong caller, and that
// afterwards calls succeed and events flow again on the same subscriptions.
func TestRabbitRestart(t *testing.T) {
	addr, stopCmd, startCmd := restartBroker(t)
	clk := clock{time.Now()}
	mon := watchStalls(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// The platform, on an accountcode and keys of this run only, and a
	// request queue of this test only (RabbitMQ keeps queues: one per run
	// would pile up). A request left in the queue by an earlier run that
	// failed carries that run's key, which this platform refuses.
	acct := "itg" + randHex(4)
	const queue = "/queue/iv.integration.restart"
	keys := [2]string{"ka" + randHex(6), "kb" + randHex(6)}
	opts := []ivtest.Option{
		ivtest.WithExternalBroker(addr, rabbitLogin, rabbitPasscode),
		ivtest.WithRequestQueue(queue),
		ivtest.WithAccountcodes(acct),
		ivtest.WithKey(keys[0]), ivtest.WithKey(keys[1]),
	}
	ws := make([]*worker, workers)
	for g := range ws {
		w := &worker{id: g, acct: acct, number: fmt.Sprint(1001 + g), name: fmt.Sprintf("Agent %d", g), queue: fmt.Sprint(7001 + g)}
		ws[g] = w
		opts = append(opts,
			ivtest.WithAgent(acct, w.number, "", w.name),
			ivtest.WithQueue(acct, w.queue),
			ivtest.WithSeed("AgentLogin", map[string]any{"accountcode": acct, "user": w.number, "interface": "SIP/" + acct + "_" + w.number}),
		)
	}
	p := ivtest.NewPlatform(t, opts...)
	states := &stateRec{clk: clk}
	tr, err := stompx.Dial(ctx, addr, stompx.WithLogin(rabbitLogin, rabbitPasscode), stompx.WithRequestQueue(queue),
		stompx.WithReconnectBackoff(100*time.Millisecond, time.Second), stompx.WithStateHandler(states.add))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	for g, w := range ws {
		if w.c, err = ivclient.New(tr, keys[g%2], ivclient.KeepTransportOpen()); err != nil {
			t.Fatal(err)
		}
	}

	all, err := tr.Subscribe(ctx, events.AllAgents)
	if err != nil {
		t.Fatal(err)
	}
	agentTopic := events.AgentTopic(acct, ws[0].number)
	one, err := tr.Subscribe(ctx, agentTopic)
	if err != nil {
		t.Fatal(err)
	}
	allLog, oneLog := consume(clk, all), consume(clk, one)
	t.Cleanup(func() {
		_ = all.Close()
		_ = one.Close()
		<-allLog.done
		<-oneLog.done
	})
	mine := func(e seenEvent) bool { return strings.HasPrefix(e.agent, acct+"_") }

	// Events flow before the outage, on both subscriptions.
	checkFlow(t, p, ws[0], allLog, oneLog, agentTopic, "before the restart")

	// The load: 4 workers, each call with its own deadline.
	var (
		stacks            lateStacks
		stopLoad          atomic.Bool
		stalled           atomic.Int64 // calls late only because the process was stalled
		stopAt, startAt   mark
		okBefore, okAfter [workers]atomic.Int64
		recMu             sync.Mutex
		recs              []callRec
		wg                sync.WaitGroup
		loadCtx, loadStop = context.WithTimeout(ctx, loadLimit)
	)
	defer loadStop()
	defer func() {
		if t.Failed() {
			t.Logf("stop at %v, start at %v, longest stall of the process %v; states: %v",
				stopAt.get(), startAt.get(), mon.max(), describe(states.all()))
		}
	}()

	for _, w := range ws {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			var made []callRec
			defer func() {
				recMu.Lock()
				recs = append(recs, made...)
				recMu.Unlock()
			}()
			for i := 0; i < maxCalls && !stopLoad.Load() && loadCtx.Err() == nil; i++ {
				op := i % len(opNames)
				cctx, cancel := context.WithTimeout(loadCtx, callDeadline)
				var expired atomic.Int64 // when this process saw the deadline pass
				unwatch := context.AfterFunc(cctx, func() { expired.Store(int64(clk.now())) })
				begin := clk.now()
				late := time.AfterFunc(callDeadline+callSlack/2, stacks.capture)
				wrong, err := w.call(cctx, op)
				end := clk.now()
				late.Stop()
				unwatch()
				cancel()
				if errors.Is(err, context.Canceled) && loadCtx.Err() != nil {
					return // the test is over
				}
				what, typed := outcome(op, err)
				made = append(made, callRec{worker: w.id, op: op, start: begin, end: end, outcome: what})
				// A call may end at most callSlack after its deadline. If the
				// whole process was stalled (a loaded machine), its timers
				// fired late too: the call is then judged from when the
				// deadline was seen to pass.
				overdue := end-begin > callDeadline+callSlack
				if seen := time.Duration(expired.Load()); overdue && seen != 0 && end-seen <= callSlack {
					overdue = false
					stalled.Add(1)
				}
				switch {
				case !typed:
					t.Errorf("worker %d: %s: neither a result nor an expected typed error: %v", w.id, opNames[op], err)
					return
				case wrong != "":
					t.Errorf("worker %d: a reply reached the wrong caller: %s", w.id, wrong)
					return
				case overdue:
					t.Errorf("worker %d: %s from %v to %v took %v, past its %v deadline (%v); goroutines then:\n%s", w.id, opNames[op],
						begin.Round(time.Millisecond), end.Round(time.Millisecond), end-begin, callDeadline, err, stacks.get())
					return
				}
				if err == nil {
					if s := startAt.get(); s != 0 && begin >= s {
						okAfter[w.id].Add(1)
					} else if stopAt.get() == 0 {
						okBefore[w.id].Add(1)
					}
				}
			}
		}(w)
	}
	t.Cleanup(func() { stopLoad.Store(true); wg.Wait() }) // before the platform and transport close
	waitUntil(t, "every worker has made its first calls", func() bool { return atLeast(&okBefore, warmCalls) })

	// The outage. Whatever happens from here on, the broker is started again.
	var restarted atomic.Bool
	t.Cleanup(func() {
		if restarted.Load() {
			return
		}
		t.Logf("starting the broker again after a failure")
		if _, err := run(startCmd); err != nil {
			t.Errorf("restarting the broker after a failure: %v", err)
		}
		pctx, cancel := context.WithTimeout(context.Background(), phaseLimit)
		defer cancel()
		if err := waitPort(pctx, addr); err != nil {
			t.Errorf("restarting the broker after a failure: %v", err)
		}
	})
	stopAt.set(clk.now())
	stopTook, err := run(stopCmd)
	if err != nil {
		t.Fatalf("stopping the broker: %v", err)
	}
	lost, ok := waitState(t, states, stompx.Reconnecting, stopAt.get())
	if !ok {
		t.Fatalf("the transport never reported Reconnecting after the broker stopped; states: %v", describe(states.all()))
	}
	if !errors.Is(lost.Err, ivclient.ErrConnectionLost) {
		t.Errorf("Reconnecting with cause %v, want one wrapping ErrConnectionLost", lost.Err)
	}
	time.Sleep(outage)

	// The restart; the STOMP port is watched while the command runs.
	var portAt mark
	pctx, pcancel := context.WithTimeout(ctx, cmdLimit+phaseLimit)
	portDone := make(chan struct{})
	var portErr error
	go func() {
		defer close(portDone)
		if portErr = waitPort(pctx, addr); portErr == nil {
			portAt.set(clk.now())
		}
	}()
	t.Cleanup(func() { pcancel(); <-portDone })
	startAt.set(clk.now())
	startTook, err := run(startCmd)
	if err != nil {
		t.Fatalf("starting the broker: %v", err)
	}
	<-portDone
	if portErr != nil {
		t.Fatal(portErr)
	}
	restarted.Store(true)

	// Recovery: calls succeed again while the load goes on.
	waitUntil(t, "every worker succeeds again after the restart", func() bool { return atLeast(&okAfter, warmCalls) })
	stopLoad.Store(true)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	connectedAt, ok := states.first(stompx.Connected, startAt.get())
	if !ok {
		t.Fatalf("no Connected after the restart; states: %v", describe(states.all()))
	}
	if s := tr.State(); s != stompx.Connected {
		t.Fatalf("state %v after the restart", s)
	}

	// Every call returned in time with a result or a typed error: the
	// workers checked each one as it returned. Those made during the outage
	// (in flight when the connection dropped, or waiting for the
	// reconnection) are counted here; the outage begins with the first
	// call that failed with ErrConnectionLost (the Reconnecting state is
	// reported just after).
	sort.Slice(recs, func(i, j int) bool { return recs[i].end < recs[j].end })
	dropAt := lost.at
	for _, r := range recs {
		if r.end >= stopAt.get() && r.outcome == "ErrConnectionLost" && r.end < dropAt {
			dropAt = r.end
			break
		}
	}
	outageCalls := map[string]int{}
	nOutage, nStopping := 0, 0
	var firstOK, maxTook time.Duration
	for _, r := range recs {
		if r.end-r.start > maxTook {
			maxTook = r.end - r.start
		}
		switch {
		case r.end >= dropAt && r.start <= connectedAt.at:
			outageCalls[r.outcome]++
			nOutage++
		case r.end >= stopAt.get() && r.end < dropAt:
			nStopping++ // the broker was still serving while it stopped
		}
		// The old connection was gone before the start command: a call
		// that succeeded after it went through the new one.
		if firstOK == 0 && r.outcome == "ok" && r.end >= startAt.get() {
			firstOK = r.end
		}
	}
	if nOutage < workers {
		t.Errorf("only %d calls overlapped the outage: the test did not exercise it", nOutage)
	}

	// Events flow again on the same subscriptions (all and one, the values
	// Subscribe returned before the outage), the wildcard one included:
	// every agent's events reach it.
	firstAll, okAll := allLog.wait(phaseLimit, func(e seenEvent) bool { return mine(e) && e.at >= startAt.get() })
	firstOne, okOne := oneLog.wait(phaseLimit, func(e seenEvent) bool { return e.at >= startAt.get() })
	if !okAll || !okOne {
		t.Fatalf("no event after the restart: wildcard %v, agent topic %v", okAll, okOne)
	}
	if _, ok := allLog.wait(phaseLimit, func(e seenEvent) bool {
		return e.at >= startAt.get() && e.agent == acct+"_"+ws[workers-1].number
	}); !ok {
		t.Fatalf("the wildcard subscription got no event of %s_%s after the restart", acct, ws[workers-1].number)
	}
	for _, w := range ws {
		cctx, cancel := context.WithTimeout(ctx, callDeadline)
		wrong, err := w.call(cctx, 0)
		cancel()
		if err != nil || wrong != "" {
			t.Fatalf("worker %d after the restart: %v %s", w.id, err, wrong)
		}
	}
	checkFlow(t, p, ws[0], allLog, oneLog, agentTopic, "after the restart")
	if all.Err() != nil || one.Err() != nil {
		t.Fatalf("subscriptions ended: %v, %v", all.Err(), one.Err())
	}

	// The state changes, in order: Connecting, Connected, Reconnecting (the
	// broker gone), Connected; never Closed.
	seen := states.all()
	var want = []stompx.State{stompx.Connecting, stompx.Connected, stompx.Reconnecting, stompx.Connected}
	i := 0
	for _, c := range seen {
		if i < len(want) && c.State == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("states %v, want %v in order", describe(seen), want)
	}
	for _, c := range seen {
		if c.State == stompx.Closed {
			t.Errorf("the transport closed: %v", describe(seen))
		}
	}
	st := tr.Stats()
	if st.ConnectionsLost == 0 || st.Reconnects == 0 {
		t.Errorf("stats %+v", st)
	}

	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	t.Logf("calls: %d in all; %d while the broker was stopping; %d during the outage (%v to %v): %v; longest %v (deadline %v); %d late only because the process stalled (longest stall %v)",
		len(recs), nStopping, nOutage, ms(dropAt), ms(connectedAt.at), outageCalls, ms(maxTook), callDeadline, stalled.Load(), ms(mon.max()))
	t.Logf("broker: %s at %v took %v (connection lost %v after it began); %s at %v took %v (STOMP port open %v after it began)",
		strings.Join(stopCmd, " "), ms(stopAt.get()), ms(stopTook), ms(lost.at-stopAt.get()),
		strings.Join(startCmd, " "), ms(startAt.get()), ms(startTook), ms(portAt.get()-startAt.get()))
	t.Logf("states: %v", describe(seen))
	t.Logf("recovery, from %s: Connected after %v, first successful call after %v, first event after %v (wildcard) and %v (agent topic)",
		strings.Join(startCmd, " "), ms(connectedAt.at-startAt.get()), ms(firstOK-startAt.get()),
		ms(firstAll.at-startAt.get()), ms(firstOne.at-startAt.get()))
	t.Logf("transport %+v; platform %+v; events wildcard %d delivered %d dropped, agent topic %d delivered %d dropped",
		st, p.Stats(), all.Delivered(), all.Dropped(), one.Delivered(), one.Dropped())
}

// checkFlow plays an outbound call for w's agent and waits for its NEWCALL
// on both subscriptions.
func checkFlow(t *testing.T, p *ivtest.Platform, w *worker, all, one *eventLog, topic, when string) {
	t.Helper()
	// The agent may be paused; the call needs it available.
	ctx, cancel := context.WithTimeout(context.Background(), callDeadline)
	err := w.c.AgentUnpause(ctx, w.acct, w.number)
	cancel()
	if err != nil && !errors.Is(err, codes.ErrDuplicate) {
		t.Fatalf("%s: AgentUnpause: %v", when, err)
	}
	uid, err := p.OutboundCall(w.acct, w.number, "5550100", ivtest.Answer)
	if err != nil {
		t.Fatalf("%s: OutboundCall: %v", when, err)
	}
	newCall := func(e seenEvent) bool { return e.typ == events.NewCall && e.uid == uid }
	if e, ok := all.wait(phaseLimit, newCall); !ok || e.topic != topic {
		t.Fatalf("%s: the wildcard subscription did not get NEWCALL %s on %s (got %v %+v)", when, uid, topic, ok, e)
	}
	if _, ok := one.wait(phaseLimit, newCall); !ok {
		t.Fatalf("%s: the agent's subscription did not get NEWCALL %s", when, uid)
	}
	if err := p.EndCall(uid, events.ReasonByCaller); err != nil {
		t.Fatalf("%s: Hangup: %v", when, err)
	}
}

// stallMonitor measures how late this process runs its timers: the
// longest stall of the whole process (a loaded machine) while the test runs.
type stallMonitor struct {
	worst atomic.Int64
	stop  chan struct{}
	done  chan struct{}
}

func watchStalls(t *testing.T) *stallMonitor {
	m := &stallMonitor{stop: make(chan struct{}), done: make(chan struct{})}
	const tick = 10 * time.Millisecond
	go func() {
		defer close(m.done)
		tk := time.NewTicker(tick)
		defer tk.Stop()
		last := time.Now()
		for {
			select {
			case <-m.stop:
				return
			case <-tk.C:
				now := time.Now()
				if d := now.Sub(last) - tick; d > time.Duration(m.worst.Load()) {
					m.worst.Store(int64(d))
				}
				last = now
			}
		}
	}()
	t.Cleanup(func() { close(m.stop); <-m.done })
	return m
}

func (m *stallMonitor) max() time.Duration { return time.Duration(m.worst.Load()) }

// lateStacks keeps the goroutine stacks of the first moment a call was
// late, to show where it was stuck.
type lateStacks struct {
	once sync.Once
	mu   sync.Mutex
	buf  []byte
}

func (l *lateStacks) capture() {
	l.once.Do(func() {
		b := make([]byte, 1<<20)
		b = b[:runtime.Stack(b, true)]
		l.mu.Lock()
		l.buf = b
		l.mu.Unlock()
	})
}

func (l *lateStacks) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

func atLeast(c *[workers]atomic.Int64, n int64) bool {
	for i := range c {
		if c[i].Load() < n {
			return false
		}
	}
	return true
}

// waitUntil polls cond for phaseLimit at most; it gives up early when the
// test has already failed.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(phaseLimit)
	for !cond() {
		if t.Failed() {
			t.FailNow()
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", phaseLimit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitState(t *testing.T, r *stateRec, s stompx.State, from time.Duration) (stateAt, bool) {
	t.Helper()
	deadline := time.Now().Add(phaseLimit)
	for {
		if c, ok := r.first(s, from); ok {
			return c, true
		}
		if time.Now().After(deadline) {
			return stateAt{}, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func describe(log []stateAt) string {
	var b strings.Builder
	for i, c := range log {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%v at %v", c.State, c.at.Round(time.Millisecond))
		if c.Err != nil {
			fmt.Fprintf(&b, " (%v)", c.Err)
		}
	}
	return "[" + b.String() + "]"
}
