// Package simulator is the fake InstantVoice platform of package ivtest as a
// standalone server, with its command-line flags: a STOMP broker with the
// platform's request processor and the IVWS SOAP endpoint, seeded with
// agents, queues, SIP users and permission groups. examples/simulator and
// "ivctl sim" are this package's Main.
package simulator

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

type config struct {
	stompAddr, soapAddr  string
	key, login, passcode string
	accountcode          string
	seed, verbose        bool
	duration, traffic    time.Duration
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

// Main runs the simulator with the command-line arguments args (without the
// program name), writing what it reports to stdout and its errors and help to
// stderr, until ctx ends, the process is interrupted (SIGINT, SIGTERM) or
// -duration passes. It returns the exit status: 0 after a clean stop or -h, 1
// when the platform could not start, 2 for bad flags. name is the program
// name used in errors and in the usage text ("simulator", "ivctl sim").
func Main(ctx context.Context, name string, args []string, stdout, stderr io.Writer) int {
	var cfg config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.stompAddr, "stomp", "127.0.0.1:61613", "the address the STOMP broker listens on (port 0: a free port)")
	fs.StringVar(&cfg.soapAddr, "soap", "127.0.0.1:7789", "the address the IVWS SOAP endpoint listens on (port 0: a free port)")
	fs.StringVar(&cfg.key, "key", "", "an access key to accept, allowed every method (default: a random key, printed)")
	fs.StringVar(&cfg.login, "login", stompx.DefaultLogin, "the STOMP login the broker accepts")
	fs.StringVar(&cfg.passcode, "passcode", stompx.DefaultPasscode, "the STOMP passcode the broker accepts")
	fs.StringVar(&cfg.accountcode, "accountcode", "default", "the accountcode of the seeded agents, queues and SIP users")
	fs.BoolVar(&cfg.seed, "seed", true, "seed agents 1001-1003 (one line each), queues 7000 and 7001, SIP users 1010-1012 and permission groups 123 and 456")
	fs.DurationVar(&cfg.duration, "duration", 0, "stop after this long (0: run until interrupted)")
	fs.DurationVar(&cfg.traffic, "traffic", 0, "log the seeded agents in and play an inbound call to one of them at this interval (0: none)")
	fs.BoolVar(&cfg.verbose, "v", false, "log what the platform does to stderr")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: %s [flags]

Runs the in-process fake platform (package ivtest) as a standalone server:
the STOMP broker with the platform's request processor, and the IVWS SOAP
endpoint with its WSDL (at ?wsdl). It prints the addresses and the access
key, and runs until interrupted (SIGINT, SIGTERM) or for -duration.

The simulator is the platform: it does not read IV_STOMP_ADDR, IV_SOAP_URL
or IV_KEY. It prints them, for the programs that do (the other examples, or
partner code): they then run against it instead of their embedded fake.

`, name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments: %q\n", name, fs.Args())
		return 2
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	if err := run(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

func run(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
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
		opts = append(opts, ivtest.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
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
	if cfg.login == stompx.DefaultLogin && cfg.passcode == stompx.DefaultPasscode {
		creds += ", passcode " + cfg.passcode + ": the platform's defaults"
	}
	fmt.Fprintln(stdout, "InstantVoice fake platform (package ivtest)")
	fmt.Fprintf(stdout, "STOMP: %s (%s)\n", p.STOMPAddr(), creds)
	fmt.Fprintf(stdout, "IVWS:  %s (WSDL at %s?wsdl)\n", soapURL, soapURL)
	fmt.Fprintf(stdout, "key:   %s\n", key)
	if cfg.seed {
		var agents []string
		for _, a := range seedAgents {
			agents = append(agents, a.user)
		}
		fmt.Fprintf(stdout, "seeded: accountcode %s; queues %s; agents %s; SIP users %s; permission groups %s\n", ac,
			strings.Join(seedQueues, " "), strings.Join(agents, " "), strings.Join(seedSipUsers, " "), strings.Join(seedGroups, " "))
	}
	fmt.Fprintf(stdout, "for the examples: export IV_STOMP_ADDR=%s IV_SOAP_URL=%s IV_KEY=%s\n", p.STOMPAddr(), soapURL, key)
	if cfg.duration > 0 {
		fmt.Fprintf(stdout, "running for %v\n", cfg.duration)
	} else {
		fmt.Fprintln(stdout, "running until interrupted")
	}

	if cfg.traffic > 0 && cfg.seed {
		// The seeded agents log in, so that calls can reach them.
		for _, a := range seedAgents {
			if _, err := p.Do("AgentLogin", map[string]any{"Accountcode": ac, "User": a.user,
				"Interface": "SIP/" + ac + "_" + a.user}); err != nil {
				return fmt.Errorf("logging agent %s in: %w", a.user, err)
			}
		}
		fmt.Fprintf(stdout, "traffic: an inbound call every %v to agents 1001-1003, logged in\n", cfg.traffic)
		trafficDone := make(chan struct{})
		defer func() { <-trafficDone }() // before the platform closes
		go func() { defer close(trafficDone); traffic(ctx, p, ac, cfg.traffic) }()
	}

	<-ctx.Done()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		fmt.Fprintln(stdout, "stopping: -duration passed")
	} else {
		fmt.Fprintln(stdout, "stopping: interrupted")
	}
	st := p.Stats()
	fmt.Fprintf(stdout, "stopped after %d requests and %d events\n", st.Requests, st.Events)
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
