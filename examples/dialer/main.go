// Command dialer runs a small outbound campaign: it logs its agents in and
// calls a list of numbers with NewCall, each call placed by a free agent, at
// most one call per agent and at most -concurrency at once. It waits for each
// call's outcome in the agent's events (answered, busy, no answer, ...),
// hangs up answered calls after -talk, gives every call a deadline
// (-call-timeout), and prints a summary.
//
// With no environment it starts the in-process fake platform (package
// ivtest), whose customers answer, are busy or do not answer according to a
// script:
//
//	go run ./examples/dialer
//
// Against a real platform (the agents must exist there, with lines):
//
//	IV_STOMP_ADDR=acd.example.com:61613 IV_KEY=f054bbd2f5ebab9 go run ./examples/dialer -agents 1001,1002 -numbers 2198765401,2198765402
//
// The broker login is IV_STOMP_LOGIN / IV_STOMP_PASSCODE when set (default
// the platform's); -h lists the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/examples/internal/exampleenv"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

type config struct {
	accountcode string
	agents      []string
	numbers     []string
	iface       string
	concurrency int
	callTimeout time.Duration
	talk        time.Duration
	timeout     time.Duration
}

// script is how the fake platform's customers answer when the dialer runs
// embedded (ivtest.Answer: they pick up, and stay on until the dialer hangs
// up).
var script = map[string]ivtest.Outcome{
	"2198765401": ivtest.Answer,
	"2198765402": ivtest.Busy,
	"2198765403": ivtest.Answer,
	"2198765404": ivtest.NoAnswer,
	"2198765405": ivtest.Answer,
	"2198765406": ivtest.Failed,
	"2198765407": ivtest.Outcome(events.ReasonByCallee), // answers and hangs up at once
	"2198765408": ivtest.Answer,
}

func main() {
	var cfg config
	agents := flag.String("agents", "1001,1002,1003", "the agents that place the calls, comma-separated")
	numbers := flag.String("numbers", "", "the numbers to call, comma-separated (default: the embedded demo's eight numbers)")
	flag.StringVar(&cfg.accountcode, "accountcode", "default", "the agents' accountcode")
	flag.StringVar(&cfg.iface, "iface", "SIP/{agent}", `the interface each agent logs in on; {agent} is "<accountcode>_<number>"`)
	flag.IntVar(&cfg.concurrency, "concurrency", 0, "at most this many calls at once (0: one per agent)")
	flag.DurationVar(&cfg.callTimeout, "call-timeout", 30*time.Second, "the deadline of each call, from NewCall to its HANGUP")
	flag.DurationVar(&cfg.talk, "talk", 200*time.Millisecond, "how long an answered call lasts before the dialer hangs up")
	flag.DurationVar(&cfg.timeout, "timeout", 5*time.Minute, "how long the whole campaign may take")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `Usage: dialer [flags]

Runs an outbound campaign: logs the agents in, calls each number with NewCall
through a free agent (bounded concurrency), waits for each call's outcome in
the agent's events with a per-call deadline, and prints a summary.

Runs against a real platform when IV_STOMP_ADDR is set: the broker at
IV_STOMP_ADDR (login IV_STOMP_LOGIN / IV_STOMP_PASSCODE, default the
platform's) with the access key IV_KEY. Otherwise it starts the in-process
fake platform (package ivtest), whose customers follow a script.

`)
		flag.PrintDefaults()
	}
	flag.Parse()
	cfg.agents = splitList(*agents)
	cfg.numbers = splitList(*numbers)
	if len(cfg.agents) == 0 {
		fail(errors.New("-agents is empty"))
	}

	ctx, cancel := exampleenv.Context(cfg.timeout)
	defer cancel()
	if err := run(ctx, cfg); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "dialer:", err)
	os.Exit(1)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run(ctx context.Context, cfg config) error {
	seeds := []ivtest.Option{ivtest.WithAccountcodes(cfg.accountcode)}
	for _, a := range cfg.agents {
		seeds = append(seeds, ivtest.WithAgent(cfg.accountcode, a, "", "Agent "+a))
	}
	env, err := exampleenv.Open(seeds...)
	if err != nil {
		return err
	}
	defer env.Close()
	// beforeDial is the embedded platform's customer script; nil otherwise.
	var beforeDial func(number string) error
	if p := env.Fake; p != nil {
		if len(cfg.numbers) == 0 {
			for n := range script {
				cfg.numbers = append(cfg.numbers, n)
			}
			sort.Strings(cfg.numbers)
		}
		beforeDial = func(number string) error { return p.SetNewCallOutcome(script[number]) }
	}
	if len(cfg.numbers) == 0 {
		return errors.New("-numbers is empty")
	}
	t, c, err := env.STOMPClient(ctx) // t delivers the events
	if err != nil {
		return err
	}
	defer c.Close() // closes t too

	d := &dialer{cfg: cfg, t: t, c: c, beforeDial: beforeDial, waiting: map[string]chan events.Event{}}
	return d.campaign(ctx)
}

// dialer places the calls and routes each agent's events to the call it is
// placing.
type dialer struct {
	cfg        config
	t          *stompx.Transport // the broker: calls and events
	c          *ivclient.Client
	beforeDial func(number string) error
	dialMu     sync.Mutex // keeps beforeDial and its NewCall together

	mu      sync.Mutex
	waiting map[string]chan events.Event // by agent ("default_1001"): the events of its current call
}

// result is the outcome of one call.
type result struct {
	number, agent, outcome string
	answered, timedOut     bool
	talk                   time.Duration
	err                    error
}

func (d *dialer) campaign(ctx context.Context) error {
	cfg := d.cfg
	// One subscription to the agents' own topics (any broker; no wildcard
	// needed), made before anything is sent so that no event is missed.
	topics := make([]string, len(cfg.agents))
	for i, a := range cfg.agents {
		topics[i] = events.AgentTopic(cfg.accountcode, a)
	}
	sub, err := d.t.Subscribe(ctx, topics...)
	if err != nil {
		return err
	}
	defer sub.Close()
	go d.route(sub)

	loggedIn, err := d.login(ctx)
	defer d.logoff(loggedIn)
	if err != nil {
		return err
	}

	concurrency := cfg.concurrency
	if concurrency <= 0 || concurrency > len(cfg.agents) {
		concurrency = len(cfg.agents)
	}
	fmt.Printf("calling %d numbers with %d agents, at most %d calls at once\n", len(cfg.numbers), len(cfg.agents), concurrency)

	// free holds the agents available for a call; taking one from it is the
	// bound on concurrency.
	free := make(chan string, concurrency)
	for _, a := range cfg.agents[:concurrency] {
		free <- a
	}
	results := make(chan result, len(cfg.numbers))
	var wg sync.WaitGroup
	started := 0
dial:
	for _, number := range cfg.numbers {
		var agent string
		select {
		case agent = <-free:
		case <-ctx.Done():
			break dial
		}
		started++
		wg.Add(1)
		go func(agent, number string) {
			defer wg.Done()
			r := d.call(ctx, agent, number)
			free <- agent
			results <- r
		}(agent, number)
	}
	go func() { wg.Wait(); close(results) }()

	return d.report(ctx, results, started)
}

// login logs the campaign's agents in and returns those it logged in;
// agents already logged in are left so at the end.
func (d *dialer) login(ctx context.Context) ([]string, error) {
	cfg := d.cfg
	var loggedIn []string
	for _, a := range cfg.agents {
		iface := strings.ReplaceAll(cfg.iface, "{agent}", cfg.accountcode+"_"+a)
		err := d.c.AgentLogin(ctx, cfg.accountcode, a, iface)
		switch {
		case errors.Is(err, codes.ErrDuplicate):
		case err != nil:
			return loggedIn, fmt.Errorf("logging agent %s in: %w", a, err)
		default:
			loggedIn = append(loggedIn, a)
		}
	}
	return loggedIn, nil
}

// logoff logs agents off, each within 10 seconds, whatever the campaign's
// context says.
func (d *dialer) logoff(agents []string) {
	for _, a := range agents {
		lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := d.c.AgentLogoff(lctx, d.cfg.accountcode, a); err != nil {
			fmt.Fprintf(os.Stderr, "dialer: logging agent %s off: %v\n", a, err)
		}
		cancel()
	}
}

// report prints each call's result as it comes and a summary at the end; it
// fails when the campaign stopped before every number was called.
func (d *dialer) report(ctx context.Context, results <-chan result, started int) error {
	counts := map[string]int{}
	var failed int
	for r := range results {
		switch {
		case r.err != nil:
			failed++
			fmt.Printf("call %s by %s: failed: %v\n", r.number, r.agent, r.err)
		case r.timedOut:
			counts["timed out"]++
			fmt.Printf("call %s by %s: no HANGUP within %v: hung up\n", r.number, r.agent, d.cfg.callTimeout)
		case r.answered:
			counts["answered"]++
			fmt.Printf("call %s by %s: answered, talked %v, ended %s\n", r.number, r.agent, r.talk.Round(time.Millisecond), r.outcome)
		default:
			counts[r.outcome]++
			fmt.Printf("call %s by %s: not answered (%s)\n", r.number, r.agent, r.outcome)
		}
	}
	var parts []string
	for k, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(parts)
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", failed))
	}
	fmt.Printf("campaign done: %d of %d numbers called: %s\n", started, len(d.cfg.numbers), strings.Join(parts, ", "))
	if started < len(d.cfg.numbers) {
		return fmt.Errorf("campaign stopped: %w", ctx.Err())
	}
	return nil
}

// route hands each event to the call its agent is placing, if any.
func (d *dialer) route(sub *events.Subscription) {
	for ev := range sub.C() {
		d.mu.Lock()
		ch := d.waiting[ev.Agent]
		d.mu.Unlock()
		if ch != nil {
			select {
			case ch <- ev:
			default: // a call gets a handful of events: never full
			}
		}
	}
}

// call places one call through agent and follows it to its HANGUP, within
// the call deadline.
func (d *dialer) call(ctx context.Context, agent, number string) result {
	r := result{number: number, agent: d.cfg.accountcode + "_" + agent}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.callTimeout)
	defer cancel()

	evs := make(chan events.Event, 64)
	d.mu.Lock()
	d.waiting[r.agent] = evs
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.waiting, r.agent)
		d.mu.Unlock()
	}()

	if err := d.dial(ctx, agent, number); err != nil {
		r.err = err
		return r
	}

	// The hang-up after the talk time is this call's: it ends with it.
	var hangup sync.WaitGroup
	hctx, stopHangup := context.WithCancel(ctx)
	defer func() { stopHangup(); hangup.Wait() }()

	var uniqueID string
	var answeredAt time.Time
	for {
		select {
		case ev := <-evs:
			switch {
			case ev.Type == events.NewCall && ev.CallerID == number && uniqueID == "":
				uniqueID = ev.UniqueID // the call's identifier, for Hangup
			case ev.UniqueID != uniqueID || uniqueID == "":
				// an event of another call of the agent's
			case ev.Type == events.DConnect: // the number answered
				r.answered, answeredAt = true, time.Now()
				id := uniqueID
				hangup.Go(func() { d.hangupAfter(hctx, id, d.cfg.talk) })
			case ev.Type == events.Hangup:
				r.outcome = ev.Reason
				if r.answered {
					r.talk = time.Since(answeredAt)
				}
				return r
			}
		case <-ctx.Done():
			if uniqueID == "" {
				r.err = fmt.Errorf("no NEWCALL within the call deadline: %w", ctx.Err())
				return r
			}
			// No HANGUP in time: end the call rather than leave it up.
			r.timedOut, r.outcome = true, "TIMEOUT"
			hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer hcancel()
			if err := d.c.Hangup(hctx, d.cfg.accountcode, uniqueID); err != nil && !errors.Is(err, codes.ErrNotFound) {
				r.err = fmt.Errorf("no HANGUP within the call deadline, and hanging up failed: %w", err)
			}
			return r
		}
	}
}

// dial places the call. NewCall is never retried: a lost reply does not mean
// the call was not placed, and a second NewCall would ring the customer twice.
func (d *dialer) dial(ctx context.Context, agent, number string) error {
	externalID := "campaign-" + number
	if d.beforeDial == nil {
		return d.c.NewCall(ctx, d.cfg.accountcode, agent, number, externalID)
	}
	d.dialMu.Lock()
	defer d.dialMu.Unlock()
	if err := d.beforeDial(number); err != nil {
		return err
	}
	return d.c.NewCall(ctx, d.cfg.accountcode, agent, number, externalID)
}

// hangupAfter ends an answered call after the talk time, unless the call
// ends first (the customer hangs up: Hangup then finds no call).
func (d *dialer) hangupAfter(ctx context.Context, uniqueID string, talk time.Duration) {
	select {
	case <-time.After(talk):
	case <-ctx.Done():
		return
	}
	if err := d.c.Hangup(ctx, d.cfg.accountcode, uniqueID); err != nil && !errors.Is(err, codes.ErrNotFound) && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "dialer: hanging up %s: %v\n", uniqueID, err)
	}
}
