package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// The durable-event tests run against the 3-node cluster of
// scripts/rabbitmq-cluster.sh (IV_RABBITMQ_CLUSTER), which they may kill
// and restart; see clusterCommand. Each uses durable names, topics and
// uniqueids of its own run, and deletes its queues at the end.

// TestDurableWorkerProcesses runs three worker processes on one durable
// name, publishes 20,000 events, SIGKILLs one worker mid-stream and starts
// a replacement: every event is handled (0 lost), and every duplicate is a
// redelivery (Event.Redelivered).
func TestDurableWorkerProcesses(t *testing.T) {
	t.Run("ivtest", func(t *testing.T) { testWorkerProcesses(t, fakeBroker(t), 6000) })
	t.Run("cluster", func(t *testing.T) { testWorkerProcesses(t, &needCluster(t).durableBroker, 20000) })
}

func testWorkerProcesses(t *testing.T, c *durableBroker, n int) {
	const work = time.Millisecond // per event, in each worker, between its record and its ack
	ctx, cancel := context.WithTimeout(context.Background(), durableLimit)
	defer cancel()
	clk := clock{time.Now()}
	run, acct := randHex(6), "itg"+randHex(4)
	topics := agentTopics(acct, 10)
	name := durableName("workers")
	addr, dopts := c.dialOpts(0)
	deleteDurable(t, addr, dopts, name, testDurableOpts())

	dir := t.TempDir()
	config := func(node int) workerConfig {
		addrs := c.rotate(node)
		return workerConfig{Addr: addrs[0], Addrs: addrs[1:], Login: rabbitLogin, Passcode: rabbitPasscode,
			Name: name, Topics: topics, Work: work}
	}
	// The queue exists, and half the events wait in it (the workers start
	// with a backlog, so that each has its prefetch of events in flight
	// when one is killed); the other half is published while they work.
	makeQueue(ctx, t, addr, dopts, name, topics, testDurableOpts())
	pub := c.publisher(t, 0)
	pubStart := clk.now()
	if err := pub.publish(run, 0, n/2, topics, 1000); err != nil {
		t.Fatal(err)
	}
	// Three workers, each on its own node of a cluster.
	ws := []*workerProc{startWorker(t, dir, 0, config(0)), startWorker(t, dir, 1, config(1)), startWorker(t, dir, 2, config(2))}
	victim := ws[1]
	published := background(t, func() error { return pub.publish(run, n/2, n, topics, 1000) })

	records := func() int {
		total := 0
		for _, w := range ws {
			total += countLines(w.out)
		}
		return total
	}
	distinct := func() (int, map[string][]delivery, error) {
		seen := map[string][]delivery{}
		for _, w := range ws {
			if _, err := readRecords(w.out, w.id, seen); err != nil {
				return 0, nil, err
			}
		}
		return len(seen), seen, nil
	}

	// Mid-stream, once a third of the events are handled and the victim
	// has its share in flight: SIGKILL, and a replacement on its node.
	var killAt time.Duration
	var victimHad int
	progress := stallCheck(t, clk, records)
	for !victim.killed {
		progress()
		if got := records(); got >= n/3 {
			if victimHad = countLines(victim.out); victimHad >= 100 {
				killAt = clk.now()
				victim.kill(t)
				ws = append(ws, startWorker(t, dir, 3, config(1)))
				break
			}
			if got >= n {
				t.Fatalf("worker 1 handled only %d of %d events: there was no mid-stream to kill it in", victimHad, got)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d records after %v; workers too slow?", records(), durableLimit)
		case <-time.After(10 * time.Millisecond):
		}
	}

	// Then every event is handled, and nothing more comes for a second
	// (late redeliveries).
	var (
		lastTotal, got   int
		lastChange, done time.Duration
	)
	for {
		progress()
		total := records()
		if total != lastTotal {
			lastTotal, lastChange = total, clk.now()
		}
		if total >= n {
			var err error
			if got, _, err = distinct(); err != nil {
				t.Fatal(err)
			}
			if got == n && done == 0 {
				done = clk.now()
			}
			if got == n && clk.now()-lastChange >= time.Second {
				break
			}
		}
		select {
		case <-ctx.Done():
			got, _, _ = distinct()
			t.Fatalf("only %d of %d events handled after %v", got, n, durableLimit)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := published(); err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		w.stop(t)
	}
	seen := map[string][]delivery{}
	for _, w := range ws {
		if _, err := readRecords(w.out, w.id, seen); err != nil {
			t.Fatal(err)
		}
	}
	v := judge(seen, run, n, topics)
	v.check(t, n)
	if v.redelivered == 0 {
		t.Errorf("no event was redelivered: the kill of worker 1 (after %d records) hit none in flight", victimHad)
	}
	if v.perWorker[3] == 0 {
		t.Errorf("the replacement worker handled no event")
	}
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	t.Logf("%s: %d events on %d topics through one durable name (classic queue; half of them waiting when the workers start), 3 worker processes (%d broker nodes), %v between each record and its ack; worker 1 SIGKILLed at %v after %d records, replaced by worker 3",
		c.what, n, len(topics), len(c.addrs), work, ms(killAt-pubStart), victimHad)
	t.Logf("split (records per worker, duplicates included): %s; %d lost; %d duplicates, every one a redelivery; %d deliveries marked Redelivered",
		v.split(), v.lost, v.dupes, v.redelivered)
	t.Logf("all %d handled %v after the first publish (%.0f events/s)", n, ms(done-pubStart), float64(n)/(done-pubStart).Seconds())
}

// makeQueue subscribes to name once, so that the broker makes its queue,
// and leaves.
func makeQueue(ctx context.Context, t *testing.T, addr string, dopts []stompx.Option, name string, topics []string, opts []stompx.DurableOption) {
	t.Helper()
	tr, err := stompx.Dial(ctx, addr, dopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	sub, err := tr.SubscribeDurable(ctx, name, topics, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDurableOutage publishes events while no worker is connected to a
// durable name: the worker started afterwards gets them all, none marked
// Redelivered (they were never delivered before).
func TestDurableOutage(t *testing.T) {
	t.Run("ivtest", func(t *testing.T) { testOutage(t, fakeBroker(t)) })
	t.Run("cluster", func(t *testing.T) { testOutage(t, &needCluster(t).durableBroker) })
}

func testOutage(t *testing.T, c *durableBroker) {
	const n = 1000
	ctx, cancel := context.WithTimeout(context.Background(), durableLimit)
	defer cancel()
	clk := clock{time.Now()}
	run, acct := randHex(6), "itg"+randHex(4)
	topics := agentTopics(acct, 3)
	name := durableName("outage")
	opts := testDurableOpts()
	addr, dopts := c.dialOpts(1 % len(c.addrs))
	deleteDurable(t, addr, dopts, name, opts)

	// The worker subscribes once (the broker makes the queue), then stops.
	makeQueue(ctx, t, addr, dopts, name, topics, opts)

	// The platform goes on publishing, through another node.
	pub := c.publisher(t, 2%len(c.addrs))
	if err := pub.publish(run, 0, n, topics, 100); err != nil {
		t.Fatal(err)
	}

	// A worker started now gets every event.
	startAt := clk.now()
	tr, err := stompx.Dial(ctx, addr, dopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	sub, err := tr.SubscribeDurable(ctx, name, topics, opts...)
	if err != nil {
		t.Fatal(err)
	}
	tl := newTally(clk)
	done := tl.consume(0, sub)
	defer func() { _ = sub.Close(); <-done }()
	ok := waitAll(ctx, tl.distinct, n, tl.lastAt, clk, 500*time.Millisecond)
	first, gotAny := tl.firstAfter(-1, startAt)
	_ = sub.Close()
	<-done
	tl.mu.Lock()
	v := judge(tl.seen, run, n, topics)
	bad := tl.bad
	tl.mu.Unlock()
	if !ok {
		t.Errorf("the worker got %d of %d events", tl.distinct(), n)
	}
	v.check(t, n)
	if v.redelivered != 0 {
		t.Errorf("%d events marked Redelivered: none was delivered before", v.redelivered)
	}
	for _, b := range bad {
		t.Error(b)
	}
	if gotAny {
		t.Logf("%s: %d events published while no worker was connected; the worker started afterwards got %d (%d duplicates), the first %v after it started",
			c.what, n, n-v.lost, v.dupes, (first - startAt).Round(time.Millisecond))
	}
}

// TestDurableQuorumRestart publishes events (not persistent, as the
// platform sends them) to a quorum durable queue while no worker is
// connected, kills every node of the cluster and starts them again: a
// worker then gets every event. A classic queue bound to the same topics
// beside it shows what the quorum queue is for (its count is logged).
func TestDurableQuorumRestart(t *testing.T) {
	c := needCluster(t)
	const n = 1000
	ctx, cancel := context.WithTimeout(context.Background(), durableLimit)
	defer cancel()
	clk := clock{time.Now()}
	run, acct := randHex(6), "itg"+randHex(4)
	topics := agentTopics(acct, 3)
	quorum, classic := durableName("quorum"), durableName("classic")
	qopts, copts := testDurableOpts(stompx.WithQuorumQueue()), testDurableOpts()
	addr, dopts := c.dialOpts(0)
	deleteDurable(t, addr, dopts, quorum, qopts)
	deleteDurable(t, addr, dopts, classic, copts)

	makeQueue(ctx, t, addr, dopts, quorum, topics, qopts)
	makeQueue(ctx, t, addr, dopts, classic, topics, copts)
	q, err := c.queue("iv.events." + quorum)
	if err != nil {
		t.Fatal(err)
	}
	if q.Type != "quorum" || len(q.Members) != 3 {
		t.Fatalf("queue %s: type %s, members %v; want a quorum queue on the 3 nodes", q.Name, q.Type, q.Members)
	}

	pub := dialPublisher(t, c.addrs[1])
	if err := pub.publish(run, 0, n, topics, 100); err != nil {
		t.Fatal(err)
	}
	_ = pub.conn.Disconnect()

	// The whole broker crashes, and comes back.
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			if _, err := c.run("restart", "all"); err != nil {
				t.Errorf("restarting the cluster after a failure: %v", err)
			}
		}
	})
	// RabbitMQ 3.10 saves a new quorum queue's Raft registration and term
	// only every 0.5-5 s (scripts/rabbitmq-cluster.sh, flush): a crash of
	// every node inside that window loses the queue itself, not only its
	// messages. The events above were confirmed (receipts); the crash
	// tested here is of a cluster that has had that long.
	if _, err := c.run("flush"); err != nil {
		t.Fatal(err)
	}
	killAt := clk.now()
	if _, err := c.run("kill", "all"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.run("restart", "all"); err != nil {
		t.Fatal(err)
	}
	restarted = true
	upAt := clk.now()
	if err := c.waitOnline("iv.events."+quorum, 3, time.Minute); err != nil {
		t.Fatal(err)
	}

	tr, err := stompx.Dial(ctx, addr, dopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	count := func(name string, opts []stompx.DurableOption, want int, quiet time.Duration) (*tally, bool) {
		tl := newTally(clk)
		sub, err := tr.SubscribeDurable(ctx, name, topics, opts...)
		if err != nil {
			t.Fatal(err)
		}
		done := tl.consume(0, sub)
		ok := waitAll(ctx, tl.distinct, want, tl.lastAt, clk, quiet)
		_ = sub.Close()
		<-done
		return tl, ok
	}
	qt, ok := count(quorum, qopts, n, 500*time.Millisecond)
	if !ok {
		t.Errorf("after the restart the quorum queue gave %d of %d events", qt.distinct(), n)
	}
	v := judge(qt.seen, run, n, topics)
	v.check(t, n)
	for _, b := range qt.bad {
		t.Error(b)
	}
	ct, _ := count(classic, copts, 0, 2*time.Second)
	t.Logf("%d non-persistent events waiting in a quorum queue; every node SIGKILLed, then restarted (cluster back %v after the kill): the quorum queue kept %d (%d lost); a classic queue beside it kept %d",
		n, (upAt - killAt).Round(time.Millisecond), n-v.lost, v.lost, ct.distinct())
}

// waitOnline waits until the queue's online members number want and it has
// a leader.
func (c *cluster) waitOnline(queue string, want int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		q, err := c.queue(queue)
		if err == nil && len(q.Online) == want && q.Leader != "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("queue %s: %+v (%v) after %v; want %d members online", queue, q, err, limit, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDurableClusterFailover runs three workers on one quorum durable name,
// each connected to another node of the cluster (WithAddrs lists all
// three), and SIGKILLs the node holding the queue's leader while events
// flow: every event is handled at least once (duplicates are
// redeliveries), and the workers that were on the killed node fail over to
// another node and go on handling events. The killed node is started again
// at the end.
func TestDurableClusterFailover(t *testing.T) {
	c := needCluster(t)
	const n = 6000
	ctx, cancel := context.WithTimeout(context.Background(), durableLimit)
	defer cancel()
	clk := clock{time.Now()}
	run, acct := randHex(6), "itg"+randHex(4)
	topics := agentTopics(acct, 10)
	name := durableName("failover")
	queue := "iv.events." + name
	opts := testDurableOpts(stompx.WithQuorumQueue())
	addr, dopts := c.dialOpts(0)
	deleteDurable(t, addr, dopts, name, opts)

	tl := newTally(clk)
	states := make([]*stateRec, 3)
	subs := make([]*events.Subscription, 3)
	for i := range subs {
		states[i] = &stateRec{clk: clk}
		a, o := c.dialOpts(i, stompx.WithStateHandler(states[i].add))
		tr, err := stompx.Dial(ctx, a, o...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		// The first subscription makes the queue (RabbitMQ puts its leader
		// on that node); the test reads where the leader is.
		sub, err := tr.SubscribeDurable(ctx, name, topics, opts...)
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = sub
		done := tl.consume(i, sub)
		t.Cleanup(func() { _ = sub.Close(); <-done })
	}
	q, err := c.queue(queue)
	if err != nil {
		t.Fatal(err)
	}
	leader := c.node(q.Leader)
	if q.Type != "quorum" || len(q.Members) != 3 || leader < 0 {
		t.Fatalf("queue %s: type %s, leader %s, members %v; want a quorum queue on the 3 nodes", queue, q.Type, q.Leader, q.Members)
	}
	for _, m := range c.nodes {
		if !slices.Contains(q.Members, m) {
			t.Fatalf("queue %s: members %v lack %s", queue, q.Members, m)
		}
	}

	// The platform publishes through another node, at about 2,000 events/s,
	// each batch of 50 confirmed by the broker.
	pub := dialPublisher(t, c.addrs[(leader+1)%3])
	pubStart := clk.now()
	pubCtx, stopPub := context.WithCancel(ctx)
	published := background(t, func() error {
		for i := 0; i < n; i += 50 {
			if err := pub.publish(run, i, min(i+50, n), topics, 0); err != nil {
				return err
			}
			select {
			case <-pubCtx.Done():
				return pubCtx.Err()
			case <-time.After(25 * time.Millisecond):
			}
		}
		return nil
	})
	t.Cleanup(stopPub) // runs before the cleanup that waits for the publisher

	// While events flow, the leader's node dies.
	for tl.distinct() < n/4 {
		select {
		case <-ctx.Done():
			t.Fatalf("only %d events handled before the kill", tl.distinct())
		case <-time.After(10 * time.Millisecond):
		}
	}
	var onLeader []int // the workers connected to the killed node
	for i, tr := range states {
		if a, ok := connectedAddr(tr); ok && a == c.addrs[leader] {
			onLeader = append(onLeader, i)
		}
	}
	t.Cleanup(func() {
		if _, err := c.run("restart", c.nodes[leader]); err != nil {
			t.Errorf("restarting %s: %v", c.nodes[leader], err)
			return
		}
		if err := c.waitOnline(queue, 3, time.Minute); err != nil {
			t.Errorf("after restarting %s: %v", c.nodes[leader], err)
		}
	})
	killAt := clk.now()
	handledBefore := tl.distinct()
	if _, err := c.run("kill", c.nodes[leader]); err != nil {
		t.Fatal(err)
	}

	// A new leader, among the two nodes left.
	var newLeader string
	var leaderAt time.Duration
	for deadline := time.Now().Add(phaseLimit); ; {
		if q, err := c.queue(queue); err == nil && q.Leader != "" && q.Leader != c.nodes[leader] {
			newLeader, leaderAt = q.Leader, clk.now()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s has no new leader %v after %s was killed", queue, phaseLimit, c.nodes[leader])
		}
		time.Sleep(100 * time.Millisecond)
	}

	if err := published(); err != nil {
		t.Fatalf("publishing: %v", err)
	}
	pubEnd := clk.now()
	ok := waitAll(ctx, tl.distinct, n, tl.lastAt, clk, time.Second)
	if !ok {
		t.Errorf("%d of %d events handled", tl.distinct(), n)
	}
	tl.mu.Lock()
	v := judge(tl.seen, run, n, topics)
	bad, ackErrs := tl.bad, fmt.Sprint(tl.ackErrs)
	tl.mu.Unlock()
	v.check(t, n)
	for _, b := range bad {
		t.Error(b)
	}
	for i, s := range subs {
		if err := s.Err(); err != nil {
			t.Errorf("worker %d's subscription ended: %v", i, err)
		}
	}

	// The workers of the killed node failed over and went on working.
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	firstAny, _ := tl.firstAfter(-1, killAt)
	var fo []string
	if len(onLeader) == 0 {
		t.Errorf("no worker was connected to %s, the leader's node", c.nodes[leader])
	}
	for _, i := range onLeader {
		lost, ok1 := states[i].first(stompx.Reconnecting, killAt)
		back, ok2 := states[i].first(stompx.Connected, lost.at)
		if !ok1 || !ok2 {
			t.Errorf("worker %d (on %s) did not reconnect: %v", i, c.nodes[leader], describe(states[i].all()))
			continue
		}
		if back.Addr == c.addrs[leader] {
			t.Errorf("worker %d reconnected to the killed node %s", i, back.Addr)
		}
		ev, ok := tl.firstAfter(i, back.at)
		if !ok {
			t.Errorf("worker %d handled no event after it failed over to %s", i, back.Addr)
			continue
		}
		fo = append(fo, fmt.Sprintf("worker %d: connection lost after %v, connected to %s after %v, first event after %v",
			i, ms(lost.at-killAt), back.Addr, ms(back.at-killAt), ms(ev-killAt)))
	}
	t.Logf("%d events through a quorum queue on 3 nodes (leader %s), 3 workers on 3 nodes; %s SIGKILLed at %v with %d handled; publishing ended at %v",
		n, c.nodes[leader], c.nodes[leader], ms(killAt-pubStart), handledBefore, ms(pubEnd-pubStart))
	t.Logf("new leader %s seen %v after the kill; first event handled after the kill: %v; %s",
		newLeader, ms(leaderAt-killAt), ms(firstAny-killAt), strings.Join(fo, "; "))
	t.Logf("split: %s; %d lost; %d duplicates, every one a redelivery; %d deliveries marked Redelivered; failed acks %s",
		v.split(), v.lost, v.dupes, v.redelivered, ackErrs)
}

// connectedAddr returns the address of the transport's latest Connected.
func connectedAddr(r *stateRec) (string, bool) {
	all := r.all()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].State == stompx.Connected {
			return all[i].Addr, true
		}
	}
	return "", false
}
