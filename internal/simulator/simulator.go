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
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/fakeplatform"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/stompx"
)

type config struct {
	stompAddr, soapAddr  string
	controlAddr          string
	key, login, passcode string
	accountcode          string
	seedFile             string
	newCallOutcome       string
	newCallOutcomeSet    bool
	licensedAgents       int
	seed, verbose        bool
	duration             time.Duration
	traffic              *load // nil: none
	controlSet           bool  // -control given
	controlPublic        bool
}

// trafficAgents are the built-in seed's agents, to which -traffic plays
// calls, and their queues.
var trafficAgents = []struct{ user, queue string }{{"1001", "7000"}, {"1002", "7000"}, {"1003", "7001"}}

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
	defineFlags(fs, &cfg)
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
	if err := checkFlags(cfg); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	if cfg.traffic != nil && cfg.traffic.agents == 0 && (!cfg.seed || cfg.seedFile != "") {
		// Rather than run without the traffic asked for.
		fmt.Fprintf(stderr, "%s: -traffic without agents=N plays calls to the built-in seed's agents: it needs -seed and no -seed-file\n", name)
		return 2
	}
	if cfg.controlAddr != "off" && cfg.controlAddr != "" && !isLoopback(cfg.controlAddr) {
		if !cfg.controlPublic {
			fmt.Fprintf(stderr, "%s: -control %s is beyond loopback: anyone who reaches it could drive the platform; add -control-public to mean it\n", name, cfg.controlAddr)
			return 2
		}
		fmt.Fprintf(stderr, "%s: WARNING: the console and control interface on %s are open to anyone who reaches that address, with no authentication\n", name, cfg.controlAddr)
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

// defineFlags defines the simulator's flags on fs, into cfg.
func defineFlags(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.stompAddr, "stomp", "127.0.0.1:61613", "the address the STOMP broker listens on (port 0: a free port)")
	fs.StringVar(&cfg.soapAddr, "soap", "127.0.0.1:7789", "the address the IVWS SOAP endpoint listens on (port 0: a free port)")
	fs.Func("key", "an access key to accept, allowed every method (default: a random key, printed)", func(s string) error {
		if err := ivclient.CheckKey(s); err != nil {
			return errors.New("a key is 1 to 20 ASCII letters and digits")
		}
		cfg.key = s
		return nil
	})
	fs.StringVar(&cfg.login, "login", stompx.DefaultLogin, "the STOMP login the broker accepts")
	fs.StringVar(&cfg.passcode, "passcode", stompx.DefaultPasscode, "the STOMP passcode the broker accepts")
	fs.StringVar(&cfg.accountcode, "accountcode", "default", "the accountcode of the seeded agents, queues and SIP users")
	fs.BoolVar(&cfg.seed, "seed", true, "seed agents 1001-1003 (one line each), queues 7000 and 7001, SIP users 1010-1012 and permission groups 123 and 456 (ignored with -seed-file)")
	fs.StringVar(&cfg.seedFile, "seed-file", "", "start from the state in this JSON file instead (keys, accountcodes, pause reasons, permission groups, queues, SIP users, agents, requests; see the README)")
	cfg.controlAddr = defaultControl
	fs.Func("control", "serve the web console and the HTTP control interface (play calls, publish events, withhold replies, reset, list requests) on this address; \"off\": neither (default "+defaultControl+", or a free port when it is taken)", func(s string) error {
		cfg.controlAddr, cfg.controlSet = s, true
		return nil
	})
	fs.BoolVar(&cfg.controlPublic, "control-public", false, "allow -control on an address beyond loopback: anyone who reaches it can drive the platform and read its requests")
	fs.Func("newcall-outcome", "how the remote party of a NewCall responds: a hangup reason such as NOANSWER or BUSY, or RING: it rings until answered from the console (default: it answers)", func(s string) error {
		if s != "" && s != string(fakeplatform.Ring) && !slices.Contains(events.HangupReasons(), s) {
			return fmt.Errorf("%q is neither a hangup reason (%s) nor RING", s, strings.Join(events.HangupReasons(), ", "))
		}
		cfg.newCallOutcome, cfg.newCallOutcomeSet = s, true
		return nil
	})
	fs.IntVar(&cfg.licensedAgents, "licensed-agents", 0, "agents that may be logged in at once; more get RESPONSE_NO_LICENSE (0: no limit)")
	fs.DurationVar(&cfg.duration, "duration", 0, "stop after this long (0: run until interrupted)")
	fs.Func("traffic", "play calls: an interval (2s: an inbound call to one of the seeded agents, logged in, at this interval), or a load such as agents=2000,cps=50,talk=30s,answered=80,noanswer=10,busy=5,failed=3,giveup=2,outbound=25 (see the README)", func(s string) error {
		l, err := parseLoad(s)
		if err == nil {
			cfg.traffic = &l
		}
		return err
	})
	fs.BoolVar(&cfg.verbose, "v", false, "log what the platform does to stderr")
}

// checkFlags checks the values of the flags that become the platform's
// options, so that a bad one is reported by its flag's name (and exit
// status 2) rather than by its option's, when the platform starts.
func checkFlags(cfg config) error {
	for _, f := range []struct{ name, addr string }{{"-stomp", cfg.stompAddr}, {"-soap", cfg.soapAddr}} {
		if _, _, err := net.SplitHostPort(f.addr); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if strings.ContainsAny(cfg.login, "\r\n\x00") || strings.ContainsAny(cfg.passcode, "\r\n\x00") {
		return errors.New("-login and -passcode must not contain line breaks or NUL")
	}
	if strings.TrimSpace(cfg.accountcode) == "" {
		return errors.New("-accountcode is empty")
	}
	if cfg.licensedAgents < 0 {
		return fmt.Errorf("-licensed-agents must be at least 0, got %d", cfg.licensedAgents)
	}
	return nil
}

func run(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	opts, seed, err := platformOptions(cfg, stderr)
	if err != nil {
		return err
	}
	p, err := fakeplatform.Start(opts...)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			err = fmt.Errorf("%w (choose other addresses with -stomp and -soap)", err)
		}
		return err
	}
	defer p.Close()

	var controlURL string
	if cfg.controlAddr != "off" && cfg.controlAddr != "" {
		url, stopControl, err := serveControl(cfg, p)
		if err != nil {
			return err
		}
		defer stopControl() // before the platform closes
		controlURL = url
	}

	key := p.Key()
	switch {
	case cfg.key != "":
		key = cfg.key
	case seed != nil:
		for _, k := range seed.Keys { // the seed's first key allowed everything
			if len(k.Methods) == 0 {
				key = k.Key
				break
			}
		}
	}
	printBanner(stdout, cfg, p, seed, key, controlURL)

	var pl *player
	var began time.Time
	var events0 int64
	var cpu0 time.Duration
	if cfg.traffic != nil {
		var err error
		if pl, err = startTraffic(ctx, cfg, p, stdout); err != nil {
			return err
		}
		defer pl.wait()                               // before the platform closes
		began, events0 = time.Now(), p.Stats().Events // the seed's LOGINs are not the load's
		cpu0, _, _ = usage()
	}

	<-ctx.Done()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		fmt.Fprintln(stdout, "stopping: -duration passed")
	} else {
		fmt.Fprintln(stdout, "stopping: interrupted")
	}
	st := p.Stats()
	if pl != nil {
		elapsed := time.Since(began)
		fmt.Fprintf(stdout, "traffic: %s\n", pl.summary(elapsed))
		line := fmt.Sprintf("load: %.0f events/s", float64(st.Events-events0)/elapsed.Seconds())
		if cpu, rss, ok := usage(); ok {
			cpu -= cpu0
			line += fmt.Sprintf(", CPU %.0f%% of one core (%.1fs), peak RSS %d MiB", 100*cpu.Seconds()/elapsed.Seconds(), cpu.Seconds(), rss>>20)
		}
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintf(stdout, "stopped after %d STOMP requests, %d SOAP requests and %d events\n", st.Requests, st.SOAPRequests, st.Events)
	return nil
}

// startTraffic logs the built-in seed's agents in when the load has no
// agents of its own, and starts playing it until ctx ends.
func startTraffic(ctx context.Context, cfg config, p *fakeplatform.Platform, stdout io.Writer) (*player, error) {
	ac := cfg.accountcode
	if cfg.traffic.agents == 0 {
		// The seeded agents log in, so that calls can reach them.
		for _, a := range trafficAgents {
			if _, err := p.Do("AgentLogin", map[string]any{"Accountcode": ac, "User": a.user,
				"Interface": "SIP/" + ac + "_" + a.user}); err != nil {
				return nil, fmt.Errorf("logging agent %s in: %w", a.user, err)
			}
		}
	}
	fmt.Fprintf(stdout, "traffic: %s\n", cfg.traffic.describe())
	pl := newPlayer(p, ac, *cfg.traffic)
	go func() { defer close(pl.done); pl.run(ctx) }()
	return pl, nil
}

// platformOptions turns the flags into the platform's options, with the
// seed they describe.
func platformOptions(cfg config, stderr io.Writer) ([]fakeplatform.Option, *Seed, error) {
	ac := cfg.accountcode
	opts := []fakeplatform.Option{
		fakeplatform.WithSTOMPAddr(cfg.stompAddr),
		fakeplatform.WithSOAPAddr(cfg.soapAddr),
		fakeplatform.WithSTOMPLogin(cfg.login, cfg.passcode),
		fakeplatform.WithAccountcodes(ac),
	}
	var seed *Seed
	switch {
	case cfg.seedFile != "":
		var err error
		if seed, err = readSeed(cfg.seedFile); err != nil {
			return nil, nil, fmt.Errorf("-seed-file: %w", err)
		}
	case cfg.seed:
		seed = builtinSeed(ac)
	}
	if seed != nil {
		so, err := seed.options(ac)
		if err != nil {
			return nil, nil, fmt.Errorf("seed: %w", err)
		}
		opts = append(opts, so...)
	}
	if cfg.traffic != nil {
		opts = append(opts, cfg.traffic.seeds(ac)...)
	}
	if cfg.newCallOutcomeSet {
		opts = append(opts, fakeplatform.WithNewCallOutcome(fakeplatform.Outcome(cfg.newCallOutcome)))
	}
	if cfg.licensedAgents != 0 {
		opts = append(opts, fakeplatform.WithLicensedAgents(cfg.licensedAgents))
	}
	if cfg.key != "" {
		if err := ivclient.CheckKey(cfg.key); err != nil {
			return nil, nil, fmt.Errorf("-key: %w", err)
		}
		opts = append(opts, fakeplatform.WithKey(cfg.key))
	}
	if cfg.verbose {
		opts = append(opts, fakeplatform.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	return opts, seed, nil
}

// printBanner says where the platform listens, with what.
func printBanner(stdout io.Writer, cfg config, p *fakeplatform.Platform, seed *Seed, key, controlURL string) {
	soapURL := p.SOAPURL()
	creds := "login " + cfg.login
	if cfg.login == stompx.DefaultLogin && cfg.passcode == stompx.DefaultPasscode {
		creds += ", passcode " + cfg.passcode + ": the platform's defaults"
	}
	fmt.Fprintln(stdout, "InstantVoice fake platform (package ivtest)")
	fmt.Fprintf(stdout, "STOMP: %s (%s)\n", p.STOMPAddr(), creds)
	fmt.Fprintf(stdout, "IVWS:  %s (WSDL at %s?wsdl)\n", soapURL, soapURL)
	fmt.Fprintf(stdout, "key:   %s\n", key)
	if seed != nil {
		from := ""
		if cfg.seedFile != "" {
			from = " from " + cfg.seedFile
		}
		fmt.Fprintf(stdout, "seeded%s: %s\n", from, seed.summary(cfg.accountcode))
	}
	if controlURL != "" {
		fmt.Fprintf(stdout, "console: %s (open it in a browser)\n", controlURL)
		fmt.Fprintf(stdout, "control: %s (POST /reset, /calls/inbound, /calls/hangup, ...; GET /requests)\n", controlURL)
	}
	fmt.Fprintf(stdout, "for the examples: export IV_STOMP_ADDR=%s IV_SOAP_URL=%s IV_KEY=%s\n", p.STOMPAddr(), soapURL, key)
	if cfg.duration > 0 {
		fmt.Fprintf(stdout, "running for %v\n", cfg.duration)
	} else {
		fmt.Fprintln(stdout, "running until interrupted")
	}
}
