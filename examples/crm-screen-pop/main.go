// Command crm-screen-pop is the core of a CRM integration: it watches every
// agent's calls, pops the caller's customer record on the agent's screen
// when a call arrives (NEWCALL), and writes a call record when the call ends
// (HANGUP), from the finished calls of an events.Tracker.
//
// With no environment it starts the in-process fake platform (package
// ivtest), logs two agents in and plays a few inbound calls on it, and exits
// when they are recorded:
//
//	go run ./examples/crm-screen-pop
//
// Against a real platform it only listens, until interrupted or -duration:
//
//	IV_STOMP_ADDR=acd.example.com:61613 IV_KEY=f054bbd2f5ebab9 go run ./examples/crm-screen-pop
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
	"sync"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/examples/internal/exampleenv"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// customer is a record of the CRM.
type customer struct {
	Name, Account, Notes string
}

// crm is a tiny in-memory CRM: customers by phone number, and the call
// records written so far.
type crm struct {
	mu        sync.Mutex
	customers map[string]customer
	records   []callRecord
}

// callRecord is what the CRM keeps of a call.
type callRecord struct {
	UniqueID, Agent, Direction, Number, Customer, Outcome string
	Ring, Talk                                            time.Duration
}

func newCRM() *crm {
	return &crm{customers: map[string]customer{
		"2198765456": {Name: "Maria Silva", Account: "ACME-0042", Notes: "VIP; renewal due in March"},
		"2133334444": {Name: "João Pereira", Account: "ACME-0107", Notes: "open ticket #5521: router replaced"},
	}}
}

// lookup finds the customer calling from number.
func (c *crm) lookup(number string) (customer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cu, ok := c.customers[strings.TrimPrefix(number, "+55")]
	return cu, ok
}

// save writes a call record.
func (c *crm) save(r callRecord) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r)
	return len(c.records)
}

// count returns how many call records were written.
func (c *crm) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.records)
}

func main() {
	accountcode := flag.String("accountcode", "default", "the accountcode of the agents the embedded demo uses")
	wildcard := flag.String("wildcard", "#", `the broker's topic wildcard: "#" (RabbitMQ) or ">" (ActiveMQ)`)
	duration := flag.Duration("duration", 0, "stop after this long (0: until interrupted, or until the embedded demo is done)")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `Usage: crm-screen-pop [flags]

Subscribes to every agent's events; on NEWCALL looks the caller up in a small
in-memory CRM and prints a screen pop for the agent; on HANGUP writes a call
record (from events.Tracker's finished calls).

Runs against a real platform when IV_STOMP_ADDR is set: the broker at
IV_STOMP_ADDR (login IV_STOMP_LOGIN / IV_STOMP_PASSCODE, default the
platform's) with the access key IV_KEY, and listens until interrupted or
-duration. Otherwise it starts the in-process fake platform (package ivtest),
plays three inbound calls on it and exits once they are recorded.

`)
		flag.PrintDefaults()
	}
	flag.Parse()

	ctx, cancel := exampleenv.Context(*duration)
	defer cancel()
	if err := run(ctx, *accountcode, *wildcard); err != nil {
		fmt.Fprintln(os.Stderr, "crm-screen-pop:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, accountcode, wildcard string) error {
	env, err := exampleenv.Open(exampleenv.QueueOfTwo(accountcode)...)
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
	fmt.Println("listening to every agent's calls")

	db := newCRM()
	// The tracker folds each call's events into one events.Call and hands it
	// over when the call ends (or expires, if its HANGUP never comes).
	tracker, err := events.NewTracker(events.WithFinished(func(call events.Call) {
		r := callRecord{UniqueID: call.UniqueID, Agent: call.Agent, Direction: call.Direction,
			Number: call.CallerID, Outcome: call.Reason, Ring: call.RingDuration(), Talk: call.TalkDuration()}
		if cu, ok := db.lookup(call.CallerID); ok {
			r.Customer = cu.Account
		}
		if call.Expired {
			r.Outcome = "EXPIRED"
		}
		n := db.save(r)
		answered := "not answered"
		if call.Answered() {
			answered = "answered, talked " + r.Talk.Round(time.Millisecond).String()
		}
		fmt.Printf("call record #%d: %s %s %s customer=%s %s, ended %s\n",
			n, r.Agent, r.Direction, r.Number, orNone(r.Customer), answered, r.Outcome)
	}))
	if err != nil {
		return err
	}
	screenPop := events.SinkFunc(func(ev events.Event) {
		if ev.Type != events.NewCall || ev.Direction != "INBOUND" {
			return
		}
		if cu, ok := db.lookup(ev.CallerID); ok {
			fmt.Printf("screen pop for %s: %s calling from %s (account %s): %s\n",
				ev.Agent, cu.Name, ev.CallerID, cu.Account, cu.Notes)
		} else {
			fmt.Printf("screen pop for %s: unknown caller %s: open a new lead form\n", ev.Agent, ev.CallerID)
		}
	})

	if p == nil {
		err := events.Run(ctx, sub, screenPop, tracker)
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			err = nil // interrupted, or -duration passed
		}
		fmt.Printf("%d call records written\n", db.count())
		return err
	}

	// Embedded: play the calls while the sinks run, and stop once the last
	// agent has logged off.
	ctx, cancel := context.WithTimeout(ctx, time.Minute) // the demo takes a second
	defer cancel()
	err = exampleenv.Play(ctx, sub, func(ctx context.Context) error { return demo(ctx, c, p, accountcode) },
		func(ev events.Event) bool { return ev.Type == events.Logout && ev.Agent == accountcode+"_1002" },
		screenPop, tracker)
	if err != nil {
		return err
	}
	fmt.Printf("%d call records written\n", db.count())
	return nil
}

// demo logs the agents in and plays three calls from queue 7000 on the
// fake platform: a customer answered by Alice, an unknown caller answered
// by Bob, and a customer whose call Alice misses.
func demo(ctx context.Context, c *ivclient.Client, p *ivtest.Platform, accountcode string) error {
	for _, agent := range []string{"1001", "1002"} {
		if err := c.AgentLogin(ctx, accountcode, agent, "SIP/"+accountcode+"_"+agent); err != nil {
			return err
		}
	}
	// talk lets a call last a moment, then the caller hangs up (reason
	// BYCALLER), or the agent does, with the Hangup method.
	talk := func(uid string, reason string) error {
		select {
		case <-time.After(150 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		if reason == "" {
			return c.Hangup(ctx, accountcode, uid)
		}
		return p.EndCall(uid, reason)
	}

	uid, err := p.InboundCall(accountcode, "7000", "1001", "2198765456", ivtest.Answer)
	if err != nil {
		return err
	}
	if err := talk(uid, events.ReasonByCaller); err != nil {
		return err
	}
	if uid, err = p.InboundCall(accountcode, "7000", "1002", "2155550000", ivtest.Answer); err != nil {
		return err
	}
	if err := talk(uid, ""); err != nil {
		return err
	}
	if _, err = p.InboundCall(accountcode, "7000", "1001", "2133334444", ivtest.QueueMissed); err != nil {
		return err
	}
	for _, agent := range []string{"1001", "1002"} {
		if err := c.AgentLogoff(ctx, accountcode, agent); err != nil {
			return err
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
