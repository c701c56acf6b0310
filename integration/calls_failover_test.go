package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/instantvoice/instantvoice-go/stompx"
)

// wholeCallsPlan is one run of testWholeCalls.
type wholeCallsPlan struct {
	calls, agents int
	rate          int           // events published a second
	standbys      int           // workers waiting beside the active one (WithSingleActive when > 0)
	kills         int           // how often the active worker is SIGKILLed and replaced, mid-stream
	nodeKills     map[int]bool  // which of those kills are of the active worker's node instead (cluster)
	work          time.Duration // per call, in the handler, after its line is written
	lanes         int
	quorum        bool
}

// TestDurableWholeCallsRestart runs one worker process at a time on a
// durable name with ConsumeCalls, SIGKILLs it four times mid-stream and
// starts a replacement each time: every call is recorded whole (direction,
// callerid and reason as published), a second record of a call is marked
// Redelivered. (With WithSingleActive the replacement waits beside it:
// TestDurableWholeCallsFailover.)
func TestDurableWholeCallsRestart(t *testing.T) {
	plan := wholeCallsPlan{calls: 1500, agents: 60, rate: 250, kills: 4, work: 2 * time.Millisecond, lanes: 4}
	t.Run("ivtest", func(t *testing.T) { testWholeCalls(t, fakeBroker(t), plan, nil) })
	t.Run("rabbitmq", func(t *testing.T) { testWholeCalls(t, needRabbit(t), plan, nil) })
}

// testWholeCalls publishes plan.calls calls over plan.agents agents while
// 1+plan.standbys worker processes consume them on one durable name, kills
// the active worker plan.kills times mid-stream (a replacement starts each
// time), waits until every call has a record, and checks them all
// (checkCalls). It logs each takeover: from the kill to the first call the
// next active worker handed over.
func testWholeCalls(t *testing.T, b *durableBroker, plan wholeCallsPlan, c *cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), durableLimit)
	defer cancel()
	run, acct := randHex(6), "itc"+randHex(4)
	topics := agentTopics(acct, plan.agents)
	script := newCallScript(run, topics, plan.calls, uint64(time.Now().UnixNano()))
	name := durableName("calls")
	var qopts []stompx.DurableOption
	if plan.quorum {
		qopts = append(qopts, stompx.WithQuorumQueue())
	}
	if plan.standbys > 0 {
		qopts = append(qopts, singleActive(nil)...)
	}
	addr, dopts := b.dialOpts(0)
	deleteDurable(t, addr, dopts, name, testDurableOpts(qopts...))

	dir := t.TempDir()
	keepWorkerFiles(t, dir)
	config := func(node int) workerConfig {
		addrs := b.rotate(node % len(b.addrs))
		return workerConfig{Addr: addrs[0], Addrs: addrs[1:], Login: rabbitLogin, Passcode: rabbitPasscode,
			Name: name, Topics: topics, Quorum: plan.quorum, Work: plan.work, Mode: "calls",
			Lanes: plan.lanes, SingleActive: plan.standbys > 0}
	}
	// The first worker makes the queue and is the active one; the
	// standbys start after it, each on another node of a cluster.
	ws := []*workerProc{startWorker(t, dir, 0, config(0))}
	if _, err := waitActive(ctx, ws, nil, false); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= plan.standbys; i++ {
		ws = append(ws, startWorker(t, dir, i, config(i)))
	}

	var pub rawSender
	var cs *clusterSender
	if c != nil {
		cs = newClusterSender(t, c)
		pub = cs
	} else {
		pub = b.publisher(t, len(b.addrs)-1).(rawSender)
	}
	var published atomic.Int64
	// hold stops the stream while a killed node restarts (minutes at
	// worst): without it the stream runs past the next kills' points, even
	// to its end, and the next active worker has no call left to hand over.
	var hold sync.RWMutex
	pubStart := time.Now()
	// A publisher that fails ends every wait below at once, with its error.
	ctx, failed := context.WithCancelCause(ctx)
	defer failed(nil)
	pubCtx, stopPub := context.WithCancel(ctx)
	pubDone := background(t, func() error {
		err := script.publishSteps(pubCtx, pub, 0, len(script.steps), plan.rate, func(n int) {
			hold.RLock()
			defer hold.RUnlock()
			published.Store(int64(n))
		})
		if err != nil {
			failed(fmt.Errorf("the publisher failed: %w", err))
		}
		return err
	})
	t.Cleanup(stopPub)

	var kills []kill
	for k := 0; k < plan.kills; k++ {
		// Mid-stream: at the k+1-th of kills+1 equal parts of the events,
		// once the active worker has handed calls over.
		due := int64(len(script.steps) * (k + 1) / (plan.kills + 1))
		for published.Load() < due {
			if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
				t.Fatalf("kill %d: %d of %d events published: %v", k+1, published.Load(), len(script.steps), err)
			}
		}
		if k > 0 && published.Load() == int64(len(script.steps)) {
			t.Fatalf("before kill %d: all %d events already published: no call left for the next active worker", k+1, len(script.steps))
		}
		active, err := waitActive(ctx, ws, kills, true)
		if err != nil {
			dumpWorkers(t, ws, c, name)
			t.Fatalf("before kill %d: %v", k+1, err)
		}
		node := -1
		if plan.nodeKills[k] {
			node = connectedNode(t, c, active)
			if err := cs.avoid(node); err != nil {
				t.Fatalf("moving the publisher off %s: %v", c.nodes[node], err)
			}
		}
		kills = append(kills, killActive(t, c, active, node))
		if node < 0 {
			t.Logf("kill %d: worker %d (SIGKILL) at %s, %d of %d events published", k+1, active.id,
				kills[k].at.Format("15:04:05.000"), published.Load(), len(script.steps))
		} else {
			t.Logf("kill %d: node %s of worker %d (SIGKILL) at %s, %d of %d events published", k+1, c.nodes[node], active.id,
				kills[k].at.Format("15:04:05.000"), published.Load(), len(script.steps))
		}
		if node < 0 {
			ws = append(ws, startWorker(t, dir, len(ws), config(active.id)))
			continue
		}
		// A node is down: wait for the takeover, then start it again
		// (a quorum queue needs two of the three nodes).
		if _, err := waitActive(ctx, ws, kills, true); err != nil {
			dumpWorkers(t, ws, c, name)
			t.Fatalf("after killing node %s: %v", c.nodes[node], err)
		}
		hold.Lock()
		_, err = c.run("restart", c.nodes[node])
		hold.Unlock()
		if err != nil {
			t.Fatalf("restarting %s: %v", c.nodes[node], err)
		}
		cs.redial(t, node) // its publisher's connection ended with it
	}
	if err := pubDone(); err != nil {
		t.Fatalf("publishing: %v", err)
	}
	pubEnd := time.Now()
	if err := waitCalls(ctx, ws, script, 2*time.Second); err != nil {
		dumpWorkers(t, ws, c, name)
		t.Error(err)
	}
	for _, w := range ws {
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
	v := checkCalls(script, lines, kills, end)
	v.report(t)
	if len(kills) > 0 && v.redeliv == 0 {
		t.Errorf("no call was marked Redelivered: the kills hit no call in progress")
	}
	if v.takeoverMissing > 0 {
		t.Errorf("%d of %d kills were followed by no call handed over by another active worker", v.takeoverMissing, len(kills))
	}
	med, mx := durationStats(v.takeovers)
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	var tk []string
	for i, d := range v.takeovers {
		tk = append(tk, kills[min(i, len(kills)-1)].what+" "+ms(d))
	}
	t.Logf("%s: %d calls (%d events) over %d agents, up to %d in progress at once, published at %d events/s in %v; %d worker processes at a time (single active: %v), %d lanes, %v per call",
		b.what, plan.calls, len(script.steps), plan.agents, script.maxOpen, plan.rate, ms(pubEnd.Sub(pubStart)), 1+plan.standbys, plan.standbys > 0, max(plan.lanes, 1), plan.work)
	t.Logf("records: %d (%s); %d second records, every one Redelivered (%d of them partial, to merge); %d records Redelivered; %d calls lost; %d half; %d active intervals (%d overlapping, none handing calls over at once)",
		v.records, v.split(), v.dupes, v.partial, v.redeliv, len(v.lost), len(v.half), len(v.intervals), v.activeOverlaps)
	t.Logf("takeover, from the kill to the first call handed over by the next active worker: median %v, max %v (%s)", ms(med), ms(mx), strings.Join(tk, ", "))
}

// clusterSender publishes through one node of the cluster at a time, and
// moves to another before the test kills the node it uses: the platform's
// publisher is not what the test kills.
type clusterSender struct {
	addrs []string
	mu    sync.Mutex
	pubs  []*publisher
	cur   int
}

func newClusterSender(t *testing.T, c *cluster) *clusterSender {
	cs := &clusterSender{addrs: c.addrs, cur: len(c.addrs) - 1}
	for _, a := range c.addrs {
		cs.pubs = append(cs.pubs, dialPublisher(t, a))
	}
	return cs
}

func (cs *clusterSender) sendRaw(topic string, body []byte, sync bool) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.pubs[cs.cur].sendRaw(topic, body, sync)
}

// redial replaces the publisher of node, whose connection ended with the
// node, by a new one.
func (cs *clusterSender) redial(t *testing.T, node int) {
	p := dialPublisher(t, cs.addrs[node])
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.pubs[node] = p
}

// avoid moves the publisher off node, once the broker confirmed every
// event sent through it.
func (cs *clusterSender) avoid(node int) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.cur != node {
		return nil
	}
	if err := cs.pubs[node].conn.Send("/topic/itc.sync", "text/plain", nil, stomp.SendOpt.Receipt); err != nil {
		return err
	}
	cs.cur = (node + 1) % len(cs.pubs)
	return nil
}

// sleepCtx waits d, or until ctx ends (its cause).
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(d):
		return nil
	}
}

// waitActive waits until a live worker is active (its latest "active"
// line says so) and, when needCall, has handed a call over since it became
// active and since the latest of kills; it returns that worker.
func waitActive(ctx context.Context, ws []*workerProc, kills []kill, needCall bool) (*workerProc, error) {
	var after time.Time
	if len(kills) > 0 {
		after = kills[len(kills)-1].at
	}
	for {
		for _, w := range ws {
			if w.killed {
				continue
			}
			ls, _ := readCallLines(w.out)
			active, handled := false, 0
			for _, l := range ls {
				switch {
				case l.Kind == "active":
					active, handled = l.Active, 0
				case l.Kind == "call" && active && l.at().After(after):
					handled++
				}
			}
			if active && (!needCall || handled > 0) {
				return w, nil
			}
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return nil, fmt.Errorf("no worker became active and handed a call over: %w", err)
		}
	}
}

// connectedNode is the cluster node w is connected to now (its latest
// "conn" line).
func connectedNode(t *testing.T, c *cluster, w *workerProc) int {
	t.Helper()
	ls, err := readCallLines(w.out)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(ls) - 1; i >= 0; i-- {
		if ls[i].Kind == "conn" {
			for n, a := range c.addrs {
				if a == ls[i].Addr {
					return n
				}
			}
			t.Fatalf("worker %d connected to %s, not a node of the cluster", w.id, ls[i].Addr)
		}
	}
	t.Fatalf("worker %d has no connection line", w.id)
	return -1
}

// killActive SIGKILLs the active worker w, or its node when node >= 0 (the
// test's cleanup starts the node again if the test does not).
func killActive(t *testing.T, c *cluster, w *workerProc, node int) kill {
	t.Helper()
	if node < 0 {
		k := kill{worker: w.id, at: time.Now(), what: "process"}
		w.kill(t)
		return k
	}
	t.Cleanup(func() {
		if _, err := c.run("restart", c.nodes[node]); err != nil {
			t.Errorf("restarting %s: %v", c.nodes[node], err)
		}
	})
	// The worker lives on, and fails over to another node: it may even be
	// the next active one.
	k := kill{worker: -1, at: time.Now(), what: "node"}
	if _, err := c.run("kill", c.nodes[node]); err != nil {
		t.Fatal(err)
	}
	return k
}

// waitCalls waits until every call of s has a record, and then nothing
// more came for quiet; it fails when the records stop growing for
// phaseLimit first.
func waitCalls(ctx context.Context, ws []*workerProc, s *callScript, quiet time.Duration) error {
	idx := s.byUID()
	total, since := -1, time.Now()
	for {
		n, seen := 0, map[string]bool{}
		for _, w := range ws {
			ls, _ := readCallLines(w.out)
			for _, l := range ls {
				if l.Kind == "call" {
					n++
					if _, ok := idx[l.UniqueID]; ok {
						seen[l.UniqueID] = true
					}
				}
			}
		}
		if n != total {
			total, since = n, time.Now()
		}
		if len(seen) == len(s.calls) && time.Since(since) >= quiet {
			return nil
		}
		if time.Since(since) > phaseLimit {
			return fmt.Errorf("%d of %d calls recorded, and no record for %v", len(seen), len(s.calls), phaseLimit)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("%d of %d calls recorded: %w", len(seen), len(s.calls), err)
		}
	}
}

// keepWorkerFiles copies, when the test fails and IV_KEEP_WORKERS names a
// directory, the workers' files of dir there (the test's directory is
// removed when it ends), into a directory named after the test.
func keepWorkerFiles(t *testing.T, dir string) {
	keep := os.Getenv("IV_KEEP_WORKERS")
	if keep == "" {
		return
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		to := filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_")+"-"+time.Now().Format("150405"))
		if err := os.CopyFS(to, os.DirFS(dir)); err != nil {
			t.Logf("keeping the workers' files: %v", err)
			return
		}
		t.Logf("the workers' files are in %s", to)
	})
}

// dumpWorkers logs, for a failed run, every worker's stderr and its lines
// other than calls (connections, active changes), and, on a cluster, the
// queues of name and of its lock as each live node lists them: the test's
// directory is removed when it ends.
func dumpWorkers(t *testing.T, ws []*workerProc, c *cluster, name string) {
	t.Helper()
	for _, w := range ws {
		e, _ := os.ReadFile(w.stderr)
		ls, _ := readCallLines(w.out)
		var b strings.Builder
		calls := 0
		for _, l := range ls {
			if l.Kind == "call" {
				calls++
				continue
			}
			fmt.Fprintf(&b, "  %s %s active=%v addr=%s %s\n", time.Unix(0, l.At).UTC().Format("15:04:05.000"), l.Kind, l.Active, l.Addr, l.Msg)
		}
		t.Logf("worker %d (killed %v): %d calls; stderr: %q\n%s", w.id, w.killed, calls, e, b.String())
	}
	if c == nil {
		return
	}
	for _, n := range c.nodes {
		out, err := exec.Command("rabbitmqctl", "-n", n, "-q", "list_queues", "name", "type", "exclusive", "consumers",
			"messages_ready", "messages_unacknowledged", "state", "leader", "online").CombinedOutput()
		t.Logf("%s list_queues (%v):\n%s", n, err, filterLines(string(out), name))
		out, err = exec.Command("rabbitmqctl", "-n", n, "-q", "list_consumers", "queue_name", "channel_pid", "consumer_tag",
			"prefetch_count", "active", "activity_status").CombinedOutput()
		t.Logf("%s list_consumers (%v):\n%s", n, err, filterLines(string(out), name))
		out, err = exec.Command("rabbitmq-queues", "-n", n, "quorum_status", "iv.events."+name).CombinedOutput()
		t.Logf("%s quorum_status (%v):\n%s", n, err, out)
	}
}

func filterLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
