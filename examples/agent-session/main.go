// Command agent-session walks an agent through a working session: log in,
// pause, unpause, place a call with NewCall, hang it up, log off. It waits
// for the event that confirms each step, and prints the events as they come.
//
// With no environment it starts the in-process fake platform (package
// ivtest) and runs against it:
//
//	go run ./examples/agent-session
//	go run ./examples/agent-session -transport soap   # requests over IVWS, events over STOMP
//
// Against a real platform, set the broker address and the access key (the
// agent must exist there); with -transport soap, IV_SOAP_URL too:
//
//	IV_STOMP_ADDR=acd.example.com:61613 IV_KEY=f054bbd2f5ebab9 go run ./examples/agent-session -agent 1001 -exten 6100
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
	"slices"
	"strings"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/examples/internal/exampleenv"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
)

type config struct {
	accountcode, agent, iface, exten, pause, transport string
	timeout                                            time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.accountcode, "accountcode", "default", "the agent's accountcode")
	flag.StringVar(&cfg.agent, "agent", "1001", "the agent's number")
	flag.StringVar(&cfg.iface, "iface", "SIP/default_1001", "the interface the agent logs in on")
	flag.StringVar(&cfg.exten, "exten", "6100", "the number NewCall dials")
	flag.StringVar(&cfg.pause, "pause", "1", "the pause number AgentPause uses (Telephony/Agent Pauses)")
	flag.StringVar(&cfg.transport, "transport", "stomp", "what carries the requests: stomp or soap (events always come over STOMP)")
	flag.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "how long the whole session may take")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `Usage: agent-session [flags]

Logs an agent in, pauses and unpauses it, places a call with NewCall, hangs
it up and logs the agent off, waiting for each step's event.

Runs against a real platform when IV_STOMP_ADDR is set: the broker at
IV_STOMP_ADDR (login IV_STOMP_LOGIN / IV_STOMP_PASSCODE, default the
platform's) with the access key IV_KEY, and with -transport soap the IVWS
endpoint IV_SOAP_URL for the requests. Otherwise it starts the in-process
fake platform (package ivtest) and runs against it.

`)
		flag.PrintDefaults()
	}
	flag.Parse()
	if cfg.transport != "stomp" && cfg.transport != "soap" {
		fail(fmt.Errorf("-transport must be stomp or soap, not %q", cfg.transport))
	}

	ctx, cancel := exampleenv.Context(cfg.timeout)
	defer cancel()
	if err := run(ctx, cfg); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "agent-session:", err)
	os.Exit(1)
}

func run(ctx context.Context, cfg config) error {
	p, err := exampleenv.Open(ivtest.WithAgent(cfg.accountcode, cfg.agent, "", "Alice"))
	if err != nil {
		return err
	}
	defer p.Close()
	s, closeAll, err := connect(ctx, p, cfg)
	if err != nil {
		return err
	}
	defer closeAll()
	for _, step := range []func() error{s.login, s.pause, s.call, s.logoff} {
		if err := step(); err != nil {
			return err
		}
	}
	fmt.Println("session done")
	return nil
}

// connect makes the client (requests over cfg.transport) and subscribes to
// the agent's events (always over STOMP), before anything is done, so that
// no event is missed. closeAll closes all of it.
func connect(ctx context.Context, p *exampleenv.Platform, cfg config) (s *session, closeAll func(), err error) {
	var closers []func() error
	closeOpened := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
	}
	defer func() {
		if err != nil {
			closeOpened()
		}
	}()
	st, err := p.DialSTOMP(ctx)
	if err != nil {
		return nil, nil, err
	}
	closers = append(closers, st.Close)
	var requests ivclient.Transport = st
	if cfg.transport == "soap" {
		if requests, err = p.Transport(ctx, "soap"); err != nil {
			return nil, nil, err
		}
		closers = append(closers, requests.Close)
	}
	c, err := ivclient.New(requests, p.Key, ivclient.KeepTransportOpen())
	if err != nil {
		return nil, nil, err
	}
	closers = append(closers, c.Close)
	fmt.Printf("requests over %s, events over stomp\n", cfg.transport)
	sub, err := st.Subscribe(ctx, events.AgentTopic(cfg.accountcode, cfg.agent))
	if err != nil {
		return nil, nil, err
	}
	closers = append(closers, sub.Close)
	return &session{ctx: ctx, c: c, sub: sub, cfg: cfg}, closeOpened, nil
}

// login logs the agent in, unless it already is.
func (s *session) login() error {
	err := s.c.AgentLogin(s.ctx, s.cfg.accountcode, s.cfg.agent, s.cfg.iface)
	switch {
	case errors.Is(err, codes.ErrDuplicate):
		fmt.Println("AgentLogin: already logged in")
		return nil
	case err != nil:
		return err
	}
	fmt.Println("AgentLogin: ok")
	_, err = s.await(events.Login)
	return err
}

// pause pauses the agent, shows the pause in AgentInfo, and unpauses it.
func (s *session) pause() error {
	ac, agent := s.cfg.accountcode, s.cfg.agent
	if err := s.c.AgentPause(s.ctx, ac, agent, s.cfg.pause); err != nil {
		return err
	}
	fmt.Println("AgentPause: ok")
	if _, err := s.await(events.Pause); err != nil {
		return err
	}
	info, err := s.c.AgentInfo(s.ctx, ac, agent)
	if err != nil {
		return err
	}
	fmt.Printf("AgentInfo: status=%s pause=%q\n", info.AgentStatus, info.PauseReason)
	if err := s.c.AgentUnpause(s.ctx, ac, agent); err != nil {
		return err
	}
	fmt.Println("AgentUnpause: ok")
	_, err = s.await(events.Unpause)
	return err
}

// call places a call and follows it to its HANGUP, hanging up once the
// number answers.
func (s *session) call() error {
	if err := s.c.NewCall(s.ctx, s.cfg.accountcode, s.cfg.agent, s.cfg.exten, "agent-session-1"); err != nil {
		return err
	}
	fmt.Println("NewCall: ok")
	ev, err := s.await(events.DConnect, events.Hangup)
	if err != nil {
		return err
	}
	if ev.Type == events.DConnect { // the number answered: hang up
		if err := s.c.Hangup(s.ctx, s.cfg.accountcode, ev.UniqueID); err != nil {
			return err
		}
		fmt.Println("Hangup: ok")
		if ev, err = s.await(events.Hangup); err != nil {
			return err
		}
	}
	fmt.Printf("call ended: %s\n", ev.Reason)
	return nil
}

// logoff logs the agent off.
func (s *session) logoff() error {
	if err := s.c.AgentLogoff(s.ctx, s.cfg.accountcode, s.cfg.agent); err != nil {
		return err
	}
	fmt.Println("AgentLogoff: ok")
	_, err := s.await(events.Logout)
	return err
}

// session is one agent's session: the client, and the agent's events.
type session struct {
	ctx context.Context
	c   *ivclient.Client
	sub *events.Subscription
	cfg config
}

// await prints the agent's events until one of the types given arrives,
// and returns it.
func (s *session) await(types ...events.Type) (events.Event, error) {
	for {
		select {
		case ev, ok := <-s.sub.C():
			if !ok {
				return events.Event{}, fmt.Errorf("the subscription ended: %w", s.sub.Err())
			}
			fmt.Println("  event", describe(ev))
			if slices.Contains(types, ev.Type) {
				return ev, nil
			}
		case <-s.ctx.Done():
			return events.Event{}, fmt.Errorf("waiting for %v: %w", types, s.ctx.Err())
		}
	}
}

// describe prints an event's type and the fields it has.
func describe(ev events.Event) string {
	s := fmt.Sprintf("%-8s", ev.Type)
	for _, f := range []struct{ name, value string }{
		{"uniqueid", ev.UniqueID}, {"callerid", ev.CallerID}, {"direction", ev.Direction}, {"reason", ev.Reason},
	} {
		if f.value != "" {
			s += " " + f.name + "=" + f.value
		}
	}
	return strings.TrimSpace(s)
}
