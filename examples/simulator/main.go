// Command simulator runs the fake InstantVoice platform of package ivtest as
// a standalone server: a STOMP broker with the platform's request processor
// (on 127.0.0.1:61613 by default, the platform's port) and the IVWS SOAP
// endpoint (on 127.0.0.1:7789 by default), seeded with agents, queues, SIP
// users and permission groups. Partners point their own code, in any
// language, at it, and so can the other examples:
//
//	go run ./examples/simulator
//	IV_STOMP_ADDR=127.0.0.1:61613 IV_KEY=<the key it prints> go run ./examples/agent-session
//
// It runs until interrupted (SIGINT, SIGTERM) or for -duration. With
// -traffic it also logs the seeded agents in and plays an inbound call to
// one of them at that interval, so that event consumers have something to
// show.
//
// -h lists the flags: -stomp and -soap set the addresses, -key the access
// key (default: a random one, printed), -seed=false starts it empty.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
)

type config struct {
	stompAddr, soapAddr   string
	key, login, passcode  string
	accountcode           string
	seed, verbose         bool
	duration, traffic     time.Duration
	loginSet, passcodeSet bool
}

// The seeded platform.
var (
	seedQueues = []string{"7000", "7001"}
	seedAgents = []struct{ user, name, queue string }{
		{"1001", "Alice", "7000"}, {"1002", "Bob", "7000"}, {"1003", "Carol", "7001"},
	}
	seedSipUsers = []string{"1010", "1011", "1012"}
	seedGroups   = []string{"123", "456"}
)

func main() {
	var cfg config
	flag.StringVar(&cfg.stompAddr, "stomp", "127.0.0.1:61613", "the address the STOMP broker listens on (port 0: a free port)")
	flag.StringVar(&cfg.soapAddr, "soap", "127.0.0.1:7789", "the address the IVWS SOAP endpoint listens on (port 0: a free port)")
	flag.StringVar(&cfg.key, "key", "", "an access key to accept, allowed every method (default: a random key, printed)")
	flag.StringVar(&cfg.login, "login", ivtest.DefaultLogin, "the STOMP login the broker accepts")
	flag.StringVar(&cfg.passcode, "passcode", ivtest.DefaultPasscode, "the STOMP passcode the broker accepts")
	flag.StringVar(&cfg.accountcode, "accountcode", "default", "the accountcode of the seeded agents, queues and SIP users")
	flag.BoolVar(&cfg.seed, "seed", true, "seed agents 1001-1003 (one line each), queues 7000 and 7001, SIP users 1010-1012 and permission groups 123 and 456")
	flag.DurationVar(&cfg.duration, "duration", 0, "stop after this long (0: run until interrupted)")
	flag.DurationVar(&cfg.traffic, "traffic", 0, "log the seeded agents in and play an inbound call to one of them at this interval (0: none)")
	flag.BoolVar(&cfg.verbose, "v", false, "log what the platform does to stderr")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `Usage: simulator [flags]

Runs the in-process fake platform (package ivtest) as a standalone server:
the STOMP broker with the platform's request processor, and the IVWS SOAP
endpoint with its WSDL (at ?wsdl). It prints the addresses and the access
key, and runs until interrupted (SIGINT, SIGTERM) or for -duration.

The simulator is the platform: it does not read IV_STOMP_ADDR, IV_SOAP_URL
or IV_KEY. It prints them, for the programs that do (the other examples, or
partner code): they then run against it instead of their embedded fake.

`)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		fail(fmt.Errorf("unexpected arguments: %q", flag.Args()))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	if err := run(ctx, cfg); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "simulator:", err)
	os.Exit(1)
}

func run(ctx context.Context, cfg config) error {
	ac := cfg.accountcode
	opts := []ivtest.Option{
		ivtest.WithSTOMPAddr(cfg.stompAddr),
		ivtest.WithSOAPAddr(cfg.soapAddr),
		ivtest.WithSTOMPLogin(cfg.login, cfg.passcode),
		ivtest.WithAccountcodes(ac),
	}
	if cfg.key != "" {
		if err := ivclient.CheckKey(cfg.key); err != nil {
			return fmt.Errorf("-key: %w", err)
		}
		opts = append(opts, ivtest.WithKey(cfg.key))
	}
	if cfg.verbose {
		opts = append(opts, ivtest.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	if cfg.seed {
		opts = append(opts, ivtest.WithPermissionGroups(seedGroups...))
		for _, q := range seedQueues {
			opts = append(opts, ivtest.WithQueue(ac, q))
		}
		for _, a := range seedAgents {
			opts = append(opts,
				ivtest.WithAgent(ac, a.user, "", a.name),
				ivtest.WithSeed("AgentLineAdd", map[string]any{"accountcode": ac, "user": a.user,
					"lines": []any{map[string]any{"linenumber": "1"}}}),
				ivtest.WithSeed("AgentQueueAdd", map[string]any{"accountcode": ac, "user": a.user,
					"queues": []any{map[string]any{"name": a.queue, "priority": "0"}}}),
			)
		}
		for _, s := range seedSipUsers {
			opts = append(opts, ivtest.WithSipUser(ac, s))
		}
	}
	p, err := ivtest.Start(opts...)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			err = fmt.Errorf("%w (choose other addresses with -stomp and -soap)", err)
		}
		return err
	}
	defer p.Close()

	soapURL := p.SOAPURL()
	key := p.Key()
	if cfg.key != "" {
		key = cfg.key
	}
	creds := "login " + cfg.login
	if cfg.login == ivtest.DefaultLogin && cfg.passcode == ivtest.DefaultPasscode {
		creds += ", passcode " + cfg.passcode + ": the platform's defaults"
	}
	fmt.Println("InstantVoice fake platform (package ivtest)")
	fmt.Printf("STOMP: %s (%s)\n", p.STOMPAddr(), creds)
	fmt.Printf("IVWS:  %s (WSDL at %s?wsdl)\n", soapURL, soapURL)
	fmt.Printf("key:   %s\n", key)
	if cfg.seed {
		var agents []string
		for _, a := range seedAgents {
			agents = append(agents, a.user)
		}
		fmt.Printf("seeded: accountcode %s; queues %s; agents %s; SIP users %s; permission groups %s\n", ac,
			strings.Join(seedQueues, " "), strings.Join(agents, " "), strings.Join(seedSipUsers, " "), strings.Join(seedGroups, " "))
	}
	fmt.Printf("for the examples: export IV_STOMP_ADDR=%s IV_SOAP_URL=%s IV_KEY=%s\n", p.STOMPAddr(), soapURL, key)
	if cfg.duration > 0 {
		fmt.Printf("running for %v\n", cfg.duration)
	} else {
		fmt.Println("running until interrupted")
	}

	if cfg.traffic > 0 && cfg.seed {
		// The seeded agents log in, so that calls can reach them.
		for _, a := range seedAgents {
			if _, err := p.Do("AgentLogin", map[string]any{"Accountcode": ac, "User": a.user,
				"Interface": "SIP/" + ac + "_" + a.user}); err != nil {
				return fmt.Errorf("logging agent %s in: %w", a.user, err)
			}
		}
		fmt.Printf("traffic: an inbound call every %v to agents 1001-1003, logged in\n", cfg.traffic)
		trafficDone := make(chan struct{})
		defer func() { <-trafficDone }() // before the platform closes
		go func() { defer close(trafficDone); traffic(ctx, p, ac, cfg.traffic) }()
	}

	<-ctx.Done()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		fmt.Println("stopping: -duration passed")
	} else {
		fmt.Println("stopping: interrupted")
	}
	st := p.Stats()
	fmt.Printf("stopped after %d requests and %d events\n", st.Requests, st.Events)
	return nil
}

// traffic plays an inbound call to the seeded agents in turn, every
// interval; an agent that is not logged in, is paused or is on a call is
// skipped. Each answered call lasts half the interval.
func traffic(ctx context.Context, p *ivtest.Platform, ac string, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		agent := seedAgents[i%len(seedAgents)]
		busy := false
		for _, c := range p.Calls() {
			busy = busy || c.Agent == ac+"_"+agent.user
		}
		if busy {
			continue
		}
		caller := fmt.Sprintf("21%08d", 98765400+i%100)
		uid, err := p.InboundCall(ac, agent.queue, agent.user, caller, ivtest.Answer)
		if err != nil {
			continue // not logged in, or paused
		}
		select { // the caller hangs up after half the interval
		case <-time.After(interval / 2):
			p.Hangup(uid, events.ReasonByCaller)
		case <-ctx.Done():
			return
		}
	}
}
