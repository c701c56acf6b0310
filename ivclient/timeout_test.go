package ivclient_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/soapx"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// A call whose context has no deadline gets the client's, so that a reply
// that never comes ends the call with context.DeadlineExceeded instead of
// blocking it: over both transports, and the next call is answered.
func TestCallTimeoutAppliesWithoutDeadline(t *testing.T) {
	p, st := platformWithQueue(t)
	sp, err := soapx.New(p.SOAPURL())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		name string
		tr   ivclient.Transport
	}{{"stompx", st}, {"soapx", sp}} {
		t.Run(v.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := ivclient.New(v.tr, p.Key(), ivclient.WithCallTimeout(200*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			p.DropReplies(1, "QueueList")
			done := make(chan error, 1)
			go func() {
				_, err := c.QueueList(context.Background(), "default")
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("a dropped reply: %v, want context.DeadlineExceeded", err)
				}
			case <-ctx.Done():
				t.Fatal("a call without a deadline still waits for a dropped reply")
			}
			// On a loaded machine the client's 200 ms can pass before the
			// request reaches the platform (a SOAP request not yet written,
			// a STOMP request that expires in the broker's queue): no reply
			// came either way, but the drop is then still armed and would
			// withhold the next call's reply. Disarm it, so that the next
			// call does not depend on which came first; a request still on
			// its way gets a reply that nobody awaits.
			p.DropReplies(0)
			// The next call carries a deadline of its own (which wins over
			// the client's 200 ms), so that a loaded machine cannot fail it.
			if qs, err := c.QueueList(ctx, "default"); err != nil || len(qs) != 1 {
				t.Errorf("the next call: %v, %v", qs, err)
			}
		})
	}
}

// platformWithQueue starts a fake platform with queue 7015 and dials it
// over STOMP.
func platformWithQueue(t *testing.T) (*ivtest.Platform, *stompx.Transport) {
	p := ivtest.NewPlatform(t, ivtest.WithQueue("default", "7015"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return p, st
}

// A deadline of the caller's own wins over the client's default, both
// ways; WithoutCallTimeout leaves a call without a deadline unbounded (here
// it ends when its own context is cancelled).
func TestCallTimeoutKeepsTheCallersDeadline(t *testing.T) {
	p, st := platformWithQueue(t)
	c, err := ivclient.New(st, p.Key(), ivclient.WithoutCallTimeout())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p.DropReplies(1, "QueueList")
	callCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.QueueList(callCtx, "default")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("without a call timeout, a dropped reply ended the call: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}
