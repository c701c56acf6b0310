package stompx_test

// Durable subscriptions and request expiry against RabbitMQ (see
// rabbit_test.go for how to run them). Every test uses durable names and
// topics of its own (random suffix) and deletes its queues at the end.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// durableEnv is one test's durable name and topic on RabbitMQ.
type durableEnv struct {
	addr  string
	name  string
	topic string // "/topic/dur.<rand>.ev"
	opts  []stompx.DurableOption
}

// forDurableBrokers runs f against RabbitMQ (see rabbitAddr) and against
// ivtest's broker, which has RabbitMQ's durable semantics.
func forDurableBrokers(t *testing.T, f func(t *testing.T, addr string)) {
	t.Run("rabbitmq", func(t *testing.T) { f(t, rabbitAddr(t)) })
	t.Run("ivtest", func(t *testing.T) { f(t, ivtest.NewPlatform(t).STOMPAddr()) })
}

func newDurableEnv(t *testing.T, addr string, opts ...stompx.DurableOption) *durableEnv {
	t.Helper()
	id := randName("")
	e := &durableEnv{addr: addr, name: "stompxtest." + id, topic: "/topic/durtest." + id + ".ev", opts: opts}
	t.Cleanup(func() {
		// A transport of its own: the test's may be closed by now.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		tr, err := stompx.Dial(ctx, addr)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer tr.Close()
		if err := tr.DeleteDurable(ctx, e.name, e.opts...); err != nil {
			t.Errorf("cleanup: DeleteDurable: %v", err)
		}
	})
	return e
}

// subscribe subscribes to e's name and topic with e's options; the
// subscription is closed at the end of the test.
func (e *durableEnv) subscribe(ctx context.Context, t *testing.T, tr *stompx.Transport) *events.Subscription {
	t.Helper()
	s, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, e.opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// leave makes e's queue and leaves it with no consumer.
func (e *durableEnv) leave(ctx context.Context, t *testing.T, tr *stompx.Transport) {
	t.Helper()
	_ = e.subscribe(ctx, t, tr).Close()
}

func evBody(i int) []byte {
	return fmt.Appendf(nil, `{"type":"NEWCALL","uniqueid":"1700000000.%d","agent":"default_1001","direction":"INBOUND","callerid":"555"}`, i)
}

func evBodies(from, to int) [][]byte {
	var b [][]byte
	for i := from; i < to; i++ {
		b = append(b, evBody(i))
	}
	return b
}

// seq returns the number at the end of an event's uniqueid.
func seq(ev events.Event) int {
	var n int
	_, _ = fmt.Sscanf(ev.UniqueID[strings.LastIndexByte(ev.UniqueID, '.')+1:], "%d", &n)
	return n
}

// logCounter counts the log records whose message contains a word.
type logCounter struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }
func (l *logCounter) count(word string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, word) {
			n++
		}
	}
	return n
}

func TestDurableKeepsEventsWhileNoConsumer(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		tr := dial(t, e.addr)
		ctx := ctxT(t, 30*time.Second)
		e.leave(ctx, t, tr)
		rabbitPublish(t, e.addr, e.topic, evBodies(0, 10)...)
		s := e.subscribe(ctx, t, tr)
		for i := 0; i < 10; i++ {
			ev := recv(t, s)
			if seq(ev) != i || ev.Redelivered || ev.Topic != e.topic {
				t.Fatalf("event %d: %+v", i, ev)
			}
			if err := s.Ack(ev); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A durable subscription that loses its connection tries the next
// address first, as the transport does: the one that
// just failed is tried again only after the others.
func TestDurableFailoverTriesNextAddressFirst(t *testing.T) {
	p := ivtest.NewPlatform(t)
	first, second := newProxy(t, p.STOMPAddr()), newProxy(t, p.STOMPAddr())
	tr := dial(t, first.addr(), stompx.WithAddrs(second.addr()), stompx.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
	ctx := ctxT(t, 30*time.Second)
	e := newDurableEnv(t, p.STOMPAddr())
	s, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if first.kill() == 0 { // the connections drop, but first still accepts
		t.Fatal("nothing was connected through the first address")
	}
	rabbitPublish(t, p.STOMPAddr(), e.topic, evBody(0))
	if ev := recv(t, s); seq(ev) != 0 {
		t.Fatalf("event %+v", ev)
	}
	if n := first.conns(); n != 0 {
		t.Fatalf("%d connections went back to the address that had just failed, before the next one", n)
	}
}

func TestDurableSharedConsumersSplit(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		ctx := ctxT(t, time.Minute)
		const n = 400
		var got [2]atomic.Int64
		seen := make([]atomic.Int32, n)
		var all sync.WaitGroup
		all.Add(n)
		for w := 0; w < 2; w++ {
			tr := dial(t, e.addr)
			s, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, stompx.WithPrefetch(10))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			go func(w int) {
				for ev := range s.C() {
					if err := s.Ack(ev); err != nil {
						t.Error(err)
					}
					got[w].Add(1)
					if seen[seq(ev)].Add(1) == 1 {
						all.Done()
					}
				}
			}(w)
		}
		rabbitPublish(t, e.addr, e.topic, evBodies(0, n)...)
		done := make(chan struct{})
		go func() { all.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("events missing: worker 0 got %d, worker 1 got %d", got[0].Load(), got[1].Load())
		}
		if got[0].Load() == 0 || got[1].Load() == 0 || got[0].Load()+got[1].Load() != n {
			t.Fatalf("split %d + %d, want both > 0 and %d in all", got[0].Load(), got[1].Load(), n)
		}
		t.Logf("split %d / %d", got[0].Load(), got[1].Load())
	})
}

func TestDurableRedeliveredAfterDrop(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		p := newProxy(t, e.addr)
		logs := &logCounter{}
		tr := dial(t, p.addr(), stompx.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond), stompx.WithLogger(slog.New(logs)))
		ctx := ctxT(t, time.Minute)
		s, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, stompx.WithPrefetch(5))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		rabbitPublish(t, e.addr, e.topic, evBodies(0, 6)...)
		var old []events.Event
		for i := 0; i < 5; i++ {
			ev := recv(t, s)
			if ev.Redelivered {
				t.Fatalf("first delivery marked redelivered: %+v", ev)
			}
			old = append(old, ev)
		}
		if err := s.Ack(old[0]); err != nil { // settled before the drop: never again
			t.Fatal(err)
		}
		// Event 5 comes once the broker has the ack (prefetch 5).
		old = append(old, recv(t, s))
		p.kill()
		// The same subscription value, a new connection: events 1-5 again.
		for i := 1; i < 6; i++ {
			ev := recv(t, s)
			if seq(ev) != i || !ev.Redelivered {
				t.Fatalf("after the drop, event %d: seq %d redelivered %v", i, seq(ev), ev.Redelivered)
			}
			if err := s.Ack(ev); err != nil {
				t.Fatal(err)
			}
		}
		// Acks of the dead connection's deliveries send nothing and say so.
		for _, ev := range old[1:] {
			if err := s.Ack(ev); !errors.Is(err, ivclient.ErrConnectionLost) {
				t.Fatalf("Ack of a delivery of the old connection = %v, want ErrConnectionLost", err)
			}
		}
		// Nothing was fatal: the next event is new, on the same connection.
		lost := logs.count("lost its connection")
		rabbitPublish(t, e.addr, e.topic, evBody(6))
		if ev := recv(t, s); seq(ev) != 6 || ev.Redelivered {
			t.Fatalf("next event %+v", ev)
		} else if err := s.Ack(ev); err != nil {
			t.Fatal(err)
		}
		if n := logs.count("lost its connection"); n != lost {
			t.Fatalf("the durable connection dropped again (%d)", n)
		}
	})
}

func TestDurableNeverAckingGetsPrefetch(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		ctx := ctxT(t, time.Minute)
		trA, trB := dial(t, e.addr), dial(t, e.addr)
		const prefetch, total = 5, 40
		a, err := trA.SubscribeDurable(ctx, e.name, []string{e.topic}, stompx.WithPrefetch(prefetch))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		rabbitPublish(t, e.addr, e.topic, evBodies(0, total)...)
		// A never acks: it holds exactly the prefetch count.
		for i := 0; i < prefetch; i++ {
			recv(t, a)
		}
		// B acks everything: it gets every other event.
		b, err := trB.SubscribeDurable(ctx, e.name, []string{e.topic}, stompx.WithPrefetch(100))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		for i := 0; i < total-prefetch; i++ {
			ev := recv(t, b)
			if err := b.Ack(ev); err != nil {
				t.Fatal(err)
			}
		}
		if d := a.Delivered(); d != prefetch {
			t.Fatalf("the never-acking consumer received %d events, want %d", d, prefetch)
		}
		// Closing A without acking hands its events to B.
		a.Close()
		for i := 0; i < prefetch; i++ {
			ev := recv(t, b)
			if !ev.Redelivered {
				t.Fatalf("event %d not marked redelivered", seq(ev))
			}
			if err := b.Ack(ev); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestDurableMismatchIsolated(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr, stompx.WithMaxBacklog(5))
		p, queue := rabbitPlatform(t, e.addr)
		tr := dial(t, e.addr, stompx.WithRequestQueue(queue))
		ctx := ctxT(t, time.Minute)
		plainTopic := e.topic + ".plain"
		plain, err := tr.Subscribe(ctx, plainTopic)
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close()
		if err := echo(ctx, tr, p.Key(), "before"); err != nil {
			t.Fatal(err)
		}
		good, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, stompx.WithMaxBacklog(5))
		if err != nil {
			t.Fatal(err)
		}
		defer good.Close()
		for _, c := range []struct {
			opts []stompx.DurableOption
			arg  string
		}{
			{[]stompx.DurableOption{stompx.WithMaxBacklog(6)}, "x-max-length"},
			{nil, "x-max-length"},
			{[]stompx.DurableOption{stompx.WithMaxBacklog(5), stompx.WithQuorumQueue()}, "x-queue-type"},
		} {
			_, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, c.opts...)
			if !errors.Is(err, stompx.ErrDurableMismatch) || !strings.Contains(err.Error(), c.arg) {
				t.Fatalf("SubscribeDurable with other arguments = %v, want ErrDurableMismatch naming %s", err, c.arg)
			}
			if err := tr.DeleteDurable(ctx, e.name, c.opts...); !errors.Is(err, stompx.ErrDurableMismatch) {
				t.Fatalf("DeleteDurable with other arguments = %v", err)
			}
		}
		// Calls, the plain subscription and the first durable one carry on.
		if err := echo(ctx, tr, p.Key(), "after"); err != nil {
			t.Fatal(err)
		}
		rabbitPublish(t, e.addr, plainTopic, evBody(1))
		if ev := recv(t, plain); seq(ev) != 1 {
			t.Fatalf("plain %+v", ev)
		}
		rabbitPublish(t, e.addr, e.topic, evBody(2))
		ev := recv(t, good)
		if seq(ev) != 2 || ev.Redelivered {
			t.Fatalf("durable %+v", ev)
		}
		if err := good.Ack(ev); err != nil {
			t.Fatal(err)
		}
		if st := tr.Stats(); st.ConnectionsLost != 0 {
			t.Fatalf("the transport lost its connection: %+v", st)
		}
	})
}

// A refusal is named every time, not only when go-stomp happens to hand
// the ERROR frame over before it sees the connection closed: the broker
// sends ERROR then closes at once, so the reader fails right after reading
// it, while the confirmation SEND may still wait in go-stomp's write
// queue. (Closing the socket on that read failure made go-stomp pick, at
// random, the write first, fail it and drop the ERROR: "connection lost:
// EOF" in one attempt of some tens on ivtest's broker.)
func TestDurableMismatchAlwaysNamed(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr, stompx.WithMaxBacklog(5))
		tr := dial(t, e.addr)
		ctx := ctxT(t, time.Minute)
		good, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, e.opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer good.Close()
		n := 200 // some milliseconds each
		if strings.HasPrefix(t.Name(), "TestDurableMismatchAlwaysNamed/rabbitmq") {
			n = 20 // some tens of milliseconds each
		}
		for i := 0; i < n; i++ {
			_, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, stompx.WithMaxBacklog(6))
			if !errors.Is(err, stompx.ErrDurableMismatch) {
				t.Fatalf("attempt %d: SubscribeDurable with other arguments = %v, want ErrDurableMismatch", i, err)
			}
			if err := tr.DeleteDurable(ctx, e.name); !errors.Is(err, stompx.ErrDurableMismatch) {
				t.Fatalf("attempt %d: DeleteDurable with other arguments = %v, want ErrDurableMismatch", i, err)
			}
		}
	})
}

func TestDurableAckMisuseNeverFatal(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		logs := &logCounter{}
		tr := dial(t, e.addr, stompx.WithLogger(slog.New(logs)))
		ctx := ctxT(t, time.Minute)
		s, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		e2 := newDurableEnv(t, addr)
		other, err := tr.SubscribeDurable(ctx, e2.name, []string{e2.topic})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		plain, err := tr.Subscribe(ctx, e2.topic)
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close()

		rabbitPublish(t, e.addr, e.topic, evBodies(0, 3)...)
		rabbitPublish(t, e.addr, e2.topic, evBody(100))
		evs := []events.Event{recv(t, s), recv(t, s), recv(t, s)}
		theirs := recv(t, other)
		for i := 0; i < 3; i++ {
			if err := s.Ack(evs[0]); err != nil { // twice and more: a no-op
				t.Fatal(err)
			}
		}
		if err := s.Ack(theirs); err == nil { // another subscription's event
			t.Fatal("acked another subscription's event")
		}
		if err := other.Ack(evs[1]); err == nil {
			t.Fatal("acked another subscription's event")
		}
		if err := s.Ack(recv(t, plain)); err == nil { // a plain subscription's event
			t.Fatal("a durable subscription acked a plain one's event")
		}
		if err := plain.Ack(evs[1]); err == nil {
			t.Fatal("a plain subscription acked a durable one's event")
		}
		if err := s.Ack(events.Event{Type: events.Hangup}); err == nil {
			t.Fatal("acked an event nobody delivered")
		}
		for _, ev := range evs[1:] {
			if err := s.Ack(ev); err != nil {
				t.Fatal(err)
			}
			if err := s.Ack(ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := other.Ack(theirs); err != nil {
			t.Fatal(err)
		}
		// Had any ACK been unknown to RabbitMQ, it would have closed a
		// connection, and the unacked events would come back redelivered.
		rabbitPublish(t, e.addr, e.topic, evBody(3))
		rabbitPublish(t, e.addr, e2.topic, evBody(101))
		if ev := recv(t, s); seq(ev) != 3 || ev.Redelivered {
			t.Fatalf("next event %+v", ev)
		}
		if ev := recv(t, other); seq(ev) != 101 || ev.Redelivered {
			t.Fatalf("next event %+v", ev)
		}
		if n := logs.count("lost its connection"); n != 0 {
			t.Fatalf("%d durable connections dropped", n)
		}
		if st := tr.Stats(); st.ConnectionsLost != 0 {
			t.Fatalf("the transport lost its connection: %+v", st)
		}
		// After Close, an Ack sends nothing and fails: the broker took the event back.
		rabbitPublish(t, e.addr, e.topic, evBody(4))
		last := recv(t, s)
		s.Close()
		if err := s.Ack(last); !errors.Is(err, ivclient.ErrClosed) {
			t.Fatalf("Ack after Close = %v", err)
		}
	})
}

func TestDurableDelete(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr, stompx.WithIdleExpiry(time.Hour))
		tr := dial(t, e.addr)
		ctx := ctxT(t, time.Minute)
		// Deleting a queue that does not exist succeeds.
		if err := tr.DeleteDurable(ctx, e.name+".missing"); err != nil {
			t.Fatal(err)
		}
		s, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, e.opts...)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		rabbitPublish(t, e.addr, e.topic, evBodies(0, 3)...)
		watcher, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic + ".other"}, e.opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer watcher.Close()
		if err := tr.DeleteDurable(ctx, e.name, e.opts...); err != nil {
			t.Fatal(err)
		}
		// A consumer of the deleted queue ends (it does not recreate it).
		for range watcher.C() {
		}
		if err := watcher.Err(); !errors.Is(err, ivclient.ErrClosed) {
			t.Fatalf("consumer of a deleted queue: Err = %v", err)
		}
		// A new queue of the name has none of the old events.
		s, err = tr.SubscribeDurable(ctx, e.name, []string{e.topic}, e.opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		rabbitPublish(t, e.addr, e.topic, evBody(9))
		if ev := recv(t, s); seq(ev) != 9 {
			t.Fatalf("an event of the deleted queue survived: %+v", ev)
		}
	})
}

func TestDurableTopicsBindAndInvalid(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		tr := dial(t, e.addr)
		ctx := ctxT(t, time.Minute)
		t2 := e.topic + "2"
		s, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic, t2}, stompx.WithPrefetch(4))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		rabbitPublish(t, e.addr, e.topic, evBody(0))
		rabbitPublish(t, e.addr, t2, evBody(1))
		got := map[int]string{}
		for i := 0; i < 2; i++ {
			ev := recv(t, s)
			got[seq(ev)] = ev.Topic
			if err := s.Ack(ev); err != nil {
				t.Fatal(err)
			}
		}
		if got[0] != e.topic || got[1] != t2 {
			t.Fatalf("events by topic %v", got)
		}
		for _, name := range []string{"", "a/b", "x y", strings.Repeat("n", 65), "q\n"} {
			if _, err := tr.SubscribeDurable(ctx, name, []string{e.topic}); !errors.Is(err, ivclient.ErrInvalidArgument) ||
				!strings.HasPrefix(err.Error(), "stompx: SubscribeDurable: invalid argument: name ") {
				t.Fatalf("name %q: %v", name, err)
			}
		}
		for _, opt := range []stompx.DurableOption{stompx.WithPrefetch(0), stompx.WithPrefetch(70000), stompx.WithMaxBacklog(0),
			stompx.WithBacklogTTL(0), stompx.WithIdleExpiry(time.Microsecond), nil} {
			if _, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, opt); !errors.Is(err, ivclient.ErrInvalidArgument) {
				t.Fatalf("option: %v", err)
			}
		}
		if _, err := tr.SubscribeDurable(ctx, e.name, []string{"/queue/config"}); !errors.Is(err, ivclient.ErrInvalidArgument) {
			t.Fatalf("queue as topic: %v", err)
		}
	})
}

func TestDurableNotSupportedOnUnknownBroker(t *testing.T) {
	b := newTestBroker(t) // go-stomp's server: "stompd/..."
	tr := dial(t, b.addr)
	ctx := ctxT(t, 10*time.Second)
	if _, err := tr.SubscribeDurable(ctx, "workers", []string{events.AllAgents}); !errors.Is(err, ivclient.ErrNotSupported) {
		t.Fatalf("SubscribeDurable = %v, want ErrNotSupported", err)
	}
	if err := tr.DeleteDurable(ctx, "workers"); !errors.Is(err, ivclient.ErrNotSupported) ||
		!strings.HasPrefix(err.Error(), "stompx: DeleteDurable: not supported by this transport: ") {
		t.Fatalf("DeleteDurable = %v, want ErrNotSupported", err)
	}
	// The transport is unharmed.
	if err := echo(ctx, tr, testKey, "still"); err != nil {
		t.Fatal(err)
	}
}

func TestDurableEndsWithTransport(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		tr, err := stompx.Dial(ctxT(t, 10*time.Second), e.addr)
		if err != nil {
			t.Fatal(err)
		}
		s, err := tr.SubscribeDurable(ctxT(t, 10*time.Second), e.name, []string{e.topic})
		if err != nil {
			t.Fatal(err)
		}
		rabbitPublish(t, e.addr, e.topic, evBody(0))
		ev := recv(t, s)
		tr.Close()
		for range s.C() {
		}
		if !errors.Is(s.Err(), ivclient.ErrClosed) {
			t.Fatalf("Err after the transport closed = %v", s.Err())
		}
		if err := s.Ack(ev); err == nil {
			t.Fatal("Ack after the transport closed succeeded")
		}
		if _, err := tr.SubscribeDurable(ctxT(t, 10*time.Second), e.name, []string{e.topic}); !errors.Is(err, ivclient.ErrClosed) {
			t.Fatalf("SubscribeDurable after Close = %v", err)
		}
	})
}

func TestDurableWithoutReconnectEnds(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		p := newProxy(t, e.addr)
		tr := dial(t, p.addr(), stompx.WithoutReconnect())
		s, err := tr.SubscribeDurable(ctxT(t, 10*time.Second), e.name, []string{e.topic})
		if err != nil {
			t.Fatal(err)
		}
		p.kill()
		for range s.C() {
		}
		if !errors.Is(s.Err(), ivclient.ErrConnectionLost) {
			t.Fatalf("Err = %v, want ErrConnectionLost", s.Err())
		}
	})
}

func TestDurableMaxBacklogDropsOldest(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr, stompx.WithMaxBacklog(3))
		tr := dial(t, e.addr)
		ctx := ctxT(t, 30*time.Second)
		e.leave(ctx, t, tr)
		rabbitPublish(t, e.addr, e.topic, evBodies(0, 5)...)
		s := e.subscribe(ctx, t, tr)
		for want := 2; want < 5; want++ {
			ev := recv(t, s)
			if seq(ev) != want {
				t.Fatalf("got event %d, want %d (the oldest dropped)", seq(ev), want)
			}
			if err := s.Ack(ev); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// Events that waited longer than WithBacklogTTL are dropped by the broker,
// never delivered; a fresh one published after them arrives first.
func TestDurableBacklogTTLDrops(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		const ttl = 200 * time.Millisecond
		e := newDurableEnv(t, addr, stompx.WithBacklogTTL(ttl))
		tr := dial(t, e.addr)
		ctx := ctxT(t, 30*time.Second)
		e.leave(ctx, t, tr)
		rabbitPublish(t, e.addr, e.topic, evBodies(0, 3)...)
		time.Sleep(3 * ttl) // they wait past their TTL
		s := e.subscribe(ctx, t, tr)
		rabbitPublish(t, e.addr, e.topic, evBody(3))
		if ev := recv(t, s); seq(ev) != 3 {
			t.Fatalf("got event %d, want 3: the three that outlived the TTL were delivered", seq(ev))
		}
	})
}

// A queue with WithIdleExpiry is deleted by the broker once it has had no
// consumer that long, with its events and its bindings: seen as the
// disappearance of the queue's arguments (a subscription with other ones
// stops failing with ErrDurableMismatch), after which what was waiting is
// gone.
func TestDurableIdleExpiryDeletes(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		idle := stompx.WithIdleExpiry(300 * time.Millisecond)
		e := newDurableEnv(t, addr, idle)
		tr := dial(t, e.addr)
		ctx := ctxT(t, 60*time.Second)
		e.leave(ctx, t, tr)
		rabbitPublish(t, e.addr, e.topic, evBodies(0, 3)...)
		// Until the broker deletes the queue, other arguments are refused.
		e.opts = []stompx.DurableOption{idle, stompx.WithMaxBacklog(1000)} // also what the cleanup deletes
		var s *events.Subscription
		for s == nil {
			var err error
			s, err = tr.SubscribeDurable(ctx, e.name, []string{e.topic}, e.opts...)
			if err == nil {
				break
			}
			if !errors.Is(err, stompx.ErrDurableMismatch) {
				t.Fatal(err)
			}
			select {
			case <-ctx.Done():
				t.Fatal("the idle queue was never deleted")
			case <-time.After(100 * time.Millisecond):
			}
		}
		defer s.Close()
		rabbitPublish(t, e.addr, e.topic, evBody(3))
		if ev := recv(t, s); seq(ev) != 3 {
			t.Fatalf("got event %d, want 3: the deleted queue's events came back", seq(ev))
		}
	})
}

func TestDurableQuorumQueue(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr, stompx.WithQuorumQueue(), stompx.WithBacklogTTL(time.Hour), stompx.WithIdleExpiry(time.Hour))
		tr := dial(t, e.addr)
		ctx := ctxT(t, 30*time.Second)
		s, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, e.opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		rabbitPublish(t, e.addr, e.topic, evBodies(0, 3)...)
		for i := 0; i < 3; i++ {
			ev := recv(t, s)
			if seq(ev) != i {
				t.Fatalf("event %d: %+v", i, ev)
			}
			if err := s.Ack(ev); err != nil {
				t.Fatal(err)
			}
		}
		// A classic queue of the same name is another queue: a mismatch.
		if _, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, stompx.WithBacklogTTL(time.Hour), stompx.WithIdleExpiry(time.Hour)); !errors.Is(err, stompx.ErrDurableMismatch) {
			t.Fatalf("classic over quorum = %v", err)
		}
	})
}

func TestDurableRunAcks(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		tr := dial(t, e.addr)
		ctx := ctxT(t, 30*time.Second)
		s, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, stompx.WithPrefetch(4))
		if err != nil {
			t.Fatal(err)
		}
		const n = 20
		rabbitPublish(t, e.addr, e.topic, evBodies(0, n)...)
		var taken atomic.Int32
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- events.Run(runCtx, s, events.SinkFunc(func(ev events.Event) {
				if taken.Add(1) == n {
					stop()
				}
			}))
		}()
		<-done
		if taken.Load() != n { // prefetch 4: 20 events only if Run acked them
			t.Fatalf("sinks took %d events", taken.Load())
		}
		s.Close()
		s, err = tr.SubscribeDurable(ctx, e.name, []string{e.topic}, stompx.WithPrefetch(4))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		rabbitPublish(t, e.addr, e.topic, evBody(n))
		if ev := recv(t, s); seq(ev) != n || ev.Redelivered {
			t.Fatalf("an event Run took came back: %+v", ev)
		}
	})
}

// A body that is not an event is counted, in the subscription and in the
// transport's Stats, and settled so that it never comes back; the events
// around it arrive.
func TestDurableMalformedCounted(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		tr := dial(t, e.addr)
		ctx := ctxT(t, 30*time.Second)
		s, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic}, stompx.WithPrefetch(2))
		if err != nil {
			t.Fatal(err)
		}
		rabbitPublish(t, e.addr, e.topic, evBody(0), []byte(`not an event`), []byte(`[1,2]`), evBody(1))
		for i := 0; i < 2; i++ {
			ev := recv(t, s)
			if seq(ev) != i {
				t.Fatalf("event %d: %+v", i, ev)
			}
			if err := s.Ack(ev); err != nil {
				t.Fatal(err)
			}
		}
		if s.Malformed() != 2 || tr.Stats().EventsMalformed != 2 || tr.Stats().EventsDropped != 0 {
			t.Fatalf("subscription counted %d malformed; Stats %+v", s.Malformed(), tr.Stats())
		}
		s.Close()
		// Nothing is left in the queue: the malformed bodies were settled.
		s, err = tr.SubscribeDurable(ctx, e.name, []string{e.topic}, stompx.WithPrefetch(2))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		rabbitPublish(t, e.addr, e.topic, evBody(2))
		if ev := recv(t, s); seq(ev) != 2 || ev.Redelivered {
			t.Fatalf("after the malformed bodies: %+v", ev)
		}
	})
}

// The broker's ERROR decides the fate of a durable subscription even when
// go-stomp does not hand the frame on. go-stomp loses one when a write
// fails on the socket the broker is closing (its I/O goroutine then ends
// before it takes the frame read); here the ERROR has a header line
// without a colon, which go-stomp refuses as "invalid frame format",
// so that it is lost every time. A cancelled subscription (its queue was
// deleted) must end the subscription: reconnecting would declare the
// deleted queue again and keep it, bound and filling, for nobody.
func TestDurableErrorLostByGoStompStillDecides(t *testing.T) {
	p := ivtest.NewPlatform(t)
	px := newProxy(t, p.STOMPAddr())
	tr := dial(t, px.addr(), stompx.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
	ctx := ctxT(t, 30*time.Second)
	e := newDurableEnv(t, p.STOMPAddr())
	s, err := tr.SubscribeDurable(ctx, e.name, []string{e.topic})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	px.inject([]byte("ERROR\nmessage:Server cancelled subscription\nno colon here\n\nQueue 'x' in vhost '/' has canceled a subscription\x00"))
	select {
	case _, ok := <-s.C():
		if ok {
			t.Fatal("an event arrived")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the subscription went on (reconnected) after the broker cancelled it")
	}
	if !errors.Is(s.Err(), ivclient.ErrClosed) {
		t.Fatalf("Err = %v, want the cancellation (ivclient.ErrClosed)", s.Err())
	}
}

// A subscription to many topics binds them on the binder, whose SUBSCRIBEs
// go out one after the other: the broker's refusal of the first (other
// queue arguments) is named, and leaves none of the others behind in
// go-stomp (a SUBSCRIBE still in its write queue when the connection ends
// is never ended: its reader goroutine would wait for ever).
func TestDurableMismatchManyTopics(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr, stompx.WithMaxBacklog(5))
		tr := dial(t, e.addr)
		ctx := ctxT(t, time.Minute)
		topics := make([]string, 40)
		for i := range topics {
			topics[i] = fmt.Sprintf("%s.%d", e.topic, i)
		}
		good, err := tr.SubscribeDurable(ctx, e.name, topics, e.opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer good.Close()
		before := stompReaders()
		for i := 0; i < 5; i++ {
			_, err := tr.SubscribeDurable(ctx, e.name, topics, stompx.WithMaxBacklog(6))
			if !errors.Is(err, stompx.ErrDurableMismatch) || !strings.Contains(err.Error(), "x-max-length") {
				t.Fatalf("attempt %d: SubscribeDurable with other arguments = %v, want ErrDurableMismatch naming x-max-length", i, err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for n := stompReaders(); n > before; n = stompReaders() {
			if time.Now().After(deadline) {
				t.Fatalf("%d go-stomp subscription readers left, %d before the refused calls", n, before)
			}
			time.Sleep(20 * time.Millisecond)
		}
		rabbitPublish(t, e.addr, topics[len(topics)-1], evBody(1))
		ev := recv(t, good)
		if seq(ev) != 1 {
			t.Fatalf("durable %+v", ev)
		}
		if err := good.Ack(ev); err != nil {
			t.Fatal(err)
		}
	})
}

// stompReaders counts go-stomp's subscription reader goroutines.
func stompReaders() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("stomp/v3.(*Subscription).readLoop("))
}
