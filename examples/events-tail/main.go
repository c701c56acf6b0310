// Command events-tail prints every agent's call events as they arrive, and
// one summary line per finished call (from events.Tracker): like tail -f for
// the platform's events.
//
// With no environment it starts the in-process fake platform (package
// ivtest) and plays a few call flows on it so that there is something to
// show, then exits:
//
//	go run ./examples/events-tail
//
// Against a real platform it tails until interrupted, or for -duration:
//
//	IV_STOMP_ADDR=acd.example.com:61613 IV_KEY=f054bbd2f5ebab9 go run ./examples/events-tail -duration 1h
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
	"strings"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/examples/internal/exampleenv"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

func main() {
	duration := flag.Duration("duration", 0, "stop after this long (0: until interrupted, or until the embedded demo is done)")
	wildcard := flag.String("wildcard", "#", `the broker's topic wildcard: "#" (RabbitMQ) or ">" (ActiveMQ)`)
	accountcode := flag.String("accountcode", "default", "the accountcode of the embedded demo's agents")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `Usage: events-tail [flags]

Prints every agent's events live (events.AllAgents), and a one-line summary
of each finished call (events.Tracker).

Runs against a real platform when IV_STOMP_ADDR is set: the broker at
IV_STOMP_ADDR (login IV_STOMP_LOGIN / IV_STOMP_PASSCODE, default the
platform's) with the access key IV_KEY, until interrupted or -duration.
Otherwise it starts the in-process fake platform (package ivtest), plays a
few call flows on it and exits when they are done (or after -duration).

`)
		flag.PrintDefaults()
	}
	flag.Parse()

	ctx, cancel := exampleenv.Context(*duration)
	defer cancel()
	if err := run(ctx, *accountcode, *wildcard, *duration > 0); err != nil {
		fmt.Fprintln(os.Stderr, "events-tail:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, accountcode, wildcard string, timed bool) error {
	env, err := exampleenv.Open(append(exampleenv.QueueOfTwo(accountcode), ivtest.WithEventWildcards(wildcard))...)
	if err != nil {
		return err
	}
	defer env.Close()
	p := env.Fake // nil against a real platform
	// The client's transport, t, delivers the events.
	t, c, err := env.STOMPClient(ctx, stompx.WithWildcard(wildcard))
	if err != nil {
		return err
	}
	defer c.Close() // closes t too

	sub, err := t.Subscribe(ctx, events.AllAgents)
	if err != nil {
		return err
	}
	defer sub.Close()
	fmt.Println("tailing", events.AllAgentsTopic(wildcard))

	var calls int
	tracker, err := events.NewTracker(events.WithFinished(func(call events.Call) {
		calls++
		fmt.Println("  call", summary(call))
	}))
	if err != nil {
		return err
	}
	printer := events.SinkFunc(func(ev events.Event) {
		fmt.Printf("%s %s\n", ev.Received.Format("15:04:05.000"), describe(ev))
	})

	if p == nil {
		err := events.Run(ctx, sub, printer, tracker)
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			err = nil // interrupted, or -duration passed
		}
		fmt.Printf("%d calls finished\n", calls)
		return err
	}

	// Embedded: play the flows while the sinks run. Unless -duration says
	// how long to tail, stop once the last agent has logged off.
	fmt.Println("playing a few calls on the fake platform")
	var last func(events.Event) bool
	if !timed {
		last = func(ev events.Event) bool { return ev.Type == events.Logout && ev.Agent == accountcode+"_1002" }
	}
	demo := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		return play(ctx, c, p, accountcode)
	}
	if err := exampleenv.Play(ctx, sub, demo, last, printer, tracker); err != nil {
		return err
	}
	fmt.Printf("%d calls finished\n", calls)
	return nil
}

// play runs the demo's call flows on the fake platform: the agents log in,
// Bob pauses for a break, Alice answers a queue call and transfers it to
// Bob, Alice places a call with NewCall that is not answered, Alice calls
// Bob, a queue call is missed; then both log off.
func play(ctx context.Context, c *ivclient.Client, p *ivtest.Platform, ac string) error {
	wait := func() error { // let a call last a moment
		select {
		case <-time.After(100 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	legOf := func(agent string) string { // the agent's call in progress
		for _, call := range p.Calls() {
			if call.Agent == ac+"_"+agent {
				return call.UniqueID
			}
		}
		return ""
	}
	var bobLeg string
	steps := []func() error{
		func() error { return c.AgentLogin(ctx, ac, "1001", "SIP/"+ac+"_1001") },
		func() error { return c.AgentLogin(ctx, ac, "1002", "SIP/"+ac+"_1002") },
		func() error { return c.AgentPause(ctx, ac, "1002", "1") },
		wait,
		func() error { return c.AgentUnpause(ctx, ac, "1002") },
		// A queue call answered by Alice, who transfers it to Bob; Bob ends it.
		func() error { _, err := p.InboundCall(ac, "7000", "1001", "2198765456", ivtest.Answer); return err },
		wait,
		func() error { return c.BlindTransfer(ctx, ac, "1001", "1002") },
		wait,
		func() error { return c.Hangup(ctx, ac, legOf("1002")) },
		// Alice calls a customer who does not answer.
		func() error { return p.SetNewCallOutcome(ivtest.NoAnswer) },
		func() error { return c.NewCall(ctx, ac, "1001", "2133334444", "tail-1") },
		// Alice calls Bob, who answers, then hangs up.
		func() (err error) { _, bobLeg, err = p.AgentCall(ac, "1001", "1002", ivtest.Answer); return err },
		wait,
		func() error { return p.EndCall(bobLeg, events.ReasonByCallee) },
		// A queue call that Bob misses.
		func() error {
			_, err := p.InboundCall(ac, "7000", "1002", "2155550000", ivtest.QueueMissed)
			return err
		},
		func() error { return c.AgentLogoff(ctx, ac, "1001") },
		func() error { return c.AgentLogoff(ctx, ac, "1002") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// describe prints an event's agent, type and the fields it has.
func describe(ev events.Event) string {
	s := fmt.Sprintf("%-14s %-8s", ev.Agent, ev.Type)
	for _, f := range []struct{ name, value string }{
		{"uniqueid", ev.UniqueID}, {"callerid", ev.CallerID}, {"direction", ev.Direction}, {"reason", ev.Reason},
	} {
		if f.value != "" {
			s += " " + f.name + "=" + f.value
		}
	}
	return strings.TrimSpace(s)
}

// summary is one line for a finished call.
func summary(c events.Call) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s: ", c.UniqueID, c.Agent, c.Direction, c.CallerID)
	switch {
	case c.Expired:
		b.WriteString("expired (no HANGUP)")
		return b.String()
	case c.Answered():
		fmt.Fprintf(&b, "answered after %v, talked %v", c.RingDuration().Round(time.Millisecond), c.TalkDuration().Round(time.Millisecond))
	default:
		fmt.Fprintf(&b, "not answered, rang %v", c.RingDuration().Round(time.Millisecond))
	}
	fmt.Fprintf(&b, ", ended %s", c.Reason)
	return b.String()
}
