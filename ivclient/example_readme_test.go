package ivclient_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// The README's "Use": the whole program, here as an example that go test
// runs; TestReadmeUse checks that the README shows exactly this body, as
// the body of func main with these imports.
func Example_readme() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The fake platform (package ivtest), with agent 1001 and its line 1, as the simulator
	// seeds agents 1001-1003: a bare ivtest.Start has no agents. Against the real platform,
	// leave it out, dial its broker ("acd.example.com:61613") and use your access key.
	p, err := ivtest.Start(
		ivtest.WithAgent("default", "1001", "", "Alice"),
		ivtest.WithSeed("AgentLineAdd", map[string]any{"accountcode": "default", "user": "1001",
			"lines": []any{map[string]any{"linenumber": "1"}}}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	t, err := stompx.Dial(ctx, p.STOMPAddr()) // the platform's broker login by default
	if err != nil {
		log.Fatal(err)
	}
	c, err := ivclient.New(t, p.Key()) // the access key; c.Close closes t too
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	sub, err := t.Subscribe(ctx, events.AgentTopic("default", "1001")) // before acting: no event missed
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	if err := c.AgentLogin(ctx, "default", "default_1001", "SIP/default_0001"); errors.Is(err, codes.ErrDuplicate) {
		fmt.Println("already logged in")
	} else if err != nil {
		log.Fatal(err)
	}
	if err := c.NewCall(ctx, "default", "1001", "6100", "crm-4711"); err != nil {
		log.Fatal(err)
	}
	for ev := range sub.C() {
		fmt.Println(ev.Type) // LOGIN, then NEWCALL, CONNECT, DNEWCALL, DCONNECT, HANGUP
		switch ev.Type {
		case events.DConnect: // the number answered: this demo hangs up at once
			if err := c.Hangup(ctx, "default", ev.UniqueID); err != nil {
				log.Fatal(err)
			}
		case events.Hangup:
			fmt.Println("the call is over:", ev.Reason)
			return
		}
	}
	log.Fatal(sub.Err()) // the subscription ended before the call did
	// Output:
	// LOGIN
	// NEWCALL
	// CONNECT
	// DNEWCALL
	// DCONNECT
	// HANGUP
	// the call is over: BYCALLER
}
