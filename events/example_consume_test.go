package events_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// A CRM worker: ConsumeCalls hands it whole calls from a durable
// subscription; a store that fails is tried again, and the call's events are
// settled only once it was stored. Here the platform is ivtest's, and the
// worker stops at the agent's LOGOUT.
func ExampleConsumeCalls() {
	p, err := ivtest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close()
	sub, err := tr.SubscribeDurable(ctx, "example-crm", []string{events.AllAgents})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()

	// What the platform publishes for agent 1001: a login, an answered
	// call, an unanswered one, a logout.
	for _, ev := range []events.Event{
		{Type: events.Login},
		{Type: events.NewCall, UniqueID: "1.1", Direction: "INBOUND", CallerID: "2198765456"},
		{Type: events.Connect, UniqueID: "1.1"},
		{Type: events.Hangup, UniqueID: "1.1", Reason: events.ReasonByCaller},
		{Type: events.NewCall, UniqueID: "1.2", Direction: "INBOUND", CallerID: "2195550100"},
		{Type: events.Hangup, UniqueID: "1.2", Reason: events.ReasonQueueMissed},
		{Type: events.Logout},
	} {
		ev.Agent = "default_1001"
		if err := p.PublishEvent(ev); err != nil {
			fmt.Println(err)
			return
		}
	}

	busy := true
	store := func(ctx context.Context, c events.Call) error {
		if busy { // the database fails once: the call is tried again
			busy = false
			return errors.New("database busy")
		}
		fmt.Println("call", c.UniqueID, c.Direction, c.CallerID, c.Reason, "answered:", c.Answered())
		return nil
	}
	other := func(ctx context.Context, ev events.Event) error {
		fmt.Println("agent", ev.Agent, ev.Type)
		if ev.Type == events.Logout {
			cancel()
		}
		return nil
	}
	err = events.ConsumeCalls(ctx, sub, store, events.WithOtherEvents(other),
		events.WithLanes(8), events.WithRetry(3, 10*time.Millisecond))
	fmt.Println("stopped:", err)
	// Output:
	// agent default_1001 LOGIN
	// call 1.1 INBOUND 2198765456 BYCALLER answered: true
	// call 1.2 INBOUND 2195550100 QUEUEMISSED answered: false
	// agent default_1001 LOGOUT
	// stopped: context canceled
}

// Consume hands each event to a handler that may fail: an agent's events
// in order, agents in parallel on the lanes.
func ExampleConsume() {
	p, err := ivtest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close()
	sub, err := tr.SubscribeDurable(ctx, "example-board", []string{events.AllAgents})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()

	for _, t := range []events.Type{events.Login, events.Pause, events.Unpause, events.Logout} {
		if err := p.PublishEvent(events.Event{Type: t, Agent: "default_1001"}); err != nil {
			fmt.Println(err)
			return
		}
	}
	err = events.Consume(ctx, sub, func(ctx context.Context, ev events.Event) error {
		fmt.Println(ev.Agent, ev.Type)
		if ev.Type == events.Logout {
			cancel()
		}
		return nil
	}, events.WithLanes(4))
	fmt.Println("stopped:", err)
	// Output:
	// default_1001 LOGIN
	// default_1001 PAUSE
	// default_1001 UNPAUSE
	// default_1001 LOGOUT
	// stopped: context canceled
}
