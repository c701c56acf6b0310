package stompx_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// serveConnect answers the CONNECT of a hand-written broker's connection;
// false when the connection failed first.
func serveConnect(r *frame.Reader, w *frame.Writer, headers ...string) bool {
	for {
		f, err := r.Read()
		if err != nil {
			return false
		}
		if f == nil {
			continue
		}
		h := append([]string{frame.Version, "1.2", frame.HeartBeat, "0,0"}, headers...)
		return w.Write(frame.New(frame.CONNECTED, h...)) == nil
	}
}

// The broker drops the sub connection while the pub connection is still
// being dialed: the end of the sub connection must not race with the
// session taking its connections (run with -race), and Dial fails with a
// lost connection.
func TestSessionSubDropsWhilePubDials(t *testing.T) {
	var n atomic.Int32
	f := startTCPFake(t, func(c net.Conn) {
		i := n.Add(1)
		r, w := frame.NewReader(c), frame.NewWriter(c)
		if _, err := r.Read(); err != nil {
			return
		}
		if i%2 == 0 {
			time.Sleep(150 * time.Millisecond) // the pub connection's CONNECTED comes late
		}
		_ = w.Write(frame.New(frame.CONNECTED, frame.Version, "1.2", frame.HeartBeat, "0,0"))
		if i%2 == 1 {
			time.Sleep(20 * time.Millisecond)
			return // the sub connection drops
		}
		_, _ = io.Copy(io.Discard, c)
	})
	for k := 0; k < 3; k++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		tr, err := stompx.Dial(ctx, f.addr(), stompx.WithHeartBeat(0, 0))
		cancel()
		if err == nil {
			tr.Close()
			t.Fatal("Dial succeeded on a broker that dropped the connection")
		}
		if !errors.Is(err, ivclient.ErrConnectionLost) {
			t.Fatalf("Dial: %v, want an error wrapping ErrConnectionLost", err)
		}
	}
}

// The broker confirms the restore, then drops the connection at once, for
// ever: a session can end between its restore and becoming current. It
// must never become current once ended (which closed the ready channel
// twice: a panic), and Close must return.
func TestSessionLostRightAfterRestore(t *testing.T) {
	var conns atomic.Int32
	f := startTCPFake(t, func(c net.Conn) {
		conns.Add(1)
		r, w := frame.NewReader(c), frame.NewWriter(c)
		if !serveConnect(r, w) {
			return
		}
		routes := connRoutes{}
		for {
			fr, err := r.Read()
			if err != nil || (fr != nil && fr.Command == frame.DISCONNECT) {
				return
			}
			if fr == nil {
				continue
			}
			if routes.handle(w, fr) != nil {
				return
			}
			if fr.Command == frame.SEND {
				if id, ok := fr.Header.Contains(frame.Receipt); ok {
					_ = w.Write(frame.New(frame.RECEIPT, frame.ReceiptId, id))
				}
				return // drop right after confirming
			}
		}
	})
	var states stateLog
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tr, err := stompx.Dial(ctx, f.addr(), stompx.WithHeartBeat(0, 0), stompx.WithStateHandler(states.add),
		stompx.WithReconnectBackoff(time.Millisecond, 2*time.Millisecond), stompx.WithRetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	for conns.Load() < 400 {
		time.Sleep(10 * time.Millisecond)
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = tr.Call(cctx, &ivclient.Request{Method: "Echo", Key: "k1"}, nil)
	ccancel()
	if err == nil {
		t.Fatal("a call succeeded on a broker that answers nothing")
	}
	tr.Close()
	if got := tr.State(); got != stompx.Closed {
		t.Fatalf("state after Close: %v", got)
	}
	t.Logf("connections: %d, stats %+v", conns.Load(), tr.Stats())
}

// A broker that refuses a SUBSCRIBE with an ERROR frame and closes the
// connection: Subscribe's error carries the broker's message, not the EOF
// that followed it.
func TestSubscribeRefusedCarriesBrokerMessage(t *testing.T) {
	b := newFakeBroker(t, fakeConfig{onFrame: func(c net.Conn, f *frame.Frame) {
		if f.Command == frame.SUBSCRIBE && f.Header.Get(frame.Destination) == "/topic/forbidden" {
			e := frame.New(frame.ERROR, frame.Message, "access_refused")
			e.Body = []byte("access to topic 'forbidden' refused for user 'instantvoice'")
			_ = frame.NewWriter(c).Write(e)
			_ = c.Close()
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := stompx.Dial(ctx, b.addr(), stompx.WithHeartBeat(0, 0), stompx.WithoutReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	sub, err := tr.Subscribe(ctx, "/topic/forbidden")
	if err == nil {
		sub.Close()
		t.Fatal("Subscribe succeeded on a refused topic")
	}
	if !errors.Is(err, ivclient.ErrConnectionLost) || !strings.Contains(err.Error(), "access to topic 'forbidden' refused") {
		t.Fatalf("Subscribe: %v, want ErrConnectionLost with the broker's message", err)
	}
}

// The broker refuses a SUBSCRIBE with an ERROR frame (keeping the
// connection open) while the confirmation that follows it still waits to
// be written: a confirmation by RECEIPT deadlocked in go-stomp there (its
// Send holds the connection's lock, which the I/O goroutine needs to
// handle the ERROR), about one run in two. Subscribe must fail with the
// broker's message, and Close must return, every time.
func TestSubscribeRefusedWhileConfirming(t *testing.T) {
	var mu sync.Mutex
	var stalled []net.Conn
	f := startTCPFake(t, func(c net.Conn) {
		r, w := frame.NewReader(c), frame.NewWriter(c)
		if !serveConnect(r, w) {
			return
		}
		routes := connRoutes{}
		for {
			fr, err := r.Read()
			if err != nil {
				return
			}
			if fr == nil {
				continue
			}
			if fr.Command == frame.DISCONNECT {
				_ = w.Write(frame.New(frame.RECEIPT, frame.ReceiptId, fr.Header.Get(frame.Receipt)))
				continue
			}
			if routes.handle(w, fr) != nil {
				return
			}
			if id, ok := fr.Header.Contains(frame.Receipt); ok {
				_ = w.Write(frame.New(frame.RECEIPT, frame.ReceiptId, id))
			}
			if fr.Command == frame.SEND {
				// The connection is confirmed; Subscribe's SUBSCRIBE comes
				// next. Stop reading, so that the client's I/O goroutine is
				// still writing it, with the confirmation queued behind,
				// when the ERROR arrives; then read again.
				mu.Lock()
				stalled = append(stalled, c)
				mu.Unlock()
				time.Sleep(200 * time.Millisecond)
				e := frame.New(frame.ERROR, frame.Message, "access_refused")
				e.Body = []byte("big topics refused")
				_ = w.Write(e)
				time.Sleep(100 * time.Millisecond)
				_, _ = io.Copy(io.Discard, c)
				return
			}
		}
	})
	// A frame too large for the socket buffers.
	big := "/topic/big" + strings.Repeat("x", 8<<20)
	for round := 0; round < 6; round++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		tr, err := stompx.Dial(ctx, f.addr(), stompx.WithHeartBeat(0, 0), stompx.WithoutReconnect())
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		sub, err := tr.Subscribe(ctx, big)
		cancel()
		if err == nil {
			sub.Close()
			t.Fatal("Subscribe succeeded on a refused topic")
		}
		if !strings.Contains(err.Error(), "big topics refused") {
			t.Errorf("round %d: Subscribe: %.200v, want the broker's message", round, err)
		}
		closed := make(chan struct{})
		go func() { tr.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(20 * time.Second):
			mu.Lock()
			for _, c := range stalled {
				_ = c.Close()
			}
			mu.Unlock()
			t.Fatalf("round %d: Close hung: the transport is stuck in go-stomp", round)
		}
	}
}

// With one connection (WithOneConnection) the session's pub and sub are
// the same: Close sends one DISCONNECT.
func TestOneConnectionClosesOnce(t *testing.T) {
	var disconnects atomic.Int32
	b := newFakeBroker(t, fakeConfig{onFrame: func(c net.Conn, f *frame.Frame) {
		if f.Command == frame.DISCONNECT {
			disconnects.Add(1)
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := stompx.Dial(ctx, b.addr(), stompx.WithHeartBeat(0, 0), stompx.WithOneConnection())
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if n := disconnects.Load(); n != 1 {
		t.Fatalf("%d DISCONNECTs, want 1", n)
	}
}

// Close while DeleteDurable waits for a broker that does not answer: the
// deletion ends with the transport (an error wrapping ErrClosed), not at
// its connect timeout, and Close does not wait for that.
func TestCloseDuringDeleteDurable(t *testing.T) {
	stall := make(chan struct{})
	seen := make(chan struct{}, 1)
	b := newFakeBroker(t, fakeConfig{server: "RabbitMQ/3.10.0", onFrame: func(c net.Conn, f *frame.Frame) {
		if f.Command == frame.SUBSCRIBE && f.Header.Get("x-queue-name") != "" {
			select {
			case seen <- struct{}{}:
			default:
			}
			<-stall // the broker never answers
		}
	}})
	t.Cleanup(func() { close(stall) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := stompx.Dial(ctx, b.addr(), stompx.WithHeartBeat(0, 0), stompx.WithConnectTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- tr.DeleteDurable(context.Background(), "close-during-delete") }()
	select {
	case <-seen:
	case err := <-errc:
		tr.Close()
		t.Fatalf("DeleteDurable returned before the broker stalled: %v", err)
	case <-ctx.Done():
		tr.Close()
		t.Fatal("DeleteDurable never subscribed")
	}
	tr.Close()
	if err := <-errc; !errors.Is(err, ivclient.ErrClosed) {
		t.Fatalf("DeleteDurable after Close: %v, want an error wrapping ErrClosed", err)
	}
}
