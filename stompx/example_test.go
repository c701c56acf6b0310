package stompx_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// Dial the broker, make calls through a typed client, and watch an
// agent's events. The fake platform stands in for the real one.
func ExampleDial() {
	p, err := ivtest.Start(ivtest.WithAgent("default", "1001", "", "Ann"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t, err := stompx.Dial(ctx, p.STOMPAddr()) // the real broker: "acd.example.com:61613"
	if err != nil {
		log.Fatal(err)
	}
	c, err := ivclient.New(t, p.Key()) // c.Close closes t
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// Subscribe first: it returns once the broker has the subscription.
	sub, err := t.Subscribe(ctx, events.AgentTopic("default", "1001"))
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_0001"); err != nil {
		log.Fatal(err)
	}
	ev := <-sub.C()
	fmt.Println(ev.Type, ev.Agent)
	fmt.Println(t.State(), t.Stats().RepliesMatched)
	// Output:
	// LOGIN default_1001
	// Connected 1
}

// Follow the connection's state: changes arrive in order, on a goroutine
// of their own.
func ExampleWithStateHandler() {
	p, err := ivtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	states := make(chan stompx.StateChange, 16)
	t, err := stompx.Dial(context.Background(), p.STOMPAddr(),
		stompx.WithStateHandler(func(c stompx.StateChange) { states <- c }),
		stompx.WithReconnectBackoff(100*time.Millisecond, 5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	t.Close()
	close(states)
	for c := range states {
		fmt.Println(c.State)
	}
	// Output:
	// Connecting
	// Connected
	// Closed
}

// A worker on a durable name: every process that subscribes with the same
// name shares the events, which wait in the broker while no worker runs.
// An event is settled by Ack (or by events.Run once its sinks have taken
// it); one whose worker dies first is delivered again, Redelivered set.
// ivtest's broker keeps durable queues as RabbitMQ does.
func ExampleTransport_SubscribeDurable() {
	p, err := ivtest.Start(ivtest.WithAgent("default", "1001", "", "Ann"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t, err := stompx.Dial(ctx, p.STOMPAddr()) // RabbitMQ: "acd.example.com:61613"
	if err != nil {
		log.Fatal(err)
	}
	c, err := ivclient.New(t, p.Key())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	sub, err := t.SubscribeDurable(ctx, "crm-workers", []string{events.AllAgents},
		stompx.WithMaxBacklog(100_000),        // an abandoned queue cannot fill the broker...
		stompx.WithIdleExpiry(7*24*time.Hour)) // ...and goes after a week without workers
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_0001"); err != nil {
		log.Fatal(err)
	}
	ev := <-sub.C()
	fmt.Println(ev.Type, ev.Agent, ev.Redelivered)
	if err := sub.Ack(ev); err != nil {
		log.Println(err) // the connection dropped: the event comes again
	}
	// Output: LOGIN default_1001 false
}
