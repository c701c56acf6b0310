// Command quickstart logs an agent in, places a call with NewCall, prints the
// call's events as typed values, hangs up and logs the agent off.
//
// With no environment it starts the in-process fake platform (package
// ivtest) and runs against it:
//
//	go run ./examples/quickstart
//
// Against a real platform, set the broker address and the access key (the
// agent must exist there, with a line):
//
//	IV_STOMP_ADDR=acd.example.com:61613 IV_KEY=f054bbd2f5ebab9 go run ./examples/quickstart -agent 1001 -exten 6100
//
// The broker login is IV_STOMP_LOGIN / IV_STOMP_PASSCODE when set (default
// the platform's); -h lists the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/examples/internal/exampleenv"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
)

func main() {
	accountcode := flag.String("accountcode", "default", "the agent's accountcode")
	agent := flag.String("agent", "1001", "the agent's number")
	iface := flag.String("iface", "SIP/default_1001", "the interface the agent answers on")
	exten := flag.String("exten", "6100", "the number NewCall dials")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: quickstart [flags]

Logs an agent in, places a call with NewCall, prints its events, hangs up
and logs off. Runs against IV_STOMP_ADDR with the key IV_KEY (and the broker
login IV_STOMP_LOGIN / IV_STOMP_PASSCODE, default the platform's) when set;
otherwise starts the in-process fake platform.

`)
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*accountcode, *agent, *iface, *exten); err != nil {
		log.Fatal(err)
	}
}

func run(accountcode, agent, iface, exten string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	p, err := exampleenv.Open(ivtest.WithAgent(accountcode, agent, "", "Alice"))
	if err != nil {
		return err
	}
	defer p.Close()
	// The broker carries the calls (c) and the events (t.Subscribe):
	// stompx.Dial and ivclient.New, as the README shows.
	t, c, err := p.STOMPClient(ctx)
	if err != nil {
		return err
	}
	defer c.Close() // closes t too

	// Subscribe before acting, so that no event is missed.
	sub, err := t.Subscribe(ctx, events.AgentTopic(accountcode, agent))
	if err != nil {
		return err
	}
	defer sub.Close()

	err = c.AgentLogin(ctx, accountcode, agent, iface)
	if errors.Is(err, codes.ErrDuplicate) {
		fmt.Println("AgentLogin: already logged in")
	} else if err != nil {
		return err
	} else {
		fmt.Println("AgentLogin: ok")
	}
	if err := c.NewCall(ctx, accountcode, agent, exten, "quickstart-1"); err != nil {
		return err
	}
	fmt.Println("NewCall: ok")

	var uniqueID string // the call NewCall placed, from its events
	for ended := false; !ended; {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				return fmt.Errorf("subscription ended: %w", sub.Err())
			}
			fmt.Printf("event %-8s agent=%s callerid=%s direction=%q reason=%q\n",
				ev.Type, ev.Agent, ev.CallerID, ev.Direction, ev.Reason)
			switch ev.Type {
			case events.DConnect:
				// The remote party answered: end the call.
				uniqueID = ev.UniqueID
				if err := c.Hangup(ctx, accountcode, uniqueID); err != nil {
					return err
				}
				fmt.Println("Hangup: ok")
			case events.Hangup:
				// Ours, or the call ended before the remote party answered.
				ended = uniqueID == "" || ev.UniqueID == uniqueID
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for the call's events: %w", ctx.Err())
		}
	}

	info, err := c.AgentInfo(ctx, accountcode, agent)
	if err != nil {
		return err
	}
	fmt.Printf("AgentInfo: user=%s name=%s status=%s\n", info.User, info.Name, info.AgentStatus)
	if err := c.AgentLogoff(ctx, accountcode, agent); err != nil {
		return err
	}
	fmt.Println("AgentLogoff: ok")
	return nil
}
