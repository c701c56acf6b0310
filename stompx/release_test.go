package stompx_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// A key's reply subscription is the transport's: clients of the key that
// close take nothing down, not even a call of another client in flight.
func TestClientCloseKeepsKey(t *testing.T) {
	b := newTestBroker(t)
	holdReplies(b)
	tr := dial(t, b.addr)
	ctx := ctxT(t, 30*time.Second)
	c1, err := ivclient.New(tr, testKey, ivclient.KeepTransportOpen())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ivclient.New(tr, testKey, ivclient.KeepTransportOpen())
	if err != nil {
		t.Fatal(err)
	}
	if err := echo(ctx, tr, testKey, "one"); err != nil {
		t.Fatal(err)
	}
	errc := startHeld(t, ctx, b, tr)
	_ = c1.Close()
	_ = c2.Close()
	if err := echo(ctx, tr, testKey, "two"); err != nil {
		t.Fatalf("after every client closed: %v", err)
	}
	select {
	case err := <-errc:
		t.Fatalf("the held call ended with the clients' Close: %v", err)
	default:
	}
	if st := tr.Stats(); st.ConnectionsLost != 0 || st.RepliesMatched != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// Every key used is restored on reconnection, until Close.
func TestKeysRestoredOnReconnect(t *testing.T) {
	b := newTestBroker(t)
	px := newProxy(t, b.addr)
	var states stateLog
	var logs syncBuffer
	tr := dial(t, px.addr(), fast, stompx.WithStateHandler(states.add), stompx.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := ctxT(t, 30*time.Second)
	c, _ := ivclient.New(tr, "gone1", ivclient.KeepTransportOpen())
	if err := echo(ctx, tr, "gone1", "x"); err != nil {
		t.Fatal(err)
	}
	if err := echo(ctx, tr, testKey, "x"); err != nil {
		t.Fatal(err)
	}
	px.setRefuse(true)
	px.kill()
	states.waitFor(t, stompx.Connected, stompx.Reconnecting)
	_ = c.Close()
	px.setRefuse(false)
	states.waitFor(t, stompx.Connected, stompx.Reconnecting, stompx.Connected)
	if !strings.Contains(logs.String(), "keys=2") {
		t.Fatalf("want two keys restored:\n%s", logs.String())
	}
	if err := echo(ctx, tr, "gone1", "y"); err != nil {
		t.Fatal(err)
	}
}
