package stompx_test

// The proofs of the issue, against the fake platform (ivtest: its embedded
// broker and request processor).

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/wire"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// echoPlatform makes the platform answer every request with its own
// arguments, so that a crossed reply is visible.
func echoPlatform(p *ivtest.Platform) {
	p.SetReplyFunc(func(req ivtest.Request, reply []byte) [][]byte {
		b, err := wire.AppendReply(nil, 0, req.Args, req.ID)
		if err != nil {
			return [][]byte{reply}
		}
		return [][]byte{b}
	})
}

func TestPlatformConcurrentCallsNeverCross(t *testing.T) {
	p := ivtest.NewPlatform(t)
	echoPlatform(p)
	key := p.Key()
	t1 := dial(t, p.STOMPAddr())
	t2 := dial(t, p.STOMPAddr())
	ctx := ctxT(t, 2*time.Minute)
	for _, tr := range []*stompx.Transport{t1, t2} {
		if err := echo(ctx, tr, key, "warm"); err != nil {
			t.Fatal(err)
		}
	}
	const goroutines, perG = 8, 2000
	var wg sync.WaitGroup
	for ti, tr := range []*stompx.Transport{t1, t2} {
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func(ti, g int, tr *stompx.Transport) {
				defer wg.Done()
				for i := 0; i < perG; i++ {
					if err := echo(ctx, tr, key, fmt.Sprintf("t%d-g%d-%d", ti, g, i)); err != nil {
						t.Error(err)
						return
					}
				}
			}(ti, g, tr)
		}
	}
	wg.Wait()
	for i, tr := range []*stompx.Transport{t1, t2} {
		if st := tr.Stats(); st.RepliesMatched != goroutines*perG+1 || st.RepliesMalformed != 0 {
			t.Errorf("transport %d: %+v", i, st)
		}
	}
}

func TestPlatformInFlight1024(t *testing.T) {
	p := ivtest.NewPlatform(t)
	echoPlatform(p)
	tr := dial(t, p.STOMPAddr())
	ctx := ctxT(t, 2*time.Minute)
	echoAtOnce(t, ctx, tr, p.Key(), 1024)
}

func TestPlatformReplyThatNeverComes(t *testing.T) {
	p := ivtest.NewPlatform(t, ivtest.WithAgent("default", "1001", "", "Ann"))
	tr := dial(t, p.STOMPAddr())
	c, err := ivclient.New(tr, p.Key())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// On a loaded machine the login's request can wait in the broker's
	// queue past its 200 ms and expire there, never executed (the drop then
	// still armed). Whether the platform acted is thus decided by the
	// platform, not by the clock: wait for the request's fate, and try again
	// (with a fresh drop) until the platform has executed one.
	for attempt := 1; ; attempt++ {
		p.DropReplies(1)
		expired := expiredRequests(p)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err = c.AgentLogin(ctx, "default", "1001", "SIP/default_0001")
		cancel()
		if attempt > 1 && errors.Is(err, codes.ErrDuplicate) {
			// An earlier timed-out login reached the platform late (and
			// took this attempt's drop): the platform acted on it.
			p.DropReplies(0)
			break
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
		if requestServed(t, p, "AgentLogin", expired) {
			break
		}
		p.DropReplies(0)
		if attempt == 5 {
			t.Fatalf("the platform executed none of %d logins: each expired in the broker", attempt)
		}
	}
	// The platform acted on it: a second login is a duplicate.
	err = c.AgentLogin(ctxT(t, 10*time.Second), "default", "1001", "SIP/default_0001")
	if !errors.Is(err, codes.ErrDuplicate) {
		t.Fatalf("second login: %v", err)
	}
}

func TestPlatformEventsAfterSubscribe(t *testing.T) {
	p := ivtest.NewPlatform(t, ivtest.WithAgent("default", "1001", "", "Ann"))
	tr := dial(t, p.STOMPAddr())
	ctx := ctxT(t, 30*time.Second)
	one, err := tr.Subscribe(ctx, events.AgentTopic("default", "1001"))
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	all, err := tr.Subscribe(ctx, events.AllAgents)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	c, err := ivclient.New(tr, p.Key(), ivclient.KeepTransportOpen())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_0001"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*events.Subscription{one, all} {
		if ev := recv(t, s); ev.Type != events.Login || ev.Agent != "default_1001" {
			t.Fatalf("%+v", ev)
		}
	}
}

// Hostile replies from the platform side, through ivtest's own hooks.
func TestPlatformHostileReplies(t *testing.T) {
	p := ivtest.NewPlatform(t)
	tr := dial(t, p.STOMPAddr())
	ctx := ctxT(t, 30*time.Second)
	if err := tr.Call(ctx, &ivclient.Request{Method: "QueueList", Key: p.Key(), Args: map[string]string{"Accountcode": "default"}}, nil); err != nil {
		t.Fatal(err)
	}
	p.SetReplyFunc(func(req ivtest.Request, reply []byte) [][]byte {
		return [][]byte{[]byte(`]]`), []byte(`[0, "x", "` + req.ID + `"`), []byte(`["zero", "x", "` + req.ID + `"]`), reply, reply}
	})
	var list []string
	if err := tr.Call(ctx, &ivclient.Request{Method: "QueueList", Key: p.Key(), Args: map[string]string{"Accountcode": "default"}}, &list); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishRaw("/topic/"+p.Key(), []byte(`[0, "x", "nobody"]`)); err != nil {
		t.Fatal(err)
	}
	p.SetReplyFunc(nil)
	if err := tr.Call(ctx, &ivclient.Request{Method: "QueueList", Key: p.Key(), Args: map[string]string{"Accountcode": "default"}}, &list); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.RepliesMalformed != 3 || st.RepliesUnknown != 2 || st.RepliesMatched != 3 {
		t.Fatalf("%+v", st)
	}
}

// Subscribing while 1,024 calls are in flight (go-stomp's own server
// cannot take this: see the package notes; ivtest's broker and RabbitMQ can).
func TestPlatformSubscribeDuringFlood(t *testing.T) {
	p := ivtest.NewPlatform(t)
	echoPlatform(p)
	tr := dial(t, p.STOMPAddr())
	subscribeDuringFlood(t, tr, p.Key())
}

func subscribeDuringFlood(t *testing.T, tr *stompx.Transport, key string) {
	ctx := ctxT(t, time.Minute)
	if err := echo(ctx, tr, key, "warm"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 1024; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 3; j++ {
				if err := echo(ctx, tr, key, fmt.Sprint(i, "-", j)); err != nil {
					t.Error(err)
					return
				}
			}
		}(i)
	}
	for i := 0; i < 30; i++ {
		s, err := tr.Subscribe(ctx, events.AgentTopic("flood", fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
	}
	wg.Wait()
}

// requestServed reports whether the platform has executed a request for
// method (true) or holds none to execute: the broker expired one from its
// request queue (more than the expired it counted before) or the queue is
// empty, the request never sent (false). It waits while one is queued.
func requestServed(t *testing.T, p *ivtest.Platform, method string, expired uint64) bool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range p.Requests() {
			if r.Method == method {
				return true
			}
		}
		// Expired in the queue, or never sent (the client gave up first):
		// nothing left to serve.
		if q, _ := p.BrokerQueue("config"); q.Expired > expired || q.Ready == 0 && q.Unacked == 0 {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("a %s request neither served nor expired after 10s", method)
	return false
}

// expiredRequests is how many requests the broker has expired from the
// platform's request queue.
func expiredRequests(p *ivtest.Platform) uint64 {
	q, _ := p.BrokerQueue("config")
	return q.Expired
}
