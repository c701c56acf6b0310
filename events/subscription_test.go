package events

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

func body(typ Type, agent, uid string) []byte {
	return []byte(fmt.Sprintf(`{"direction":"","callerid":"","type":%q,"uniqueid":%q,"agent":%q}`, typ, uid, agent))
}

func TestSubscriptionDelivers(t *testing.T) {
	s, feed := newSubscription(feedConfig{})
	if !feed.publish("/topic/iv.agents.default_1001", body(NewCall, "default_1001", "1.1"), t0) {
		t.Fatal("Publish = false")
	}
	ev := <-s.C()
	if ev.Type != NewCall || ev.Topic != "/topic/iv.agents.default_1001" || !ev.Received.Equal(t0) {
		t.Fatalf("got %+v", ev)
	}
	if s.Delivered() != 1 || s.Dropped() != 0 || s.Malformed() != 0 {
		t.Fatalf("counters %d %d %d", s.Delivered(), s.Dropped(), s.Malformed())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSubscriptionDropsAndSignalsOncePerSlowPeriod(t *testing.T) {
	var slow atomic.Int32
	s, feed := newSubscription(feedConfig{buffer: 4, onError: func(err error) {
		if errors.Is(err, ErrSlowConsumer) {
			slow.Add(1)
		}
	}})
	defer s.Close()
	pub := func(n int) (queued int) {
		for i := 0; i < n; i++ {
			if feed.publish("t", body(NewCall, "a", "u"), t0) {
				queued++
			}
		}
		return queued
	}
	if q := pub(10); q != 4 {
		t.Fatalf("queued %d of 10 with a buffer of 4", q)
	}
	if s.Dropped() != 6 || slow.Load() != 1 {
		t.Fatalf("dropped %d, slow signalled %d times; want 6, 1", s.Dropped(), slow.Load())
	}
	// Reading one event and publishing again: still slow (buffer not
	// drained to half), no new signal.
	<-s.C()
	pub(3)
	if slow.Load() != 1 {
		t.Fatalf("slow signalled %d times while still slow", slow.Load())
	}
	// The consumer catches up: the slow period ends; the next drop
	// begins a new one.
	for len(s.C()) > 0 {
		<-s.C()
	}
	if pub(1) != 1 {
		t.Fatal("not queued after catching up")
	}
	pub(10)
	if slow.Load() != 2 {
		t.Fatalf("slow signalled %d times, want 2", slow.Load())
	}
	if s.Delivered()+s.Dropped() != 24 {
		t.Fatalf("delivered %d + dropped %d != 24", s.Delivered(), s.Dropped())
	}
}

func TestSubscriptionMalformedCounted(t *testing.T) {
	var errs []error
	s, feed := newSubscription(feedConfig{onError: func(err error) { errs = append(errs, err) }})
	defer s.Close()
	for _, b := range []string{`nope`, `{"type":`, `[1]`, ``} {
		if feed.publish("t", []byte(b), t0) {
			t.Fatalf("malformed %q queued", b)
		}
	}
	feed.publish("t", body(Login, "a", ""), t0)
	if s.Malformed() != 4 || s.Delivered() != 1 || len(errs) != 4 {
		t.Fatalf("malformed %d delivered %d errors %d", s.Malformed(), s.Delivered(), len(errs))
	}
	for _, err := range errs {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
	}
	if ev := <-s.C(); ev.Type != Login {
		t.Fatalf("got %+v", ev)
	}
}

func TestSubscriptionEnd(t *testing.T) {
	boom := errors.New("connection lost for good")
	closed := 0
	s, feed := newSubscription(feedConfig{onClose: func() error { closed++; return nil }})
	feed.publish("t", body(Login, "a", ""), t0)
	feed.End(boom)
	feed.End(errors.New("second"))
	if feed.publish("t", body(Logout, "a", ""), t0) {
		t.Fatal("Publish after End queued")
	}
	// Buffered events come first, then the close.
	if ev, ok := <-s.C(); !ok || ev.Type != Login {
		t.Fatalf("got %+v, %v", ev, ok)
	}
	if _, ok := <-s.C(); ok {
		t.Fatal("C not closed")
	}
	if !errors.Is(s.Err(), boom) {
		t.Fatalf("Err = %v", s.Err())
	}
	// Close after End keeps the transport's reason, unsubscribes once.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !errors.Is(s.Err(), boom) || closed != 1 {
		t.Fatalf("Err = %v, onClose called %d times", s.Err(), closed)
	}

	s2, feed2 := newSubscription(feedConfig{})
	feed2.End(nil)
	<-s2.C()
	if s2.Err() != ErrEnded {
		t.Fatalf("Err = %v, want ErrEnded", s2.Err())
	}
}

func TestSubscriptionCloseIdempotent(t *testing.T) {
	unsub := errors.New("unsubscribe failed")
	var calls atomic.Int32
	s, feed := newSubscription(feedConfig{onClose: func() error { calls.Add(1); return unsub }})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Close(); err != unsub {
				t.Errorf("Close = %v", err)
			}
		}()
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("onClose called %d times", calls.Load())
	}
	if _, ok := <-s.C(); ok {
		t.Fatal("C not closed")
	}
	if s.Err() != nil {
		t.Fatalf("Err after Close = %v", s.Err())
	}
	select {
	case <-feed.Done():
	default:
		t.Fatal("Done not closed")
	}
	if feed.publish("t", body(Login, "a", ""), t0) {
		t.Fatal("Publish after Close queued")
	}
}

func TestSubscriptionCloseFromErrorHandler(t *testing.T) {
	var s *Subscription
	s, feed := newSubscription(feedConfig{buffer: 1, onError: func(err error) {
		s.Close() // must not deadlock
	}})
	feed.publish("t", body(Login, "a", ""), t0)
	feed.publish("t", body(Login, "a", ""), t0) // dropped: handler closes
	if _, ok := <-s.C(); !ok {
		t.Fatal("buffered event lost")
	}
	if _, ok := <-s.C(); ok {
		t.Fatal("C not closed")
	}
}

func TestSubscriptionBlocking(t *testing.T) {
	s, feed := newSubscription(feedConfig{buffer: 2, block: true})
	defer s.Close()
	const n = 1000
	done := make(chan int)
	go func() {
		queued := 0
		for i := 0; i < n; i++ {
			if feed.publish("t", body(NewCall, "a", fmt.Sprint(i)), t0) {
				queued++
			}
		}
		done <- queued
	}()
	for i := 0; i < n; i++ {
		ev := <-s.C()
		if ev.UniqueID != fmt.Sprint(i) {
			t.Fatalf("event %d: %q", i, ev.UniqueID)
		}
	}
	if q := <-done; q != n || s.Dropped() != 0 {
		t.Fatalf("queued %d dropped %d", q, s.Dropped())
	}
}

// TestSubscriptionBlockingEnds checks that a publisher blocked on a full
// buffer is released by Close and by End, from other goroutines.
func TestSubscriptionBlockingEnds(t *testing.T) {
	for _, how := range []string{"Close", "End"} {
		t.Run(how, func(t *testing.T) {
			s, feed := newSubscription(feedConfig{buffer: 1, block: true})
			feed.publish("t", body(Login, "a", ""), t0) // fills the buffer
			result := make(chan bool)
			go func() { result <- feed.publish("t", body(Logout, "a", ""), t0) }()
			// Whether or not the publisher is already waiting, ending
			// must release it without a consumer.
			if how == "Close" {
				s.Close()
			} else {
				feed.End(errors.New("gone"))
			}
			if <-result {
				t.Fatal("blocked Publish reports queued after the end")
			}
			if _, ok := <-s.C(); !ok {
				t.Fatal("buffered event lost")
			}
			if _, ok := <-s.C(); ok {
				t.Fatal("C not closed")
			}
			s.Close()
		})
	}
}

// TestSubscriptionConcurrent races Publish (both modes), Close and End;
// run with -race. Nothing may panic (a send on a closed channel), and
// every published event is either delivered or not queued.
func TestSubscriptionConcurrent(t *testing.T) {
	for _, blocking := range []bool{false, true} {
		for round := 0; round < 50; round++ {
			s, feed := newSubscription(feedConfig{onClose: func() error { return nil }, buffer: 4, block: blocking})
			var queued atomic.Uint64
			var wg sync.WaitGroup
			for p := 0; p < 4; p++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 200; i++ {
						if feed.publish("t", body(NewCall, "a", "u"), t0) {
							queued.Add(1)
						}
						_ = s.Err()
					}
				}()
			}
			wg.Add(3)
			go func() {
				defer wg.Done()
				for i := 0; i < round%5*20; i++ {
					runtime.Gosched() // vary where the Close lands
				}
				s.Close()
			}()
			go func() { defer wg.Done(); feed.End(errors.New("x")) }()
			go func() { defer wg.Done(); s.Close() }()
			received := uint64(0)
			for range s.C() {
				received++
			}
			wg.Wait()
			if received != queued.Load() || received != s.Delivered() {
				t.Fatalf("received %d, queued %d, delivered %d", received, queued.Load(), s.Delivered())
			}
		}
	}
}

// TestSubscriptionErrBeforeClose checks that a reader that sees C closed
// sees the reason too.
func TestSubscriptionErrBeforeClose(t *testing.T) {
	for i := 0; i < 100; i++ {
		boom := errors.New("boom")
		s, feed := newSubscription(feedConfig{})
		go feed.End(boom)
		for range s.C() {
		}
		if s.Err() != boom {
			t.Fatalf("Err = %v after C closed", s.Err())
		}
		s.Close()
	}
}
