package stompx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/wire"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/stompx"
)

func TestUnknownIdentifiersCountedAndDropped(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr)
	ctx := ctxT(t, 30*time.Second)
	if err := echo(ctx, tr, testKey, "warm"); err != nil {
		t.Fatal(err)
	}
	before := tr.Stats()
	b.publish(t, "/topic/"+testKey,
		[]byte(`[0, "Successful AgentLogin", "not-a-pending-id"]`),
		[]byte(`[0, "Successful AgentLogin"]`), // no identifier at all
		[]byte(`[0, "Successful AgentLogin", 12345]`),
		[]byte(`[0, "x", null]`),
	)
	// The publications are ahead of this call's reply on the topic.
	if err := echo(ctx, tr, testKey, "after"); err != nil {
		t.Fatal(err)
	}
	st := tr.Stats()
	if got := st.RepliesUnknown - before.RepliesUnknown; got != 4 {
		t.Fatalf("unknown replies %d, want 4 (%+v)", got, st)
	}
}

// Hostile replies ahead of every real reply: none reaches a caller, none
// breaks the transport, and every caller still gets its own reply.
func TestHostileRepliesSurvived(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr)
	ctx := ctxT(t, time.Minute)
	if err := echo(ctx, tr, testKey, "warm"); err != nil {
		t.Fatal(err)
	}
	huge := []byte(`[0, "` + strings.Repeat("A", 4<<20) + `", "00000000-0000-0000-0000-000000000000"]`)
	var prevID atomic.Pointer[string]
	var served atomic.Int64
	b.resp.setReply(func(req wire.IncomingRequest, reply []byte) [][]byte {
		id := req.ID
		out := [][]byte{
			[]byte(`not json at all`),
			[]byte(`{"code": 0, "id": "` + id + `"}`),
			[]byte(`"` + id + `"`),
			[]byte(`12`),
			[]byte(`[]`),
			[]byte(`[null, "x", "` + id + `"]`),
			[]byte(`[{}, "x", "` + id + `"]`),
			[]byte(`[[0], "x", "` + id + `"]`),
			[]byte(`[0, "x", ["` + id + `"]]`),
			[]byte(`[0, "x", {"id": "` + id + `"}]`),
			[]byte(`[0, {"a": "` + id + `"}]`),
			[]byte(`[0, "x\", \"` + id + `"]`),
			[]byte(`[0, "unterminated, "` + id + `"]`),
			[]byte(`[0, 'x', '` + id + `'`),
			[]byte("\x00\xff\xfe"),
			[]byte(``),
		}
		if served.Add(1)%40 == 1 { // the expensive ones now and then
			out = append(out, huge, []byte(strings.Repeat("[", 100000)+`0`))
		}
		if p := prevID.Load(); p != nil {
			// The previous call's identifier: that call is finished.
			out = append(out, []byte(`[0, {"n": "stolen"}, "`+*p+`"]`))
		}
		out = append(out, reply, reply) // the real reply, then a duplicate
		prevID.Store(&id)
		return out
	})
	const goroutines, perG = 4, 40
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				if err := echo(ctx, tr, testKey, fmt.Sprintf("%d-%d", g, i)); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	b.resp.setReply(nil)
	if err := echo(ctx, tr, testKey, "final"); err != nil {
		t.Fatal(err)
	}
	st := tr.Stats()
	if st.RepliesMatched != goroutines*perG+2 || st.RepliesMalformed == 0 || st.RepliesUnknown == 0 {
		t.Fatalf("stats %+v", st)
	}
	if tr.State() != stompx.Connected || st.ConnectionsLost != 0 {
		t.Fatalf("state %v, stats %+v", tr.State(), st)
	}
}

// A reply carrying the identifier of a call made with another key, on
// this key's topic, is not delivered.
func TestReplyOnWrongKeyTopicDropped(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr)
	ctx := ctxT(t, 30*time.Second)
	const other = "OtherKey42"
	if err := echo(ctx, tr, testKey, "warm"); err != nil {
		t.Fatal(err)
	}
	b.resp.setReply(func(req wire.IncomingRequest, reply []byte) [][]byte {
		if req.Key == other {
			// Answer on the other key's topic only.
			b.resp.enqueue("/topic/"+testKey, []byte(`[0, {"n": "wrong"}, "`+req.ID+`"]`))
			return nil
		}
		return [][]byte{reply}
	})
	sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err := echo(sctx, tr, other, "mine")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline (the reply came on another key's topic)", err)
	}
	b.resp.setReply(nil)
	if err := echo(ctx, tr, other, "ok"); err != nil {
		t.Fatal(err)
	}
}

// A two-element reply [code, "id"] whose string is a pending identifier
// is that call's reply.
func TestTwoElementReply(t *testing.T) {
	b := newTestBroker(t)
	tr := dial(t, b.addr)
	ctx := ctxT(t, 30*time.Second)
	b.resp.setReply(func(req wire.IncomingRequest, reply []byte) [][]byte {
		return [][]byte{[]byte(`[0, "` + req.ID + `"]`)}
	})
	var out string
	if err := tr.Call(ctx, &ivclient.Request{Method: "AgentLogin", Key: testKey}, &out); err != nil {
		t.Fatal(err)
	}
	if out != "" {
		t.Fatalf("the identifier leaked into the payload: %q", out)
	}
	// Python literal replies are accepted too.
	b.resp.setReply(func(req wire.IncomingRequest, reply []byte) [][]byte {
		return [][]byte{[]byte(`[0, ['1002', '1004'], '` + req.ID + `']`)}
	})
	var list []string
	if err := tr.Call(ctx, &ivclient.Request{Method: "AgentList", Key: testKey}, &list); err != nil || len(list) != 2 || list[1] != "1004" {
		t.Fatalf("%v %v", list, err)
	}
}

// An ERROR frame from the broker ends the connection: calls in flight fail
// with ErrConnectionLost, the transport reconnects, later calls work.
func TestErrorFrameFromBroker(t *testing.T) {
	b := newTestBroker(t)
	p := newProxy(t, b.addr)
	var states stateLog
	tr := dial(t, p.addr(), stompx.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond), stompx.WithStateHandler(states.add))
	ctx := ctxT(t, 30*time.Second)
	if err := echo(ctx, tr, testKey, "warm"); err != nil {
		t.Fatal(err)
	}
	b.resp.drop.Store(1)
	errc := make(chan error, 1)
	go func() { errc <- tr.Call(ctx, &ivclient.Request{Method: "NewCall", Key: testKey}, nil) }()
	for deadline := time.Now().Add(10 * time.Second); b.resp.received.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("request did not arrive")
		}
		time.Sleep(time.Millisecond)
	}
	p.inject([]byte("ERROR\nmessage:injected failure\n\n\x00"))
	select {
	case err := <-errc:
		if !errors.Is(err, ivclient.ErrConnectionLost) {
			t.Fatalf("in flight: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call in flight did not fail")
	}
	if err := echo(ctx, tr, testKey, "after"); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Reconnects < 1 || st.CallsLost != 1 {
		t.Fatalf("stats %+v", st)
	}
	states.waitFor(t, stompx.Reconnecting, stompx.Connected)
}
