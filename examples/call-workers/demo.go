package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/examples/internal/exampleenv"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

const demoAcct = "default"

// demoWorker is a worker of the demo, in this process: a transport of its
// own, as a process would have.
type demoWorker struct {
	id   string
	t    *stompx.Transport
	done chan error
}

// crew runs the demo's workers and reports their active changes.
type crew struct {
	ctx    context.Context
	p      *ivtest.Platform
	cfg    config
	st     *store
	wg     sync.WaitGroup
	mu     sync.Mutex
	active string // the worker that said it is active last
	change chan struct{}
}

func (c *crew) say(s string) {
	fmt.Println(s)
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := strings.CutSuffix(strings.TrimPrefix(s, "worker "), " is active"); ok {
		c.active = id
	} else if id, ok := strings.CutSuffix(strings.TrimPrefix(s, "worker "), " is no longer active"); ok && c.active == id {
		c.active = ""
	}
	select {
	case c.change <- struct{}{}:
	default:
	}
}

// start starts worker id and waits until it is the active worker or a
// standby.
func (c *crew) start(id string) (*demoWorker, error) {
	t, err := stompx.Dial(c.ctx, c.p.STOMPAddr())
	if err != nil {
		return nil, err
	}
	w := &demoWorker{id: id, t: t, done: make(chan error, 1)}
	cfg := c.cfg
	cfg.id = id
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		err := work(c.ctx, t, cfg, c.st, c.say)
		t.Close()
		w.done <- err
	}()
	return w, nil
}

// waitActive waits until a worker other than not is active, and returns it.
func (c *crew) waitActive(not string) (string, error) {
	limit := time.After(30 * time.Second)
	for {
		c.mu.Lock()
		a := c.active
		c.mu.Unlock()
		if a != "" && a != not {
			return a, nil
		}
		select {
		case <-c.change:
		case <-limit:
			return "", errors.New("no worker became active in 30s")
		case <-c.ctx.Done():
			return "", c.ctx.Err()
		}
	}
}

// demo plays the story on the embedded fake platform.
func demo(ctx context.Context, cfg config) error {
	opts := exampleenv.QueueOfTwo(demoAcct)
	for _, user := range []string{"1001", "1002"} {
		opts = append(opts, ivtest.WithSeed("AgentLogin", map[string]any{"accountcode": demoAcct, "user": user, "interface": "SIP/" + demoAcct + "_" + user}))
	}
	p, err := ivtest.Start(opts...)
	if err != nil {
		return fmt.Errorf("starting the fake platform: %w", err)
	}
	defer p.Close()
	fmt.Println("started the fake platform")

	// A quick demo: three tries, 200 ms apart at first.
	cfg.attempts, cfg.backoff = 3, 200*time.Millisecond
	wctx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	c := &crew{ctx: wctx, p: p, cfg: cfg, st: newStore(os.Stdout, "  record "), change: make(chan struct{}, 1)}
	defer c.wg.Wait()

	// Worker w1 starts first and is the active one; w2 and w3 wait.
	w1, err := c.start("w1")
	if err != nil {
		return err
	}
	if _, err := c.waitActive(""); err != nil {
		return err
	}
	for _, id := range []string{"w2", "w3"} {
		if _, err := c.start(id); err != nil {
			return err
		}
	}
	if err := playCalls(c); err != nil {
		return err
	}
	if err := showDeadLetters(ctx, p, cfg.name); err != nil {
		return err
	}
	if err := takeover(c, w1); err != nil {
		return err
	}
	stopWorkers()
	c.wg.Wait()
	return summary(c.st)
}

// playCalls plays four calls while the store is down for two writes, and
// one it refuses (an anonymous caller), and waits for their records.
func playCalls(c *crew) error {
	p := c.p
	c.st.mu.Lock()
	c.st.down = 2
	c.st.mu.Unlock()
	fmt.Println("the store is down for the next 2 writes")
	steps := []func() error{
		func() error {
			uid, err := p.InboundCall(demoAcct, "7000", "1001", "2198765456", ivtest.Answer)
			if err == nil {
				err = p.EndCall(uid, events.ReasonByCaller)
			}
			return err
		},
		func() error { _, err := p.OutboundCall(demoAcct, "1002", "2144445555", ivtest.Busy); return err },
		func() error {
			_, err := p.InboundCall(demoAcct, "7000", "1001", "2155550000", ivtest.QueueMissed)
			return err
		},
		func() error {
			uid, err := p.InboundCall(demoAcct, "", "1002", "anonymous", ivtest.Answer)
			if err == nil {
				err = p.EndCall(uid, events.ReasonByCallee)
			}
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	fmt.Println("4 calls played, one from an anonymous caller")
	return waitRecords(c, 3)
}

// takeover starts a call, stops the active worker w1 with the call in
// progress (its connection closes, as when a process dies: the call's
// events go back to the broker), and ends the call once another worker
// took over: that worker stores the call whole.
func takeover(c *crew, w1 *demoWorker) error {
	uid, err := c.p.InboundCall(demoAcct, "7000", "1002", "2133334444", ivtest.Answer)
	if err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond) // w1 holds the call's NEWCALL and CONNECT
	fmt.Printf("worker w1 dies with call %s in progress\n", uid)
	_ = w1.t.Close()
	if err := <-w1.done; err != nil && !errors.Is(err, ivclient.ErrClosed) {
		fmt.Printf("worker w1: %v\n", err)
	}
	next, err := c.waitActive("w1")
	if err != nil {
		return err
	}
	fmt.Printf("worker %s took over; the call ends\n", next)
	if err := c.p.EndCall(uid, events.ReasonByCallee); err != nil {
		return err
	}
	return waitRecords(c, 4)
}

// waitRecords waits until the store holds n records.
func waitRecords(c *crew, n int) error {
	limit := time.After(30 * time.Second)
	for c.st.count() < n {
		select {
		case <-c.st.changed:
		case <-limit:
			return fmt.Errorf("only %d of %d calls stored after 30s", c.st.count(), n)
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
	}
	return nil
}

// showDeadLetters waits until the refused call is dead-lettered (its
// events, after the last try), lists the name's dead letters, as ivctl
// dead list does, and purges them.
func showDeadLetters(ctx context.Context, p *ivtest.Platform, name string) error {
	t, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		return err
	}
	defer t.Close()
	var dead []stompx.DeadLetter
	for limit := time.Now().Add(30 * time.Second); len(dead) == 0; time.Sleep(50 * time.Millisecond) {
		if dead, err = t.DeadLetters(ctx, name, 100); err != nil {
			return err
		}
		if time.Now().After(limit) {
			return errors.New("no dead letter after 30s")
		}
	}
	for _, d := range dead {
		fmt.Printf("dead letter: %s of call %s (%s, callerid %s): %s\n", d.Event.Type, d.Event.UniqueID, d.Event.Agent, d.Event.CallerID, d.Cause)
	}
	n, err := t.PurgeDeadLetters(ctx, name)
	if err != nil {
		return err
	}
	fmt.Printf("%d dead letters purged (ivctl -stomp %s dead list|replay|purge %s does this from a shell)\n", n, p.STOMPAddr(), name)
	return nil
}

func summary(st *store) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	ws := map[string]int{}
	redelivered := 0
	for _, r := range st.byKey {
		ws[r.Worker]++
		if r.Redelivered {
			redelivered++
		}
	}
	parts := make([]string, 0, len(ws))
	for w, n := range ws {
		parts = append(parts, fmt.Sprintf("%s %d", w, n))
	}
	sort.Strings(parts)
	fmt.Printf("%d calls stored whole (%d handed over again after the takeover), %d tries failed; by worker: %s\n",
		len(st.byKey), redelivered, st.failed, strings.Join(parts, ", "))
	return nil
}
