// Command call-workers writes one record per finished call, whole, into a
// store that may fail, and is meant to run as several processes on one
// durable name: one of them, the active worker, receives the events; the
// others wait as standbys, and one takes over when the active one dies
// (stompx.WithSingleActive). events.ConsumeCalls folds each call's events
// (NEWCALL, CONNECT, HANGUP, ...) into one events.Call and hands it to the
// handler once the call ended, and settles the call's events with the
// broker only when the handler returned nil:
//
//   - A worker that dies mid-call leaves the call's events with the broker;
//     the worker that takes over receives them again and hands the call over
//     whole (Call.Redelivered set). Records are therefore merged on (agent,
//     uniqueid): a call handed over twice is stored once, and a redelivered
//     call, which may lack the events the dead worker had settled, never
//     blanks a field stored before.
//
//   - A store that fails (the database is down) returns an error: the call
//     is tried again after a backoff that doubles (WithRetry), and the
//     agent's later calls wait, so that each agent's calls are stored in
//     order; other agents go on (WithLanes).
//
//   - A call the store keeps refusing is dead-lettered after the last try:
//     its events wait in the name's dead-letter queue, where an operator
//     lists, replays or purges them:
//
//     ivctl -stomp HOST:61613 dead list call-records
//     ivctl -stomp HOST:61613 dead replay call-records
//     ivctl -stomp HOST:61613 dead purge call-records
//
// The times in a record are when the worker received the events (the
// platform's events carry no timestamp); for a call handed over again
// after a takeover they are the redelivery times, so its ring and talk
// durations are left out.
//
// With no environment it starts the in-process fake platform (package
// ivtest), whose broker behaves as RabbitMQ, and plays the story: three
// workers, a store that is down for a moment, a call it refuses, and the
// active worker dying in the middle of a call:
//
//	go run ./examples/call-workers
//
// Against a real platform (RabbitMQ), start it as often as you like; each
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
	"strings"
	"sync"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/examples/internal/exampleenv"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// record is what the store keeps of a finished call: one JSON line.
type record struct {
	UniqueID  string `json:"uniqueid"`
	Agent     string `json:"agent"`
	Direction string `json:"direction"` // INBOUND or OUTBOUND
	CallerID  string `json:"callerid"`
	Reason    string `json:"reason"` // the hangup reason; empty when the call expired
	Answered  bool   `json:"answered"`
	Expired   bool   `json:"expired,omitempty"` // no HANGUP came: the platform lost it
	Open      bool   `json:"open,omitempty"`    // still in progress when stored (Call.Open): a later record ends it
	// RingSeconds and TalkSeconds are left out (null) for a call handed
	// over again (its times are those of the redelivery), and for one
	// still open or seen without its beginning.
	RingSeconds *float64  `json:"ring_seconds"`
	TalkSeconds *float64  `json:"talk_seconds"`
	EndedAt     time.Time `json:"ended_at"` // when the worker received the HANGUP
	Worker      string    `json:"worker"`
	Redelivered bool      `json:"redelivered"` // handed over again: another worker may have stored it too
}

// Key is the record's key: the store merges records on it.
func (r record) Key() string { return r.Agent + "/" + r.UniqueID }

func newRecord(c events.Call, worker string) record {
	r := record{UniqueID: c.UniqueID, Agent: c.Agent, Direction: c.Direction, CallerID: c.CallerID, Reason: c.Reason,
		Answered: c.Answered(), Expired: c.Expired, Open: c.Open, EndedAt: c.HangupAt.UTC(), Worker: worker, Redelivered: c.Redelivered}
	whole := !c.NewCallAt.IsZero() || !c.DNewCallAt.IsZero()
	if whole && !c.Redelivered && !c.Expired && !c.Open {
		ring, talk := c.RingDuration().Round(time.Millisecond).Seconds(), c.TalkDuration().Round(time.Millisecond).Seconds()
		r.RingSeconds, r.TalkSeconds = &ring, &talk
	}
	return r
}

// errUnavailable is the store's transient failure: try again later.
var errUnavailable = errors.New("database unavailable")

// store merges records by key and writes each as a JSON line to out. It
// stands for the CRM's database: down is how many writes still fail
// (transiently), and it refuses a record whose callerid is not a phone
// number, every time.
type store struct {
	mu      sync.Mutex
	out     io.Writer
	prefix  string // before each line written
	byKey   map[string]record
	again   int // records stored over an earlier one (a call handed over twice)
	down    int
	failed  int
	changed chan struct{}
}

func newStore(out io.Writer, prefix string) *store {
	return &store{out: out, prefix: prefix, byKey: map[string]record{}, changed: make(chan struct{}, 1)}
}

// put stores r, or fails: errUnavailable while the store is down, or an
// error that no retry will change.
func (s *store) put(r record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.byKey[r.Key()]; ok {
		// Every record of a call stored before is merged, not only the
		// Redelivered ones: a call handed over Open is handed again at its
		// end, perhaps by another worker that saw only its HANGUP.
		r = merge(old, r)
	}
	if s.down > 0 {
		s.down--
		s.failed++
		fmt.Fprintf(os.Stderr, "call-workers: worker %s: storing call %s: %v; ConsumeCalls tries it again\n", r.Worker, r.UniqueID, errUnavailable)
		return errUnavailable
	}
	if r.CallerID == "" || strings.Trim(r.CallerID, "+0123456789") != "" {
		s.failed++
		fmt.Fprintf(os.Stderr, "call-workers: worker %s: storing call %s: callerid %q is not a phone number\n", r.Worker, r.UniqueID, r.CallerID)
		return fmt.Errorf("store: callerid %q is not a phone number", r.CallerID)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(s.out, "%s%s\n", s.prefix, b); err != nil {
		return err // a full disk: tried again
	}
	if _, ok := s.byKey[r.Key()]; ok {
		s.again++
	}
	s.byKey[r.Key()] = r
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return nil
}

// merge returns r with every field it lacks taken from old: a call handed
// over again may have lost the events settled before (its NEWCALL, say),
// and must not blank what the first record holds. A record that does not
// end the call (Open, or Expired) never undoes the end old records.
func merge(old, r record) record {
	if ended := !old.Open && !old.Expired; ended && (r.Open || r.Expired) {
		r.Open, r.Expired, r.EndedAt, r.Reason = false, false, old.EndedAt, old.Reason
	}
	for _, f := range []struct{ dst, src *string }{
		{&r.Direction, &old.Direction}, {&r.CallerID, &old.CallerID}, {&r.Reason, &old.Reason},
	} {
		if *f.dst == "" {
			*f.dst = *f.src
		}
	}
	if r.RingSeconds == nil {
		r.RingSeconds, r.TalkSeconds = old.RingSeconds, old.TalkSeconds
	}
	r.Answered = r.Answered || old.Answered
	return r
}

func (s *store) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byKey)
}

type config struct {
	name     string
	out      string
	id       string
	lanes    int
	attempts int
	backoff  time.Duration
	quorum   bool
	idle     time.Duration
}

func (c config) durableOptions(more ...stompx.DurableOption) []stompx.DurableOption {
	opts := []stompx.DurableOption{stompx.WithSingleActive()}
	if c.quorum {
		opts = append(opts, stompx.WithQuorumQueue())
	}
	if c.idle > 0 {
		opts = append(opts, stompx.WithIdleExpiry(c.idle))
	}
	return append(opts, more...)
}

// work is one worker on transport t: it subscribes to cfg.name as the
// active worker or a standby (say tells which, each time it changes), and
// stores every call handed over, until ctx ends or the subscription does.
func work(ctx context.Context, t *stompx.Transport, cfg config, st *store, say func(string)) error {
	was := false // WithActiveChange calls its function on one goroutine
	active := stompx.WithActiveChange(func(active bool) {
		switch {
		case active:
			say(fmt.Sprintf("worker %s is active", cfg.id))
		case was:
			say(fmt.Sprintf("worker %s is no longer active", cfg.id))
		default:
			say(fmt.Sprintf("worker %s is a standby", cfg.id))
		}
		was = active
	})
	sub, err := t.SubscribeDurable(ctx, cfg.name, []string{events.AllAgents}, cfg.durableOptions(active)...)
	if err != nil {
		return err
	}
	defer sub.Close()
	err = events.ConsumeCalls(ctx, sub, func(_ context.Context, c events.Call) error {
		return st.put(newRecord(c, cfg.id))
	}, events.WithLanes(cfg.lanes), events.WithRetry(cfg.attempts, cfg.backoff))
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func main() {
	host, _ := os.Hostname()
	var cfg config
	flag.StringVar(&cfg.name, "name", "call-records", "the durable name the workers share (the broker's queue is iv.events.<name>)")
	flag.StringVar(&cfg.out, "out", "-", `where to append the records, one JSON line each ("-": stdout)`)
	flag.StringVar(&cfg.id, "id", fmt.Sprintf("%s-%d", host, os.Getpid()), "this worker's name in its records")
	flag.IntVar(&cfg.lanes, "lanes", 4, "calls stored at once (of different agents; an agent's calls in order)")
	flag.IntVar(&cfg.attempts, "attempts", events.DefaultRetryAttempts, "tries of a call, the first included, before it is dead-lettered")
	flag.DurationVar(&cfg.backoff, "backoff", events.DefaultRetryBackoff, "the wait after a failed try, doubling after each")
	flag.BoolVar(&cfg.quorum, "quorum", false, "a quorum queue: replicated on a RabbitMQ cluster, kept across a broker restart (every worker of the name must agree)")
	flag.DurationVar(&cfg.idle, "idle-expiry", 0, "the broker deletes the queue, with its events, after this long with no worker (0: never; every worker of the name must agree)")
	duration := flag.Duration("duration", 0, "stop after this long (0: until interrupted, or until the embedded demo is done)")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `Usage: call-workers [flags]

A worker that stores one JSON record per finished call, whole. Start it
several times on one durable name (-name): one worker at a time receives the
events, the others take over when it dies. A call the store fails to take is
tried again (-attempts, -backoff), then dead-lettered: see ivctl dead.

Runs against a real platform when IV_STOMP_ADDR is set: the RabbitMQ at
IV_STOMP_ADDR (several nodes of a cluster, comma-separated; login
IV_STOMP_LOGIN / IV_STOMP_PASSCODE, default the platform's), until
interrupted or -duration. IV_KEY is not needed: events come from the broker.
Otherwise it starts the in-process fake platform (package ivtest) and plays
three workers, a store that fails, and the active worker dying mid-call.

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
	out := io.Writer(os.Stdout)
	if cfg.out != "-" {
		f, err := os.OpenFile(cfg.out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	st := newStore(out, "")
	t, err := stompx.Dial(ctx, addrs[0], opts...)
	if err != nil {
		return fmt.Errorf("connecting to the broker: %w", err)
	}
	defer t.Close()
	fmt.Fprintf(os.Stderr, "call-workers: worker %s: durable name %q (queue iv.events.%s) on %s\n",
		cfg.id, cfg.name, cfg.name, strings.Join(addrs, ","))
	err = work(ctx, t, cfg, st, func(s string) { fmt.Fprintln(os.Stderr, "call-workers: "+s) })
	fmt.Fprintf(os.Stderr, "call-workers: worker %s: %d call records stored, %d failed tries\n", cfg.id, st.count(), st.failed)
	return err
}
