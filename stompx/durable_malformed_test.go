package stompx_test

import (
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
)

// A body that is not an event, first in a backlog, is dead-lettered once
// and the backlog behind it is delivered: its dead-lettering (a SEND and a
// round trip) never waits for go-stomp's I/O goroutine while that one is
// blocked handing the backlog's next message to the subscription. With
// several topics the body comes first through the binder's copies
// (pumpInOrder), with one through the plain pump; published while the
// subscription consumes, the body and the events come as they are sent.
func TestDurableMalformedBeforeBacklog(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		for _, topics := range []int{0, 1, 2} {
			t.Run(map[int]string{0: "while subscribed", 1: "one topic", 2: "two topics"}[topics], func(t *testing.T) {
				live := topics == 0
				topics = max(topics, 1)
				e := newDurableEnv(t, addr)
				dests := []string{e.topic}
				if topics == 2 {
					dests = append(dests, strings.TrimSuffix(e.topic, ".ev")+".other")
				}
				tr := dial(t, addr)
				ctx := ctxT(t, 2*time.Minute)
				s, err := tr.SubscribeDurable(ctx, e.name, dests)
				if err != nil {
					t.Fatal(err)
				}
				if !live {
					_ = s.Close()
				}
				const n = 100
				for _, d := range dests {
					rabbitPublish(t, addr, d, []byte(`not an event`))
				}
				rabbitPublish(t, addr, e.topic, evBodies(0, n)...)
				if !live {
					s, err = tr.SubscribeDurable(ctx, e.name, dests)
					if err != nil {
						t.Fatal(err)
					}
				}
				defer s.Close()
				seen := make([]bool, n)
				for i := 0; i < n; i++ {
					ev := recv(t, s)
					if seen[seq(ev)] {
						t.Fatalf("event %d delivered twice", seq(ev))
					}
					seen[seq(ev)] = true
					if err := s.Ack(ev); err != nil {
						t.Fatal(err)
					}
				}
				if m := s.Malformed(); m != uint64(topics) {
					t.Fatalf("Malformed() = %d, want %d", m, topics)
				}
				_ = s.Close()
				dl, err := tr.DeadLetters(ctx, e.name, 10)
				if err != nil {
					t.Fatal(err)
				}
				if len(dl) != topics {
					t.Fatalf("%d dead letters, want %d: %+v", len(dl), topics, dl)
				}
				for _, d := range dl {
					if string(d.Event.Raw) != "not an event" || !strings.Contains(d.Cause, events.ErrMalformed.Error()) {
						t.Fatalf("dead letter %q, cause %q", d.Event.Raw, d.Cause)
					}
				}
			})
		}
	})
}
