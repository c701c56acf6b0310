package simulator

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/fakeplatform"
)

// load is the traffic -traffic plays: calls to (and from) agents logged in,
// at a rate, with a talk time and an outcome mix.
//
//	-traffic 2s                                  one inbound call every 2s to agents 1001-1003
//	-traffic agents=2000,cps=50,talk=30s         2,000 agents of their own, 50 calls a second,
//	                                              answered, talking 30s on average (exponential)
//	-traffic agents=500,cps=20,talk=10s-60s,answered=70,noanswer=10,busy=5,failed=5,giveup=10,outbound=30
//
// agents=N adds agents 20001.. (one line each, in queue 7900) and logs
// them in; without it the built-in seed's agents take the calls. cps is
// calls per second; talk a mean (exponential) or a range (uniform); the
// outcome weights are relative (answered=100 by default); outbound is the
// percentage of calls the agents place (NewCall's flow) rather than take.
// A queue give-up is an inbound queue call that ends before an agent
// answers; for an outbound call it counts as no answer. A call is played to
// an agent not already on a traffic call; when every agent is, the call is
// counted as skipped.
type load struct {
	legacy           time.Duration // the old form: a call every legacy
	agents           int
	cps              float64
	talkMin, talkMax time.Duration // equal: exponential with that mean
	mix              [5]int        // answered, noanswer, busy, failed, giveup
	outbound         int           // percent
}

var mixNames = [5]string{"answered", "noanswer", "busy", "failed", "giveup"}

// trafficQueue is the queue of the agents agents=N adds; trafficFirst the
// number of the first.
const (
	trafficQueue = "7900"
	trafficFirst = 20001
)

func parseLoad(s string) (load, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return load{}, fmt.Errorf("the interval must be positive, got %v", d)
		}
		return load{legacy: d, cps: float64(time.Second) / float64(d), talkMin: d / 2, talkMax: d / 2, mix: [5]int{100}}, nil
	}
	l := load{cps: 1, talkMin: 30 * time.Second, talkMax: 30 * time.Second}
	mixSet := false
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return load{}, fmt.Errorf("%q is neither a duration nor key=value (agents, cps, talk, outbound, %s)", kv, strings.Join(mixNames[:], ", "))
		}
		var err error
		switch k {
		case "agents":
			l.agents, err = strconv.Atoi(v)
			if err == nil && (l.agents < 1 || l.agents > 50000) {
				err = fmt.Errorf("must be 1..50000")
			}
		case "cps":
			l.cps, err = strconv.ParseFloat(v, 64)
			if err == nil && (l.cps <= 0 || l.cps > 10000 || math.IsNaN(l.cps)) {
				err = fmt.Errorf("must be more than 0 and at most 10000")
			}
		case "talk":
			lo, hi, isRange := strings.Cut(v, "-")
			if l.talkMin, err = time.ParseDuration(lo); err == nil {
				l.talkMax = l.talkMin
				if isRange {
					l.talkMax, err = time.ParseDuration(hi)
				}
			}
			if err == nil && (l.talkMin <= 0 || l.talkMax < l.talkMin) {
				err = fmt.Errorf("must be a positive duration or a range lo-hi")
			}
		case "outbound":
			l.outbound, err = strconv.Atoi(strings.TrimSuffix(v, "%"))
			if err == nil && (l.outbound < 0 || l.outbound > 100) {
				err = fmt.Errorf("must be a percentage, 0..100")
			}
		default:
			i := indexOf(mixNames[:], k)
			if i < 0 {
				return load{}, fmt.Errorf("unknown key %q (agents, cps, talk, outbound, %s)", k, strings.Join(mixNames[:], ", "))
			}
			l.mix[i], err = strconv.Atoi(v)
			if err == nil && l.mix[i] < 0 {
				err = fmt.Errorf("must not be negative")
			}
			mixSet = true
		}
		if err != nil {
			return load{}, fmt.Errorf("%s=%s: %v", k, v, err)
		}
	}
	if !mixSet {
		l.mix[0] = 100
	}
	if l.mix == [5]int{} {
		return load{}, fmt.Errorf("the outcome weights are all 0")
	}
	return l, nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// describe says what the load plays, in one line.
func (l load) describe() string {
	if l.legacy > 0 {
		return fmt.Sprintf("an inbound call every %v to agents 1001-1003, logged in", l.legacy)
	}
	who := "agents 1001-1003"
	if l.agents > 0 {
		who = fmt.Sprintf("%d agents (%d-%d, queue %s)", l.agents, trafficFirst, trafficFirst+l.agents-1, trafficQueue)
	}
	talk := "talk " + l.talkMin.String() + " on average"
	if l.talkMax != l.talkMin {
		talk = "talk " + l.talkMin.String() + "-" + l.talkMax.String()
	}
	var mix []string
	for i, w := range l.mix {
		if w > 0 {
			mix = append(mix, fmt.Sprintf("%s %d", mixNames[i], w))
		}
	}
	return fmt.Sprintf("%g calls/s to and from %s, logged in; %s; %d%% outbound; mix %s", l.cps, who, talk, l.outbound, strings.Join(mix, ", "))
}

// seeds returns the options that add the load's agents (so that Reset
// brings them back, logged in).
func (l load) seeds(ac string) []fakeplatform.Option {
	if l.agents == 0 {
		return nil
	}
	opts := []fakeplatform.Option{fakeplatform.WithSeed("QueueAdd", map[string]any{"accountcode": ac, "name": trafficQueue})}
	for i := range l.agents {
		u := strconv.Itoa(trafficFirst + i)
		opts = append(opts,
			fakeplatform.WithSeed("AgentAdd", map[string]any{"accountcode": ac, "user": u, "name": "Agent " + u}),
			fakeplatform.WithSeed("AgentLineAdd", map[string]any{"accountcode": ac, "user": u, "lines": []any{map[string]any{"linenumber": "1"}}}),
			fakeplatform.WithSeed("AgentQueueAdd", map[string]any{"accountcode": ac, "user": u, "queues": []any{map[string]any{"name": trafficQueue, "priority": "0"}}}),
			fakeplatform.WithSeed("AgentLogin", map[string]any{"Accountcode": ac, "User": u, "Interface": "SIP/" + ac + "_" + u}))
	}
	return opts
}

// members returns the agents the load plays calls to, with their queue.
func (l load) members() (users, queues []string) {
	if l.agents == 0 {
		for _, a := range trafficAgents {
			users, queues = append(users, a.user), append(queues, a.queue)
		}
		return users, queues
	}
	for i := range l.agents {
		users, queues = append(users, strconv.Itoa(trafficFirst+i)), append(queues, trafficQueue)
	}
	return users, queues
}

// talk draws a talk time.
func (l load) talk(r *rand.Rand) time.Duration {
	if l.talkMax > l.talkMin {
		return l.talkMin + time.Duration(r.Int64N(int64(l.talkMax-l.talkMin)))
	}
	if l.legacy > 0 {
		return l.talkMin
	}
	return time.Duration(r.ExpFloat64() * float64(l.talkMin))
}

// trafficCounts is what a run of the load did.
type trafficCounts struct {
	placed, outbound, skipped, behind, failedToPlay atomic.Int64
	outcome                                         [5]atomic.Int64
}

// player plays a load on a platform until its context ends.
type player struct {
	p      *fakeplatform.Platform
	ac     string
	l      load
	counts trafficCounts

	mu     sync.Mutex
	idle   []int // indexes into users
	users  []string
	queues []string
	ends   endHeap
	wakeup chan struct{}
	done   chan struct{} // closed when run returns
}

// wait waits for run to return.
func (pl *player) wait() { <-pl.done }

func newPlayer(p *fakeplatform.Platform, ac string, l load) *player {
	pl := &player{p: p, ac: ac, l: l, wakeup: make(chan struct{}, 1), done: make(chan struct{})}
	pl.users, pl.queues = l.members()
	for i := range pl.users {
		pl.idle = append(pl.idle, i)
	}
	return pl
}

// run plays calls until ctx ends, with workers placing them and one
// goroutine hanging them up, and returns when all have returned.
func (pl *player) run(ctx context.Context) {
	jobs := make(chan struct{}, 1024)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for range jobs {
				pl.place(r)
			}
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); pl.hangups(ctx) }()

	step := 10 * time.Millisecond
	if per := time.Duration(float64(time.Second) / pl.l.cps); per > step {
		step = per
	}
	tick := time.NewTicker(step)
	last, due := time.Now(), 0.0
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case now := <-tick.C:
			due += pl.l.cps * now.Sub(last).Seconds()
			last = now
			for ; due >= 1; due-- {
				select {
				case jobs <- struct{}{}:
				default:
					pl.counts.behind.Add(1)
				}
			}
		}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
}

// place plays one call to or from an idle agent.
func (pl *player) place(r *rand.Rand) {
	pl.mu.Lock()
	if len(pl.idle) == 0 {
		pl.mu.Unlock()
		pl.counts.skipped.Add(1)
		return
	}
	k := r.IntN(len(pl.idle))
	i := pl.idle[k]
	pl.idle[k] = pl.idle[len(pl.idle)-1]
	pl.idle = pl.idle[:len(pl.idle)-1]
	pl.mu.Unlock()

	o := pl.pick(r)
	out := r.IntN(100) < pl.l.outbound
	var uid string
	var err error
	if out {
		oc := []fakeplatform.Outcome{fakeplatform.Answer, fakeplatform.NoAnswer, fakeplatform.Busy, fakeplatform.Failed, fakeplatform.NoAnswer}[o]
		uid, err = pl.p.OutboundCall(pl.ac, pl.users[i], fmt.Sprintf("21%08d", r.IntN(1e8)), oc)
	} else {
		oc := []fakeplatform.Outcome{fakeplatform.Answer, fakeplatform.NoAnswer, fakeplatform.Busy, fakeplatform.Failed, fakeplatform.QueueGiveUp}[o]
		uid, err = pl.p.InboundCall(pl.ac, pl.queues[i], pl.users[i], fmt.Sprintf("21%08d", 98765400+r.IntN(100)), oc)
	}
	if err != nil { // logged off or paused from the console, say
		pl.counts.failedToPlay.Add(1)
		pl.release(i)
		return
	}
	pl.counts.placed.Add(1)
	pl.counts.outcome[o].Add(1)
	if out {
		pl.counts.outbound.Add(1)
	}
	if o != 0 {
		pl.release(i)
		return
	}
	reason := events.ReasonByCaller
	if r.IntN(2) == 0 && pl.l.legacy == 0 {
		reason = events.ReasonByCallee
	}
	pl.mu.Lock()
	heap.Push(&pl.ends, callEnd{at: time.Now().Add(pl.l.talk(r)), uid: uid, agent: i, reason: reason})
	pl.mu.Unlock()
	select {
	case pl.wakeup <- struct{}{}:
	default:
	}
}

func (pl *player) pick(r *rand.Rand) int {
	total := 0
	for _, w := range pl.l.mix {
		total += w
	}
	n := r.IntN(total)
	for i, w := range pl.l.mix {
		if n < w {
			return i
		}
		n -= w
	}
	return 0
}

func (pl *player) release(i int) {
	pl.mu.Lock()
	pl.idle = append(pl.idle, i)
	pl.mu.Unlock()
}

// hangups ends answered calls when their talk time has passed.
func (pl *player) hangups(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		pl.mu.Lock()
		var due []callEnd
		now := time.Now()
		for pl.ends.Len() > 0 && !pl.ends[0].at.After(now) {
			due = append(due, heap.Pop(&pl.ends).(callEnd))
		}
		wait := time.Hour
		if pl.ends.Len() > 0 {
			wait = pl.ends[0].at.Sub(now)
		}
		pl.mu.Unlock()
		for _, e := range due {
			pl.p.EndCall(e.uid, e.reason) // gone already (reset, console): nothing to do
			pl.release(e.agent)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-pl.wakeup:
		}
	}
}

type callEnd struct {
	at     time.Time
	uid    string
	agent  int
	reason string
}

type endHeap []callEnd

func (h endHeap) Len() int           { return len(h) }
func (h endHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h endHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *endHeap) Push(x any)        { *h = append(*h, x.(callEnd)) }
func (h *endHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// summary says what the run did in d.
func (pl *player) summary(d time.Duration) string {
	c := &pl.counts
	secs := d.Seconds()
	var mix []string
	for i, n := range mixNames {
		if v := c.outcome[i].Load(); v > 0 {
			mix = append(mix, fmt.Sprintf("%s %d", n, v))
		}
	}
	return fmt.Sprintf("%d calls in %.1fs (%.1f/s; %s; %d outbound); %d skipped (no idle agent), %d behind the rate, %d refused",
		c.placed.Load(), secs, float64(c.placed.Load())/secs, strings.Join(mix, ", "), c.outbound.Load(),
		c.skipped.Load(), c.behind.Load(), c.failedToPlay.Load())
}
