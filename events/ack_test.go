package events

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/errs"
)

const ackBody = `{"type":"NEWCALL","uniqueid":"1.1","agent":"default_1001","direction":"INBOUND","callerid":"555"}`

// acker counts the acks a fake transport is asked for, per delivery.
type acker struct {
	mu   sync.Mutex
	sent map[int]int
	fail error // returned (nothing "sent") while set
}

func (a *acker) fn(id int) func() error {
	return func() error {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.fail != nil {
			return a.fail
		}
		if a.sent == nil {
			a.sent = make(map[int]int)
		}
		a.sent[id]++
		return nil
	}
}

func (a *acker) count(id int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sent[id]
}

func TestAckOncePerDelivery(t *testing.T) {
	s, feed := newSubscription(feedConfig{acks: true})
	defer s.Close()
	var a acker
	if !feed.publishWithAck("/topic/t", []byte(ackBody), time.Now(), true, a.fn(1)) {
		t.Fatal("not queued")
	}
	ev := <-s.C()
	if !ev.Redelivered || ev.Type != NewCall || ev.Topic != "/topic/t" {
		t.Fatalf("event %+v", ev)
	}
	cp := ev
	for i := 0; i < 3; i++ {
		if err := s.Ack(ev); err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(cp); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.count(1); n != 1 {
		t.Fatalf("transport asked to ack %d times", n)
	}
}

func TestAckConcurrentSendsOnce(t *testing.T) {
	s, feed := newSubscription(feedConfig{acks: true})
	defer s.Close()
	var a acker
	feed.publishWithAck("/topic/t", []byte(ackBody), time.Now(), false, a.fn(7))
	ev := <-s.C()
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Ack(ev); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := a.count(7); n != 1 {
		t.Fatalf("transport asked to ack %d times", n)
	}
}

func TestAckFailureCanBeRetried(t *testing.T) {
	s, feed := newSubscription(feedConfig{acks: true})
	defer s.Close()
	lost := errors.New("connection lost")
	a := acker{fail: lost}
	feed.publishWithAck("/topic/t", []byte(ackBody), time.Now(), false, a.fn(1))
	ev := <-s.C()
	if err := s.Ack(ev); !errors.Is(err, lost) {
		t.Fatalf("Ack = %v, want the transport's error", err)
	}
	a.mu.Lock()
	a.fail = nil
	a.mu.Unlock()
	if err := s.Ack(ev); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ev); err != nil {
		t.Fatal(err)
	}
	if n := a.count(1); n != 1 {
		t.Fatalf("acks %d", n)
	}
}

func TestAckForeignEvent(t *testing.T) {
	s1, f1 := newSubscription(feedConfig{acks: true})
	defer s1.Close()
	s2, _ := newSubscription(feedConfig{acks: true})
	defer s2.Close()
	plain, pf := newSubscription(feedConfig{})
	defer plain.Close()
	var a acker
	f1.publishWithAck("/topic/t", []byte(ackBody), time.Now(), false, a.fn(1))
	ev := <-s1.C()
	if err := s2.Ack(ev); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("acking another subscription's event: %v, want an error matching ErrInvalidArgument", err)
	}
	if err := plain.Ack(ev); err == nil {
		t.Fatal("a plain subscription acked a durable one's event")
	}
	if err := s2.Ack(Event{Type: Hangup}); !errors.Is(err, errs.ErrInvalidArgument) {
		t.Fatalf("acking an event no subscription delivered: %v, want an error matching ErrInvalidArgument", err)
	}
	if n := a.count(1); n != 0 {
		t.Fatalf("transport asked to ack %d times", n)
	}
	// A plain subscription's own events need no ack.
	pf.publish("/topic/t", []byte(ackBody), time.Now())
	if err := plain.Ack(<-plain.C()); err != nil {
		t.Fatal(err)
	}
}

func TestAckSubscriptionNeverDrops(t *testing.T) {
	s, feed := newSubscription(feedConfig{acks: true, buffer: 1})
	var a acker
	feed.publishWithAck("/topic/t", []byte(ackBody), time.Now(), false, a.fn(1))
	queued := make(chan bool, 1)
	go func() { queued <- feed.publishWithAck("/topic/t", []byte(ackBody), time.Now(), false, a.fn(2)) }()
	<-s.C()
	if !<-queued {
		t.Fatal("second event not queued")
	}
	<-s.C()
	if s.Dropped() != 0 {
		t.Fatalf("dropped %d", s.Dropped())
	}
	s.Close()
}

func TestAckMalformedSettled(t *testing.T) {
	var errs atomic.Int32
	s, feed := newSubscription(feedConfig{acks: true, onError: func(error) { errs.Add(1) }})
	defer s.Close()
	var a acker
	if feed.publishWithAck("/topic/t", []byte("not json"), time.Now(), false, a.fn(1)) {
		t.Fatal("malformed body queued")
	}
	if a.count(1) != 1 || s.Malformed() != 1 || errs.Load() != 1 {
		t.Fatalf("acks %d malformed %d errors %d", a.count(1), s.Malformed(), errs.Load())
	}
}

func TestRunAcksAfterEverySink(t *testing.T) {
	s, feed := newSubscription(feedConfig{acks: true})
	var a acker
	var order []string
	var mu sync.Mutex
	note := func(x string) { mu.Lock(); order = append(order, x); mu.Unlock() }
	ack := func() error { note("ack"); return a.fn(1)() }
	feed.publishWithAck("/topic/t", []byte(ackBody), time.Now(), false, ack)
	feed.End(nil)
	err := Run(context.Background(), s,
		SinkFunc(func(Event) { note("sink1") }),
		SinkFunc(func(Event) { note("sink2") }))
	if !errors.Is(err, ErrEnded) {
		t.Fatalf("Run = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 3 || order[0] != "sink1" || order[1] != "sink2" || order[2] != "ack" {
		t.Fatalf("order %v", order)
	}
}

func TestRunReportsFailedAck(t *testing.T) {
	var got []error
	s, feed := newSubscription(feedConfig{acks: true, onError: func(err error) { got = append(got, err) }})
	lost := errors.New("connection lost")
	a := acker{fail: lost}
	feed.publishWithAck("/topic/t", []byte(ackBody), time.Now(), false, a.fn(1))
	feed.End(nil)
	_ = Run(context.Background(), s, SinkFunc(func(Event) {}))
	if len(got) != 1 || !errors.Is(got[0], lost) {
		t.Fatalf("errors %v", got)
	}
}
