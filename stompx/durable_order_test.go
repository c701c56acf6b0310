package stompx_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// A durable subscription to many agent topics keeps each agent's events
// in the order they were published, with each event's topic, whether the
// events waited in the queue or arrived while it consumed, and on a
// resubscription to the queue made by the first (its bindings kept).
func TestDurableTopicsKeepOrder(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) { topicsKeepOrder(t, addr) })
	t.Run("quorum", func(t *testing.T) { topicsKeepOrder(t, rabbitAddr(t), stompx.WithQuorumQueue()) })
}

func topicsKeepOrder(t *testing.T, addr string, opts ...stompx.DurableOption) {
	{
		const agents, perRound = 20, 15
		opts = append(opts, stompx.WithPrefetch(64))
		e := newDurableEnv(t, addr, opts...)
		topics := make([]string, agents)
		for a := range topics {
			topics[a] = fmt.Sprintf("%s.a%02d", e.topic, a)
		}
		body := func(a, i int) []byte {
			return fmt.Appendf(nil, `{"type":"NEWCALL","uniqueid":"1700000000.%d","agent":"a%02d","direction":"INBOUND"}`, i, a)
		}
		// publish sends events from..to-1 of every agent, interleaved.
		publish := func(from, to int) {
			c, nc := dialRaw(t, addr)
			defer nc.Close()
			for i := from; i < to; i++ {
				for a := range topics {
					if err := c.Send(topics[a], "", body(a, i), stomp.SendOpt.Receipt); err != nil {
						t.Error(err)
						return
					}
				}
			}
			_ = c.Disconnect()
		}
		next := make(map[string]int) // agent -> the seq expected next
		consume := func(s *events.Subscription, to int) {
			for n, total := 0, agents*(to-next["a00"]); n < total; n++ {
				ev := recv(t, s)
				if want := next[ev.Agent]; seq(ev) != want {
					t.Fatalf("agent %s: event %d arrived when %d was next (out of order; redelivered %v)", ev.Agent, seq(ev), want, ev.Redelivered)
				}
				var a int
				_, _ = fmt.Sscanf(ev.Agent, "a%d", &a)
				if ev.Topic != topics[a] {
					t.Fatalf("agent %s: topic %q, want %q", ev.Agent, ev.Topic, topics[a])
				}
				next[ev.Agent]++
				if err := s.Ack(ev); err != nil {
					t.Fatal(err)
				}
			}
		}
		tr := dial(t, addr)
		ctx := ctxT(t, time.Minute)
		// One round waits in the queue, one arrives while consuming.
		s, err := tr.SubscribeDurable(ctx, e.name, topics, opts...)
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
		publish(0, perRound)
		s, err = tr.SubscribeDurable(ctx, e.name, topics, opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		published := make(chan struct{})
		go func() { defer close(published); publish(perRound, 2*perRound) }()
		defer func() { <-published }()
		consume(s, 2*perRound)
		_ = s.Close()
		// The queue, bound to every topic, consumed through one of them.
		publish(2*perRound, 3*perRound)
		s, err = tr.SubscribeDurable(ctx, e.name, topics[:1], opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		consume(s, 3*perRound)
	}
}
