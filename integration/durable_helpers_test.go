package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// clusterCommand runs the durable-event tests against the cluster of
// scripts/rabbitmq-cluster.sh.
const clusterCommand = "bash scripts/rabbitmq-cluster.sh start && " +
	"IV_RABBITMQ_CLUSTER=$(bash scripts/rabbitmq-cluster.sh addrs) IV_REQUIRE_BROKER=1 " +
	"go test -race -count=1 -run Durable -v ./integration"

// durableLimit bounds each durable-event test.
const durableLimit = 4 * time.Minute

// durableBroker is where a durable-event test runs: the cluster, or
// ivtest's broker (one address).
type durableBroker struct {
	what  string   // "cluster" or "ivtest", for the logs
	addrs []string // the STOMP addresses, one per node
	// publisher returns the platform's side: events published on node.
	publisher func(t *testing.T, node int) eventPublisher
}

// eventPublisher publishes events from..to-1 of run on topics, as the
// platform would, and returns once the broker has them all.
type eventPublisher interface {
	publish(run string, from, to int, topics []string, receiptEvery int) error
}

// fakeBroker is ivtest's broker, in this process; the test closes it.
func fakeBroker(t *testing.T) *durableBroker {
	p := ivtest.NewPlatform(t)
	return &durableBroker{what: "ivtest", addrs: []string{p.STOMPAddr()},
		publisher: func(*testing.T, int) eventPublisher { return fakePublisher{p} }}
}

// fakePublisher publishes through ivtest's platform.
type fakePublisher struct{ p *ivtest.Platform }

func (f fakePublisher) publish(run string, from, to int, topics []string, _ int) error {
	for i := from; i < to; i++ {
		topic, body, _ := testEvent(run, i, topics)
		if err := f.p.PublishRaw(topic, body); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), phaseLimit)
	defer cancel()
	return f.p.Sync(ctx)
}

// cluster is the 3-node RabbitMQ cluster of scripts/rabbitmq-cluster.sh:
// its STOMP addresses (IV_RABBITMQ_CLUSTER) and the script that kills and
// restarts its nodes (IV_RABBITMQ_CLUSTER_CTL, default the repository's).
type cluster struct {
	durableBroker
	ctl   string
	nodes []string // nodes[i] is the node name of addrs[i]
}

// needCluster returns the cluster, or skips when IV_RABBITMQ_CLUSTER is not
// set; when it is set and IV_REQUIRE_BROKER too, a node that does not
// answer fails the test.
func needCluster(t *testing.T) *cluster {
	t.Helper()
	env := strings.TrimSpace(os.Getenv("IV_RABBITMQ_CLUSTER"))
	if env == "" {
		t.Skip("needs the 3-node RabbitMQ cluster (it kills and restarts its nodes); run: " + clusterCommand)
	}
	unavailable := t.Skipf
	if os.Getenv("IV_REQUIRE_BROKER") != "" {
		unavailable = t.Fatalf
	}
	c := &cluster{ctl: os.Getenv("IV_RABBITMQ_CLUSTER_CTL")}
	c.what = "cluster"
	c.publisher = func(t *testing.T, node int) eventPublisher { return dialPublisher(t, c.addrs[node]) }
	for _, a := range strings.Split(env, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.addrs = append(c.addrs, a)
		}
	}
	if len(c.addrs) != 3 {
		t.Fatalf("IV_RABBITMQ_CLUSTER=%q: want the three nodes' STOMP addresses", env)
	}
	if c.ctl == "" {
		c.ctl = filepath.Join("..", "scripts", "rabbitmq-cluster.sh")
	}
	if _, err := os.Stat(c.ctl); err != nil {
		t.Fatalf("the cluster script: %v (set IV_RABBITMQ_CLUSTER_CTL)", err)
	}
	for _, a := range c.addrs {
		conn, err := net.DialTimeout("tcp", a, 5*time.Second)
		if err != nil {
			unavailable("cluster node %s does not answer: %v (run: %s)", a, err, clusterCommand)
			return nil
		}
		_ = conn.Close()
	}
	// Which node serves which address, as the script says.
	out, err := c.run("nodes")
	if err != nil {
		t.Fatal(err)
	}
	byAddr := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			byAddr[f[2]] = f[1]
		}
	}
	for _, a := range c.addrs {
		n, ok := byAddr[a]
		if !ok {
			t.Fatalf("%s nodes lists no node at %s:\n%s", c.ctl, a, out)
		}
		c.nodes = append(c.nodes, n)
	}
	return c
}

// run runs the cluster script, bounded by two minutes.
func (c *cluster) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{c.ctl}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v: %s", c.ctl, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// node returns the index of the node named n, or -1.
func (c *cluster) node(n string) int {
	for i, m := range c.nodes {
		if m == n {
			return i
		}
	}
	return -1
}

// queueInfo is a queue as rabbitmqctl list_queues shows it.
type queueInfo struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Leader  string   `json:"leader"`
	Members []string `json:"members"`
	Online  []string `json:"online"`
}

func (c *cluster) queue(name string) (queueInfo, error) {
	var q queueInfo
	out, err := c.run("queue", name)
	if err != nil {
		return q, err
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &q); err != nil {
		return q, fmt.Errorf("queue %s: %v: %q", name, err, out)
	}
	return q, nil
}

// rotate returns the broker's addresses starting at node first.
func (b *durableBroker) rotate(first int) []string {
	out := make([]string, len(b.addrs))
	for i := range out {
		out[i] = b.addrs[(first+i)%len(b.addrs)]
	}
	return out
}

// dialOpts are the options of a test transport, connected to node first
// and failing over to the others. (ivtest's login is RabbitMQ's.)
func (b *durableBroker) dialOpts(first int, extra ...stompx.Option) (string, []stompx.Option) {
	addrs := b.rotate(first)
	opts := append([]stompx.Option{
		stompx.WithLogin(rabbitLogin, rabbitPasscode),
		stompx.WithAddrs(addrs[1:]...),
		stompx.WithReconnectBackoff(50*time.Millisecond, 500*time.Millisecond),
	}, extra...)
	return addrs[0], opts
}

// durableName is a name of this run only: RabbitMQ keeps durable queues.
func durableName(what string) string { return "itg-" + what + "-" + randHex(4) }

// testDurableOpts are added to every test queue's options, so that a queue
// a failed run leaves behind is deleted by the broker.
func testDurableOpts(opts ...stompx.DurableOption) []stompx.DurableOption {
	return append([]stompx.DurableOption{stompx.WithIdleExpiry(15 * time.Minute)}, opts...)
}

// deleteDurable removes the queue of name at the end of the test.
func deleteDurable(t *testing.T, addr string, dopts []stompx.Option, name string, opts []stompx.DurableOption) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tr, err := stompx.Dial(ctx, addr, dopts...)
		if err != nil {
			t.Errorf("deleting durable %s: %v", name, err)
			return
		}
		defer tr.Close()
		if err := tr.DeleteDurable(ctx, name, opts...); err != nil {
			t.Errorf("deleting durable %s: %v", name, err)
		}
	})
}

// agentTopics are the topics of n agents of accountcode acct.
func agentTopics(acct string, n int) []string {
	topics := make([]string, n)
	for i := range topics {
		topics[i] = events.AgentTopic(acct, fmt.Sprint(1001+i))
	}
	return topics
}

var flowTypes = [...]events.Type{events.NewCall, events.Connect, events.Hangup}

// testEvent is event i of a run: calls of three events (NEWCALL, CONNECT,
// HANGUP) spread over the agents of topics. Its key (uniqueid/type) is
// unique in the run.
func testEvent(run string, i int, topics []string) (topic string, body []byte, key string) {
	call := i / len(flowTypes)
	typ := flowTypes[i%len(flowTypes)]
	topic = topics[call%len(topics)]
	agent := strings.TrimPrefix(topic, events.TopicPrefix)
	uid := fmt.Sprintf("%s.%d", run, call)
	ev := map[string]string{"direction": "INBOUND", "callerid": "2100000000", "type": string(typ), "uniqueid": uid, "agent": agent}
	switch typ {
	case events.Connect:
		ev["direction"] = ""
	case events.Hangup:
		ev["direction"], ev["reason"] = "", events.ReasonByCaller
	}
	body, _ = json.Marshal(ev)
	return topic, body, eventKey(uid, typ)
}

func eventKey(uid string, typ events.Type) string { return uid + "/" + string(typ) }

// publisher plays the platform: it publishes events on the broker.
type publisher struct {
	conn *stomp.Conn
}

func dialPublisher(t *testing.T, addr string) *publisher {
	t.Helper()
	conn, err := stomp.Dial("tcp", addr,
		stomp.ConnOpt.Login(rabbitLogin, rabbitPasscode),
		stomp.ConnOpt.Host("/"),
		stomp.ConnOpt.HeartBeat(0, 0),
		stomp.ConnOpt.DisconnectReceiptTimeout(5*time.Second))
	if err != nil {
		t.Fatalf("publisher on %s: %v", addr, err)
	}
	p := &publisher{conn: conn}
	t.Cleanup(func() { _ = conn.Disconnect() })
	return p
}

// publish sends events from..to-1 of run on topics; every receiptEvery-th
// (and the last) waits for the broker's receipt, which RabbitMQ sends once
// the message is confirmed (and so every one before it on this connection).
func (p *publisher) publish(run string, from, to int, topics []string, receiptEvery int) error {
	for i := from; i < to; i++ {
		topic, body, _ := testEvent(run, i, topics)
		var opts []func(*frame.Frame) error
		if i == from || i == to-1 || (receiptEvery > 0 && (i-from)%receiptEvery == 0) {
			opts = append(opts, stomp.SendOpt.Receipt)
		}
		if err := p.conn.Send(topic, "application/json", body, opts...); err != nil {
			return fmt.Errorf("publishing event %d: %w", i, err)
		}
	}
	return nil
}

// delivery is one event as a consumer handled it.
type delivery struct {
	worker      int
	redelivered bool
	at          time.Duration
}

// tally counts what the consumers of one durable name handled, by key.
type tally struct {
	clk     clock
	mu      sync.Mutex
	seen    map[string][]delivery
	total   int
	last    time.Duration
	ackErrs map[string]int // Ack errors, by kind
	bad     []string       // Ack errors that must not happen, and unknown events
}

func newTally(clk clock) *tally {
	// last starts now: a quiet period counts from the tally's start.
	return &tally{clk: clk, seen: map[string][]delivery{}, ackErrs: map[string]int{}, last: clk.now()}
}

func (tl *tally) add(worker int, ev events.Event) {
	at := tl.clk.now()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	k := eventKey(ev.UniqueID, ev.Type)
	tl.seen[k] = append(tl.seen[k], delivery{worker: worker, redelivered: ev.Redelivered, at: at})
	tl.total++
	tl.last = at
}

func (tl *tally) ackErr(err error) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if errors.Is(err, ivclient.ErrConnectionLost) {
		tl.ackErrs["ErrConnectionLost"]++
		return
	}
	tl.ackErrs["other"]++
	if len(tl.bad) < 10 {
		tl.bad = append(tl.bad, "Ack: "+err.Error())
	}
}

// lastAt is when the latest event was handled.
func (tl *tally) lastAt() time.Duration {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.last
}

func (tl *tally) distinct() int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.seen)
}

// firstAfter returns when worker (-1: any) first handled an event at or
// after from, and whether it did.
func (tl *tally) firstAfter(worker int, from time.Duration) (time.Duration, bool) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	best, ok := time.Duration(0), false
	for _, ds := range tl.seen {
		for _, d := range ds {
			if (worker < 0 || d.worker == worker) && d.at >= from && (!ok || d.at < best) {
				best, ok = d.at, true
			}
		}
	}
	return best, ok
}

// consume handles every event of sub as a worker: it counts it, then acks
// it. It stops when sub ends.
func (tl *tally) consume(worker int, sub *events.Subscription) (done <-chan struct{}) {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for ev := range sub.C() {
			tl.add(worker, ev)
			if err := sub.Ack(ev); err != nil {
				tl.ackErr(err)
			}
		}
	}()
	return ch
}

// waitAll waits until count() reaches want and then nothing more arrived
// for quiet (last() is when the latest event came: late redeliveries), or
// until ctx is done; it reports whether count reached want.
// It also gives up when count stays the same for phaseLimit.
func waitAll(ctx context.Context, count func() int, want int, last func() time.Duration, clk clock, quiet time.Duration) bool {
	prev, since := -1, clk.now()
	for {
		n := count()
		if n >= want && clk.now()-last() >= quiet {
			return true
		}
		if n != prev {
			prev, since = n, clk.now()
		} else if clk.now()-since > phaseLimit {
			return n >= want
		}
		select {
		case <-ctx.Done():
			return count() >= want
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// background runs f on a goroutine of its own. The function it returns
// waits for f and returns its error (it may be called again); the test's
// cleanup waits for f too.
func background(t *testing.T, f func() error) (wait func() error) {
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		err = f()
	}()
	t.Cleanup(func() { <-done })
	return func() error {
		<-done
		return err
	}
}

// stallCheck returns a function that fails the test when count has not
// changed for phaseLimit since its previous calls.
func stallCheck(t *testing.T, clk clock, count func() int) func() {
	prev, since := -1, clk.now()
	return func() {
		t.Helper()
		if n := count(); n != prev {
			prev, since = n, clk.now()
		} else if clk.now()-since > phaseLimit {
			t.Fatalf("no progress for %v: %d records", phaseLimit, n)
		}
	}
}

// verdict is what judge found in the deliveries of a run's events.
type verdict struct {
	lost, dupes, redelivered, unknown int
	firstTime                         int // events delivered more than once with Redelivered false: must be 0
	perWorker                         map[int]int
	lostKeys, badKeys                 []string
}

// judge checks the deliveries of events 0..n-1 of run: none lost, and
// every duplicate a redelivery (at most one delivery of an event without
// Redelivered); the counts are for the log.
func judge(seen map[string][]delivery, run string, n int, topics []string) verdict {
	v := verdict{perWorker: map[int]int{}}
	want := make(map[string]bool, n)
	for i := 0; i < n; i++ {
		_, _, k := testEvent(run, i, topics)
		want[k] = true
		if len(seen[k]) == 0 {
			v.lost++
			if len(v.lostKeys) < 10 {
				v.lostKeys = append(v.lostKeys, k)
			}
		}
	}
	for k, ds := range seen {
		if !want[k] {
			v.unknown += len(ds)
			continue
		}
		fresh := 0
		for _, d := range ds {
			v.perWorker[d.worker]++
			if d.redelivered {
				v.redelivered++
			} else {
				fresh++
			}
		}
		v.dupes += len(ds) - 1
		if fresh > 1 {
			v.firstTime += fresh - 1
			if len(v.badKeys) < 10 {
				v.badKeys = append(v.badKeys, fmt.Sprintf("%s %+v", k, ds))
			}
		}
	}
	return v
}

func (v verdict) check(t *testing.T, n int) {
	t.Helper()
	if v.lost > 0 {
		t.Errorf("%d of %d events lost, e.g. %v", v.lost, n, v.lostKeys)
	}
	if v.firstTime > 0 {
		t.Errorf("%d duplicates were not marked Redelivered, e.g. %v", v.firstTime, v.badKeys)
	}
	if v.unknown > 0 {
		t.Errorf("%d deliveries of events this test did not publish", v.unknown)
	}
}

func (v verdict) split() string {
	ws := make([]int, 0, len(v.perWorker))
	for w := range v.perWorker {
		ws = append(ws, w)
	}
	sort.Ints(ws)
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("w%d=%d", w, v.perWorker[w])
	}
	return strings.Join(parts, " ")
}

// readRecords reads a worker process's records: one line per event
// handled, "<key> <0|1>" (1: redelivered), written before the Ack. A
// last line cut by SIGKILL (no newline) is ignored.
func readRecords(path string, worker int, into map[string][]delivery) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if len(line) == 0 {
			continue
		}
		k, r, ok := strings.Cut(line, " ")
		if !ok || (r != "0" && r != "1") {
			if !bytes.HasSuffix(b, []byte("\n")) && strings.HasSuffix(string(b), line) {
				break // cut by the kill
			}
			return n, fmt.Errorf("%s: bad record %q", path, line)
		}
		into[k] = append(into[k], delivery{worker: worker, redelivered: r == "1"})
		n++
	}
	return n, sc.Err()
}

// countLines counts the complete records of a worker's file.
func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte("\n"))
}
