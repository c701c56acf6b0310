package stompx_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// signalHandler is a slog handler that closes seen at the first record
// whose message contains want.
type signalHandler struct {
	want string
	seen chan struct{}
	once *sync.Once
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h signalHandler) WithGroup(string) slog.Handler            { return h }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.want) {
		h.once.Do(func() { close(h.seen) })
	}
	return nil
}

// Close waits for go-stomp's goroutines under a connection the transport
// lost, which end on their own after it (go-stomp's reader of a frame cut
// at the body limit first copies what it buffered, 16 MB): go-stomp is held
// in its closing of the lost connection until the transport says it waits
// for it, and Close must not have returned by then.
func TestCloseWaitsForGoStompGoroutines(t *testing.T) {
	h := newHostileBroker(t, "content-length")
	waiting := signalHandler{want: "waiting for go-stomp", seen: make(chan struct{}), once: &sync.Once{}}
	entered, closed := make(chan struct{}), make(chan struct{})
	var first sync.Once
	var early atomic.Bool
	hook := func() {
		held := false
		first.Do(func() { held = true })
		if !held {
			return
		}
		close(entered)
		select {
		case <-waiting.seen:
		case <-closed:
			early.Store(true)
		}
	}
	ctx := ctxT(t, 30*time.Second)
	tr, err := stompx.Dial(ctx, h.ln.Addr().String(), stompx.WithHeartBeat(0, 0), stompx.WithoutReconnect(),
		stompx.WithLogger(slog.New(waiting)), stompx.WithIOEndHook(hook))
	if err != nil {
		t.Fatal(err)
	}
	err = tr.Call(ctx, &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil)
	if !errors.Is(err, stompx.ErrFrameTooLarge) {
		t.Fatalf("call: %v, want ErrFrameTooLarge", err)
	}
	select {
	case <-entered: // go-stomp's I/O goroutine of the lost connection is ending
	case <-ctx.Done():
		t.Fatal("go-stomp never closed the lost connection")
	}
	go func() { _ = tr.Close(); close(closed) }()
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("Close did not return")
	}
	if early.Load() {
		t.Fatal("Close returned while go-stomp's goroutines of a lost connection still ran")
	}
}
