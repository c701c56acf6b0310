package stompx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// Reject moves an event to the name's dead letters with its cause; they
// are listed (and stay), replayed to the name's queue (delivered again),
// purged (counted); DeleteDurable deletes them with the queue.
func TestDurableDeadLetters(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		tr := dial(t, addr)
		ctx := ctxT(t, time.Minute)
		s := e.subscribe(ctx, t, tr)
		rabbitPublish(t, addr, e.topic, evBodies(0, 4)...)
		for i := 0; i < 4; i++ {
			ev := recv(t, s)
			if seq(ev) != i {
				t.Fatalf("event %d is %d", i, seq(ev))
			}
			var err error
			if i%2 == 1 {
				err = s.Reject(ev, errors.New("poison "+string(rune('a'+i))))
			} else {
				err = s.Ack(ev)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		before := time.Now()
		for round := 0; round < 2; round++ { // listing leaves them in place
			dl, err := tr.DeadLetters(ctx, e.name, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(dl) != 2 || seq(dl[0].Event) != 1 || seq(dl[1].Event) != 3 ||
				dl[0].Cause != "poison b" || dl[1].Cause != "poison d" || dl[0].Event.Topic != e.topic ||
				dl[0].At.IsZero() || dl[0].At.After(before) {
				t.Fatalf("round %d: dead letters %+v", round, dl)
			}
		}
		if dl, err := tr.DeadLetters(ctx, e.name, 1); err != nil || len(dl) != 1 || seq(dl[0].Event) != 1 {
			t.Fatalf("DeadLetters(1) = %+v, %v", dl, err)
		}
		n, err := tr.ReplayDeadLetters(ctx, e.name, 1)
		if err != nil || n != 1 {
			t.Fatalf("ReplayDeadLetters = %d, %v", n, err)
		}
		ev := recv(t, s)
		if seq(ev) != 1 {
			t.Fatalf("replayed %+v", ev)
		}
		if err := s.Ack(ev); err != nil {
			t.Fatal(err)
		}
		if dl, err := tr.DeadLetters(ctx, e.name, 10); err != nil || len(dl) != 1 || seq(dl[0].Event) != 3 {
			t.Fatalf("after the replay: %+v, %v", dl, err)
		}
		if n, err := tr.PurgeDeadLetters(ctx, e.name); err != nil || n != 1 {
			t.Fatalf("PurgeDeadLetters = %d, %v", n, err)
		}
		if dl, err := tr.DeadLetters(ctx, e.name, 10); err != nil || len(dl) != 0 {
			t.Fatalf("after the purge: %+v, %v", dl, err)
		}
		// Rejected again, then the name deleted: no dead letter is left.
		rabbitPublish(t, addr, e.topic, evBody(9))
		if err := s.Reject(recv(t, s), errors.New("again")); err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
		if err := tr.DeleteDurable(ctx, e.name, e.opts...); err != nil {
			t.Fatal(err)
		}
		if dl, err := tr.DeadLetters(ctx, e.name, 10); err != nil || len(dl) != 0 {
			t.Fatalf("after DeleteDurable: %+v, %v", dl, err)
		}
	})
}

// The dead-letter calls check their arguments before anything is sent.
func TestDeadLetterArguments(t *testing.T) {
	tr := dial(t, newTestBroker(t).addr)
	ctx := ctxT(t, 10*time.Second)
	if _, err := tr.DeadLetters(ctx, "ok", 0); !errors.Is(err, ivclient.ErrInvalidArgument) {
		t.Errorf("max 0: %v", err)
	}
	if _, err := tr.ReplayDeadLetters(ctx, "bad name!", 1); !errors.Is(err, ivclient.ErrInvalidArgument) {
		t.Errorf("bad name: %v", err)
	}
	if _, err := tr.PurgeDeadLetters(ctx, "ok"); !errors.Is(err, ivclient.ErrNotSupported) {
		t.Errorf("on a broker without durable queues: %v", err)
	}
	var _ stompx.DeadLetter
}

// DeleteDurable settles nothing it receives while deleting: a malformed
// dead letter (a body that is no event) is neither dead-lettered again
// nor acked, whose ACK, racing the UNSUBSCRIBE that deletes the queue,
// the broker refuses with an ERROR ("Subscription not found") that failed
// the deletion. Several rounds, since the race is a matter of timing.
func TestDeleteDurableMalformedDeadLetters(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		tr := dial(t, addr)
		ctx := ctxT(t, time.Minute)
		for round := 0; round < 5; round++ {
			s := e.subscribe(ctx, t, tr)
			rabbitPublish(t, addr, e.topic, []byte(`not an event`), []byte(`[1,2]`), evBody(round))
			if ev := recv(t, s); seq(ev) != round {
				t.Fatalf("round %d: %+v", round, ev)
			}
			_ = s.Close()
			if dl, err := tr.DeadLetters(ctx, e.name, 10); err != nil || len(dl) != 2 {
				t.Fatalf("round %d: dead letters %+v, %v", round, dl, err)
			}
			if err := tr.DeleteDurable(ctx, e.name, e.opts...); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if dl, err := tr.DeadLetters(ctx, e.name, 10); err != nil || len(dl) != 0 {
				t.Fatalf("round %d: after DeleteDurable: %+v, %v", round, dl, err)
			}
		}
	})
}

// Close does not wait for a dead-letter read in progress: the read's
// connection goes with the transport, and the read fails with an error
// wrapping ivclient.ErrClosed. The broker answers the read's CONNECT, then
// nothing (its SUBSCRIBE is never confirmed).
func TestDeadLettersCloseDuringRead(t *testing.T) {
	p := ivtest.NewPlatform(t)
	px := newProxy(t, p.STOMPAddr())
	tr := dial(t, px.addr())
	ctx := ctxT(t, time.Minute)
	n := px.conns() // the transport's
	px.muteNew.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := tr.DeadLetters(ctx, "stompxtest."+randName(""), 10)
		done <- err
	}()
	for px.conns() <= n { // the read's
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the read waits for its SUBSCRIBE's confirmation
	closed := make(chan struct{})
	go func() { _ = tr.Close(); close(closed) }()
	select {
	case err := <-done:
		if !errors.Is(err, ivclient.ErrClosed) {
			t.Fatalf("DeadLetters = %v, want ivclient.ErrClosed", err)
		}
	case <-ctx.Done():
		t.Fatal("DeadLetters went on after Close")
	}
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("Close waited for the read")
	}
}

// deadSend puts bodies in name's dead letters as Reject does, plus what
// extra headers say, on a connection of the test's.
func deadSend(t *testing.T, addr, name string, headers []string, bodies ...[]byte) {
	t.Helper()
	c, nc := dialRaw(t, addr)
	defer nc.Close()
	for i, b := range bodies {
		opts := []func(*frame.Frame) error{stomp.SendOpt.Header("x-iv-cause", "test")}
		if i == len(bodies)-1 { // the broker handles a connection's SENDs in order
			opts = append(opts, stomp.SendOpt.Receipt)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			opts = append(opts, stomp.SendOpt.Header(headers[i], headers[i+1]))
		}
		if err := c.Send("/queue/iv.dead."+name, "", b, opts...); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Disconnect()
}

// ReplayDeadLetters to a name whose queue does not exist moves nothing
// (a broker drops a SEND to a missing queue): it fails with
// ErrDurableNotFound and keeps the dead letters; once the queue is made,
// the same call moves them, in order.
func TestReplayDeadLettersMissingQueue(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		tr := dial(t, addr)
		ctx := ctxT(t, time.Minute)
		deadSend(t, addr, e.name, nil, evBodies(0, 3)...)
		n, err := tr.ReplayDeadLetters(ctx, e.name, 10)
		if n != 0 || !errors.Is(err, stompx.ErrDurableNotFound) ||
			!strings.Contains(err.Error(), "SubscribeDurable") || !strings.Contains(err.Error(), "iv.events."+e.name) {
			t.Fatalf("ReplayDeadLetters to a missing queue = %d, %v", n, err)
		}
		if dl, err := tr.DeadLetters(ctx, e.name, 10); err != nil || len(dl) != 3 {
			t.Fatalf("after the refused replay: %d dead letters, %v", len(dl), err)
		}
		e.leave(ctx, t, tr)
		if n, err := tr.ReplayDeadLetters(ctx, e.name, 10); n != 3 || err != nil {
			t.Fatalf("ReplayDeadLetters = %d, %v", n, err)
		}
		if dl, err := tr.DeadLetters(ctx, e.name, 10); err != nil || len(dl) != 0 {
			t.Fatalf("after the replay: %d dead letters, %v", len(dl), err)
		}
		// Persistent, as the dead letters were (a broker restart keeps
		// them), and never taken by the check that the queue exists.
		c, nc := dialRaw(t, addr)
		defer nc.Close()
		rs, err := c.Subscribe("/amq/queue/iv.events."+e.name, stomp.AckAuto)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			var m *stomp.Message
			select {
			case m = <-rs.C:
			case <-ctx.Done():
				t.Fatal("no replayed event")
			}
			if m.Err != nil || !strings.Contains(string(m.Body), fmt.Sprintf(`1700000000.%d"`, i)) || m.Header.Get("persistent") != "true" ||
				m.Header.Get("redelivered") == "true" { // the queue's check took none of them

				t.Fatalf("replayed event %d: %v %q %v", i, m.Err, m.Body, m.Header)
			}
		}
		_ = c.Disconnect()
	})
}

// The dead-letter operations read up to an end marker of their own: every
// letter is listed, however many; a marker left by an earlier operation
// (stopped at max, or killed) is removed, never listed nor counted.
func TestDeadLettersEndMarker(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		tr := dial(t, addr)
		ctx := ctxT(t, time.Minute)
		const n = 1500
		deadSend(t, addr, e.name, []string{"x-iv-end", "left-by-a-killed-reader"}, nil)
		deadSend(t, addr, e.name, nil, evBodies(0, n)...)
		for round := 0; round < 2; round++ {
			dl, err := tr.DeadLetters(ctx, e.name, 65534)
			if err != nil || len(dl) != n {
				t.Fatalf("round %d: %d dead letters, %v", round, len(dl), err)
			}
			for i, d := range dl {
				if seq(d.Event) != i || d.Cause != "test" {
					t.Fatalf("round %d: letter %d is %+v", round, i, d)
				}
			}
			// Stops at max, before its marker: the marker stays behind.
			if dl, err := tr.DeadLetters(ctx, e.name, 10); err != nil || len(dl) != 10 || seq(dl[9].Event) != 9 {
				t.Fatalf("round %d: DeadLetters(10) = %d, %v", round, len(dl), err)
			}
		}
		if got, err := tr.PurgeDeadLetters(ctx, e.name); got != n || err != nil {
			t.Fatalf("PurgeDeadLetters = %d, %v", got, err)
		}
		if got, err := tr.PurgeDeadLetters(ctx, e.name); got != 0 || err != nil {
			t.Fatalf("PurgeDeadLetters again = %d, %v", got, err)
		}
	})
}

// Operations on a name's dead letters run one at a time, in any process:
// one waits, within its context, while another holds the name's
// dead-letter lock, and goes on once it is released.
func TestDeadLettersWaitForLock(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		tr := dial(t, addr)
		ctx := ctxT(t, time.Minute)
		deadSend(t, addr, e.name, nil, evBodies(0, 2)...)
		c, nc := dialRaw(t, addr)
		defer nc.Close()
		q := "iv.dead-lock." + e.name
		lock, err := c.Subscribe("/topic/"+q, stomp.AckAuto, stomp.SubscribeOpt.Header("exclusive", "true"),
			stomp.SubscribeOpt.Header("durable", "false"), stomp.SubscribeOpt.Header("auto-delete", "true"),
			stomp.SubscribeOpt.Header("x-queue-name", q))
		if err != nil {
			t.Fatal(err)
		}
		// The lock is held once a message sent after the SUBSCRIBE, on the
		// same connection, comes back through it (frames are taken in order).
		if err := c.Send("/topic/"+q, "text/plain", []byte("held")); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-lock.C:
			if m == nil || m.Err != nil || string(m.Body) != "held" {
				t.Fatalf("the lock's subscription: %v", m)
			}
		case <-ctx.Done():
			t.Fatal("the lock's SUBSCRIBE was not taken")
		}
		// Long enough for the connect on a loaded machine: the wait for the
		// lock is what must use it up.
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if dl, err := tr.PurgeDeadLetters(short, e.name); dl != 0 || !errors.Is(err, context.DeadlineExceeded) ||
			!strings.Contains(err.Error(), "another operation on the dead letters") {
			t.Fatalf("PurgeDeadLetters while locked = %d, %v", dl, err)
		}
		done := make(chan error, 1)
		go func() {
			dl, err := tr.DeadLetters(ctx, e.name, 10)
			if err == nil && len(dl) != 2 {
				err = fmt.Errorf("%d dead letters", len(dl))
			}
			done <- err
		}()
		_ = nc.Close() // the broker drops the lock with its connection
		if err := <-done; err != nil {
			t.Fatalf("DeadLetters once the lock is free: %v", err)
		}
	})
}

// DeadLetters holds what it lists: max is at most 65,534.
func TestDeadLettersMax(t *testing.T) {
	tr := dial(t, newTestBroker(t).addr)
	ctx := ctxT(t, 10*time.Second)
	for _, max := range []int{-1, 0, 65535} {
		if _, err := tr.DeadLetters(ctx, "ok", max); !errors.Is(err, ivclient.ErrInvalidArgument) || !strings.Contains(err.Error(), "max must be 1..65534") {
			t.Errorf("DeadLetters(%d): %v", max, err)
		}
	}
	if _, err := tr.ReplayDeadLetters(ctx, "ok", 0); !errors.Is(err, ivclient.ErrInvalidArgument) {
		t.Errorf("ReplayDeadLetters(0): %v", err)
	}
}

// On a slow link (each chunk from the broker, 2 KiB at most, late by more
// than the quiet time an earlier reading took for the end) every dead
// letter is listed: the reading ends at its end marker, not when nothing
// came for a moment.
func TestDeadLettersSlowLink(t *testing.T) {
	forDurableBrokers(t, func(t *testing.T, addr string) {
		e := newDurableEnv(t, addr)
		const n = 40
		deadSend(t, addr, e.name, nil, evBodies(0, n)...)
		px := newProxy(t, addr)
		tr := dial(t, px.addr())
		ctx := ctxT(t, time.Minute)
		px.lag.Store(int64(350 * time.Millisecond))
		dl, err := tr.DeadLetters(ctx, e.name, 100)
		if err != nil || len(dl) != n {
			t.Fatalf("DeadLetters on a slow link: %d, %v", len(dl), err)
		}
		px.lag.Store(0)
		if got, err := tr.PurgeDeadLetters(ctx, e.name); got != n || err != nil {
			t.Fatalf("PurgeDeadLetters = %d, %v", got, err)
		}
	})
}
