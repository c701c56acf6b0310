package integration

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/stompx"
)

// singleActive returns stompx.WithSingleActive, and WithActiveChange(f)
// when f is not nil.
func singleActive(f func(active bool)) []stompx.DurableOption {
	opts := []stompx.DurableOption{stompx.WithSingleActive()}
	if f != nil {
		opts = append(opts, stompx.WithActiveChange(f))
	}
	return opts
}

// TestDurableWholeCallsFailover runs three worker processes on one durable
// name with WithSingleActive and ConsumeCalls, and SIGKILLs the active one
// four times mid-stream (a replacement starts each time): every call is
// recorded whole, a second record of a call is marked Redelivered, and no
// two workers hand calls over at once. On the cluster two of the four kills
// are of the active worker's node instead. Each takeover is logged: from
// the kill to the first call handed over by the next active worker.
func TestDurableWholeCallsFailover(t *testing.T) {
	plan := wholeCallsPlan{calls: 1500, agents: 60, rate: 250, standbys: 2, kills: 4, work: 2 * time.Millisecond, lanes: 4}
	t.Run("ivtest", func(t *testing.T) { testWholeCalls(t, fakeBroker(t), plan, nil) })
	t.Run("rabbitmq", func(t *testing.T) { testWholeCalls(t, needRabbit(t), plan, nil) })
	t.Run("cluster", func(t *testing.T) {
		c := needCluster(t)
		p := plan
		p.quorum, p.nodeKills = true, map[int]bool{1: true, 3: true}
		testWholeCalls(t, &c.durableBroker, p, c)
	})
}

// TestCallsTakeoverNetworkCut cuts the active worker's network (a proxy
// that stops forwarding, closing nothing) while calls flow to three workers
// with WithSingleActive: a standby takes over once the broker notices,
// after the heart-beat timeout, and every call is recorded whole, no two
// workers handing calls over at once. It runs with the transport's default
// heart-beat and with WithHeartBeat(2s, 2s), and logs both takeovers.
func TestCallsTakeoverNetworkCut(t *testing.T) {
	b := needRabbit(t)
	t.Run("default", func(t *testing.T) { testNetworkCut(t, b, 0) })
	t.Run("2s", func(t *testing.T) { testNetworkCut(t, b, 2*time.Second) })
}

func testNetworkCut(t *testing.T, b *durableBroker, hb time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), durableLimit)
	defer cancel()
	run, acct := randHex(6), "itn"+randHex(4)
	topics := agentTopics(acct, 20)
	script := newCallScript(run, topics, 600, uint64(time.Now().UnixNano()))
	name := durableName("netcut")
	sa := singleActive(nil)
	addr, dopts := b.dialOpts(0)
	deleteDurable(t, addr, dopts, name, testDurableOpts(sa...))

	proxy := startProxy(t, addr)
	dir := t.TempDir()
	cfg := workerConfig{Addr: addr, Login: rabbitLogin, Passcode: rabbitPasscode, Name: name, Topics: topics,
		Work: 2 * time.Millisecond, Mode: "calls", SingleActive: true, HeartBeat: hb}
	victimCfg := cfg
	victimCfg.Proxy = proxy.addr()
	victim := startWorker(t, dir, 0, victimCfg)
	if _, err := waitActive(ctx, []*workerProc{victim}, nil, false); err != nil {
		t.Fatal(err)
	}
	ws := []*workerProc{victim, startWorker(t, dir, 1, cfg), startWorker(t, dir, 2, cfg)}

	pub := b.publisher(t, 0).(rawSender)
	var published atomic.Int64
	pubDone := background(t, func() error {
		return script.publishSteps(ctx, pub, 0, len(script.steps), 100, func(n int) { published.Store(int64(n)) })
	})
	for published.Load() < int64(len(script.steps)/4) {
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := waitActive(ctx, ws[:1], nil, true); err != nil {
		t.Fatal(err)
	}
	cut := kill{worker: victim.id, at: time.Now(), what: "network"}
	proxy.blackhole()
	cutAfter := published.Load()
	if _, err := waitActive(ctx, ws[1:], []kill{cut}, true); err != nil {
		t.Fatalf("after the network cut: %v", err)
	}
	if err := pubDone(); err != nil {
		t.Fatalf("publishing: %v", err)
	}
	if err := waitCalls(ctx, ws, script, 2*time.Second); err != nil {
		t.Error(err)
	}
	victim.kill(t) // cut off: it cannot stop cleanly
	for _, w := range ws[1:] {
		w.stop(t)
	}
	end := time.Now()
	lines := map[int][]callLine{}
	for _, w := range ws {
		ls, err := readCallLines(w.out)
		if err != nil {
			t.Fatal(err)
		}
		lines[w.id] = ls
	}
	v := checkCalls(script, lines, []kill{cut}, end)
	v.report(t)
	if len(v.takeovers) != 1 {
		t.Fatalf("no standby handed a call over after the network cut")
	}
	var victimOff time.Duration = -1
	for _, l := range lines[victim.id] {
		if l.Kind == "active" && !l.Active && l.at().After(cut.at) {
			victimOff = l.at().Sub(cut.at)
			break
		}
	}
	what := "the transport's default heart-beat"
	if hb > 0 {
		what = fmt.Sprintf("WithHeartBeat(%v, %v)", hb, hb)
	}
	t.Logf("%s: %d calls over %d agents; the active worker's network cut after %d events: a standby handed its first call over %v after the cut; the cut-off worker reported itself inactive %v after it (-1: never); records %s, %d second records, all Redelivered, %d lost, %d half, %d active intervals overlapping",
		what, len(script.calls), len(topics), cutAfter, v.takeovers[0].Round(time.Millisecond), victimOff.Round(time.Millisecond),
		v.split(), v.dupes, len(v.lost), len(v.half), v.activeOverlaps)
}
