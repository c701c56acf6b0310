// Command call-workers writes one call record per finished call, and is
// meant to be started several times on one durable name: the broker keeps
// the events in a queue of that name and shares them among the workers
// (stompx.Transport.SubscribeDurable). Kill a worker and its events go to
// the others; stop them all and the events wait for the next one.
//
// A worker acknowledges an event only after its record is written, so a
// worker killed at any moment loses nothing: what it had not acked is
// delivered again, to another worker or to its replacement, with
// Event.Redelivered set. Delivery is at least once: a worker killed between
// its write and its ack leaves a record that the redelivery writes again.
// Records are keyed by (agent, uniqueid) for that reason: store them with an
// upsert on that key (or skip a key already stored), never as an append.
//
// A call's events can reach different workers: NEWCALL to one, HANGUP to
// another. A per-worker events.Tracker therefore sees half calls, and
// reports them wrong: a HANGUP without its NEWCALL becomes a call with no
// direction, no ring or talk time; a NEWCALL whose HANGUP went elsewhere
// stays open for hours and is then reported Expired. So this worker keeps
// no state across events: it writes its record on HANGUP, with what the
// HANGUP carries (uniqueid, agent, callerid, reason, and whether the call
// was answered, which the reason tells), and acks every other event at
// once. When the record needs the whole call (ring and talk durations, the
// direction), either store each event keyed by (agent, uniqueid, type) and
// join them where they meet (the database), or give the Tracker all of a
// call's events by running a single consumer per durable name (a replacement
// resumes where it stopped; you lose the sharing, not the events).
//
// With no environment it starts the in-process fake platform (package
// ivtest), whose broker keeps durable queues as RabbitMQ does, and plays the
// story: one worker takes a call's HANGUP and dies before writing it; two
// others start, the HANGUP is redelivered to one of them, and every call
// gets its record:
//
//	go run ./examples/call-workers
//
// Against a real platform (RabbitMQ), start it as often as you like; it
// runs until interrupted or -duration. IV_STOMP_ADDR may list the nodes of
// a cluster, comma-separated:
//
//	IV_STOMP_ADDR=acd.example.com:61613 go run ./examples/call-workers -out records.jsonl
//
// The broker login is IV_STOMP_LOGIN / IV_STOMP_PASSCODE when set (default
// the platform's). IV_KEY is not needed: events come from the broker alone.
// -h lists the flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/examples/internal/exampleenv"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// record is what a worker writes for a finished call: one JSON line.
type record struct {
	UniqueID string `json:"uniqueid"`
	Agent    string `json:"agent"`
	CallerID string `json:"callerid"`
	Reason   string `json:"reason"`
	// Answered says whether the call was answered, as far as the reason
	// tells (BYCALLER, BYCALLEE, ATRANSFER, BTRANSFER: yes; NOANSWER,
	// BUSY, FAILED, QUEUEGIVEUP, QUEUEMISSED, PICKUP: no); null when the
	// reason does not say (UNKNOWN, MSSTOP, MSSTART, MSGONE).
	Answered *bool     `json:"answered"`
	EndedAt  time.Time `json:"ended_at"` // when the worker received the HANGUP
	Worker   string    `json:"worker"`
	// Redelivered is set when the HANGUP was delivered before to a worker
	// that did not ack it: that worker may have written this record too.
	Redelivered bool `json:"redelivered"`
}

// Key is the record's key: write records with an upsert on it.
func (r record) Key() string { return r.Agent + "/" + r.UniqueID }

// answered says what a hangup reason tells about the call being answered.
func answered(reason string) *bool {
	yes, no := true, false
	switch reason {
	case events.ReasonByCaller, events.ReasonByCallee, events.ReasonATransfer, events.ReasonBTransfer:
		return &yes
	case events.ReasonNoAnswer, events.ReasonBusy, events.ReasonFailed, events.ReasonQueueGiveUp,
		events.ReasonQueueMissed, events.ReasonPickup:
		return &no
	}
	return nil
}

// worker consumes one durable subscription and writes records to out.
type worker struct {
	id   string
	out  io.Writer
	sync func() error // after each record, when the output must reach the disk (-sync)

	// dieOn, in the embedded demo, makes the worker die when it takes an
	// event of this type: it stops without writing or acking it, as a
	// killed process would.
	dieOn events.Type

	written int
}

var errDied = errors.New("died before writing its record")

// consume handles the events of sub until ctx is done or sub ends: for
// each, the record first, then the ack. It does not use events.Run, which
// acks an event once its sinks return: a sink cannot refuse an event whose
// record it failed to write.
func (w *worker) consume(ctx context.Context, sub *events.Subscription) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.C():
			if !ok {
				return sub.Err()
			}
			if w.dieOn != "" && ev.Type == w.dieOn {
				return fmt.Errorf("worker %s took %s of call %s and %w", w.id, ev.Type, ev.UniqueID, errDied)
			}
			if ev.Type == events.Hangup {
				if err := w.write(ev); err != nil {
					// Not acked: the broker gives the event to another
					// worker once this one's connection is gone.
					return fmt.Errorf("writing the record of call %s: %w", ev.UniqueID, err)
				}
			}
			if err := sub.Ack(ev); err != nil {
				// The connection dropped first: the broker delivers the
				// event again, with Redelivered set, to this worker once
				// it has reconnected, or to another. The record's key makes
				// the second write harmless.
				fmt.Fprintf(os.Stderr, "call-workers: worker %s: %v\n", w.id, err)
			}
		}
	}
}

// write writes the record of a HANGUP, in one Write, so that a worker killed
// mid-way leaves no half record behind.
func (w *worker) write(ev events.Event) error {
	agent := ev.Agent
	if agent == "" { // the agent's topic says whose event it is
		agent = strings.TrimPrefix(ev.Topic, events.TopicPrefix)
	}
	r := record{UniqueID: ev.UniqueID, Agent: agent, CallerID: ev.CallerID, Reason: ev.Reason,
		Answered: answered(ev.Reason), EndedAt: ev.Received.UTC(), Worker: w.id, Redelivered: ev.Redelivered}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := w.out.Write(append(b, '\n')); err != nil {
		return err
	}
	if w.sync != nil {
		if err := w.sync(); err != nil {
			return err
		}
	}
	w.written++
	return nil
}

type config struct {
	name     string
	out      string
	id       string
	quorum   bool
	prefetch int
	idle     time.Duration
	sync     bool
}

func (c config) durableOptions() []stompx.DurableOption {
	var opts []stompx.DurableOption
	if c.quorum {
		opts = append(opts, stompx.WithQuorumQueue())
	}
	if c.prefetch > 0 {
		opts = append(opts, stompx.WithPrefetch(c.prefetch))
	}
	if c.idle > 0 {
		opts = append(opts, stompx.WithIdleExpiry(c.idle))
	}
	return opts
}

func main() {
	host, _ := os.Hostname()
	var cfg config
	flag.StringVar(&cfg.name, "name", "call-records", "the durable name the workers share (the broker's queue is iv.events.<name>)")
	flag.StringVar(&cfg.out, "out", "-", `where to append the records, one JSON line each ("-": stdout)`)
	flag.StringVar(&cfg.id, "id", fmt.Sprintf("%s-%d", host, os.Getpid()), "this worker's name in its records")
	flag.BoolVar(&cfg.quorum, "quorum", false, "a quorum queue: replicated on a RabbitMQ cluster, kept across a broker restart (every worker of the name must agree)")
	flag.IntVar(&cfg.prefetch, "prefetch", 0, "events in flight to this worker, unacked (0: the SDK's default)")
	flag.DurationVar(&cfg.idle, "idle-expiry", 0, "the broker deletes the queue, with its events, after this long with no worker (0: never; every worker of the name must agree)")
	flag.BoolVar(&cfg.sync, "sync", false, "fsync the -out file after each record, so that records survive a machine crash, not only a killed worker")
	duration := flag.Duration("duration", 0, "stop after this long (0: until interrupted, or until the embedded demo is done)")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `Usage: call-workers [flags]

A worker that writes one JSON record per finished call, on HANGUP, and acks
each event only once its record is written. Start it several times on one
durable name (-name): the broker shares the events among the workers and
keeps them while none runs. Delivery is at least once: store the records
with an upsert on (agent, uniqueid).

Runs against a real platform when IV_STOMP_ADDR is set: the RabbitMQ at
IV_STOMP_ADDR (several nodes of a cluster, comma-separated; login
IV_STOMP_LOGIN / IV_STOMP_PASSCODE, default the platform's), until
interrupted or -duration. IV_KEY is not needed: events come from the broker.
Otherwise it starts the in-process fake platform (package ivtest) and plays
three workers, one of which dies holding a HANGUP, and exits when every
call has its record.

`)
		flag.PrintDefaults()
	}
	flag.Parse()

	ctx, cancel := exampleenv.Context(*duration)
	defer cancel()
	var err error
	if os.Getenv("IV_STOMP_ADDR") == "" {
		err = demo(ctx, cfg)
	} else {
		err = run(ctx, cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "call-workers:", err)
		os.Exit(1)
	}
}

// run is one worker against the broker of IV_STOMP_ADDR.
func run(ctx context.Context, cfg config) error {
	addrs := exampleenv.SplitAddrs(os.Getenv("IV_STOMP_ADDR"))
	if len(addrs) == 0 {
		return errors.New("IV_STOMP_ADDR lists no address")
	}
	opts := []stompx.Option{stompx.WithAddrs(addrs[1:]...)}
	if login := os.Getenv("IV_STOMP_LOGIN"); login != "" {
		opts = append(opts, stompx.WithLogin(login, os.Getenv("IV_STOMP_PASSCODE")))
	}

	w := &worker{id: cfg.id, out: os.Stdout}
	if cfg.out != "-" {
		f, err := os.OpenFile(cfg.out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		w.out = f
		if cfg.sync {
			w.sync = f.Sync
		}
	}

	t, err := stompx.Dial(ctx, addrs[0], opts...)
	if err != nil {
		return fmt.Errorf("connecting to the broker: %w", err)
	}
	defer t.Close()
	sub, err := t.SubscribeDurable(ctx, cfg.name, []string{events.AllAgents}, cfg.durableOptions()...)
	if err != nil {
		return err
	}
	defer sub.Close()
	fmt.Fprintf(os.Stderr, "call-workers: worker %s: consuming durable name %q (queue iv.events.%s) on %s\n",
		w.id, cfg.name, cfg.name, strings.Join(addrs, ","))
	err = w.consume(ctx, sub)
	fmt.Fprintf(os.Stderr, "call-workers: worker %s: %d call records written\n", w.id, w.written)
	return err
}

// recordLog is the demo's output: the records of every worker, printed as
// they are written, and counted by key.
type recordLog struct {
	mu       sync.Mutex
	byKey    map[string]int
	byWorker map[string]int
	redeliv  int
	changed  chan struct{}
}

func (l *recordLog) Write(b []byte) (int, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Printf("  record %s", b)
	l.byKey[r.Key()]++
	l.byWorker[r.Worker]++
	if r.Redelivered {
		l.redeliv++
	}
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return len(b), nil
}

func (l *recordLog) keys() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byKey)
}

// demo plays the story on the embedded fake platform.
func demo(ctx context.Context, cfg config) error {
	const acct = "default"
	opts := []ivtest.Option{ivtest.WithAccountcodes(acct), ivtest.WithQueue(acct, "7000")}
	for _, a := range []struct{ number, name string }{{"1001", "Alice"}, {"1002", "Bob"}} {
		opts = append(opts, ivtest.WithAgent(acct, a.number, "", a.name),
			ivtest.WithSeed("AgentLogin", map[string]any{"accountcode": acct, "user": a.number, "interface": "SIP/" + acct + "_" + a.number}),
			ivtest.WithSeed("AgentQueueAdd", map[string]any{"accountcode": acct, "user": a.number,
				"queues": []any{map[string]any{"name": "7000", "priority": "0"}}}))
	}
	p, err := ivtest.Start(opts...)
	if err != nil {
		return fmt.Errorf("starting the fake platform: %w", err)
	}
	defer p.Close()
	fmt.Println("started the fake platform")

	log := &recordLog{byKey: map[string]int{}, byWorker: map[string]int{}, changed: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	defer wg.Wait()
	wctx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	// start runs one worker on a transport of its own, as a process would.
	start := func(w *worker) (<-chan error, error) {
		t, err := stompx.Dial(wctx, p.STOMPAddr())
		if err != nil {
			return nil, err
		}
		sub, err := t.SubscribeDurable(wctx, cfg.name, []string{events.AllAgents}, cfg.durableOptions()...)
		if err != nil {
			t.Close()
			return nil, err
		}
		done := make(chan error, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := w.consume(wctx, sub)
			// A dying worker's transport goes with it, unacked events
			// included: the broker delivers them again.
			t.Close()
			done <- err
		}()
		return done, nil
	}

	// Worker w1 starts alone, and dies holding the first call's HANGUP.
	w1 := &worker{id: "w1", out: log, dieOn: events.Hangup}
	died, err := start(w1)
	if err != nil {
		return err
	}
	fmt.Printf("worker w1 consuming durable name %q (queue iv.events.%s)\n", cfg.name, cfg.name)
	uid, err := p.InboundCall(acct, "7000", "1001", "2198765456", ivtest.Answer)
	if err != nil {
		return err
	}
	if err := p.EndCall(uid, events.ReasonByCaller); err != nil {
		return err
	}
	select {
	case err := <-died:
		if !errors.Is(err, errDied) {
			return fmt.Errorf("worker w1: %v", err)
		}
		fmt.Printf("%v (no ack): the broker keeps it for the others\n", err)
	case <-time.After(10 * time.Second):
		return errors.New("worker w1 never took the HANGUP")
	case <-ctx.Done():
		return ctx.Err()
	}

	// Two workers start; one of them gets the HANGUP again.
	var dones []<-chan error
	for _, id := range []string{"w2", "w3"} {
		done, err := start(&worker{id: id, out: log})
		if err != nil {
			return err
		}
		dones = append(dones, done)
	}
	fmt.Println("workers w2 and w3 consuming the same durable name")

	// More calls, which the two share.
	calls := 1
	play := []func() error{
		func() error {
			uid, err := p.InboundCall(acct, "7000", "1002", "2133334444", ivtest.Answer)
			if err == nil {
				err = p.EndCall(uid, events.ReasonByCallee)
			}
			return err
		},
		func() error {
			_, err := p.InboundCall(acct, "7000", "1001", "2155550000", ivtest.QueueMissed)
			return err
		},
		func() error { _, err := p.OutboundCall(acct, "1002", "2144445555", ivtest.Busy); return err },
		func() error {
			uid, err := p.OutboundCall(acct, "1001", "2166667777", ivtest.Answer)
			if err == nil {
				err = p.EndCall(uid, events.ReasonByCaller)
			}
			return err
		},
		func() error { _, err := p.InboundCall(acct, "", "1002", "2177778888", ivtest.NoAnswer); return err },
	}
	for _, step := range play {
		if err := step(); err != nil {
			return err
		}
		calls++
	}
	fmt.Printf("%d calls played\n", calls)

	// Every call gets its record, whichever worker writes it.
	limit := time.NewTimer(30 * time.Second)
	defer limit.Stop()
	for log.keys() < calls {
		select {
		case <-log.changed:
		case err := <-dones[0]:
			return fmt.Errorf("worker w2 stopped: %v", err)
		case err := <-dones[1]:
			return fmt.Errorf("worker w3 stopped: %v", err)
		case <-limit.C:
			return fmt.Errorf("only %d of %d calls have a record after 30s", log.keys(), calls)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	stopWorkers()
	wg.Wait()

	log.mu.Lock()
	defer log.mu.Unlock()
	total, ws := 0, make([]string, 0, len(log.byWorker))
	for w, n := range log.byWorker {
		total += n
		ws = append(ws, fmt.Sprintf("%s %d", w, n))
	}
	sort.Strings(ws)
	fmt.Printf("%d calls, %d call records (%d keys; %d from a redelivered HANGUP); by worker: %s\n",
		calls, total, len(log.byKey), log.redeliv, strings.Join(ws, ", "))
	return nil
}
