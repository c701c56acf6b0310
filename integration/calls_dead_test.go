package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// buildIvctl builds cmd/ivctl into a directory of the test.
func buildIvctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ivctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/ivctl").CombinedOutput(); err != nil {
		t.Fatalf("building ivctl: %v\n%s", err, out)
	}
	return bin
}

// runIvctl runs ivctl against addr and returns its stdout; it fails the
// test when ivctl fails.
func runIvctl(t *testing.T, bin, addr string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), phaseLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-stomp", addr}, args...)...)
	cmd.Env = append(cmd.Environ(), "IV_STOMP_LOGIN="+rabbitLogin, "IV_STOMP_PASSCODE="+rabbitPasscode)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ivctl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// deadLine is a line of ivctl dead list.
type deadLine struct {
	Event map[string]string `json:"event"`
	Cause string            `json:"cause"`
	At    time.Time         `json:"at"`
}

func deadList(t *testing.T, bin, addr, name string) []deadLine {
	t.Helper()
	var out []deadLine
	for _, s := range strings.Split(strings.TrimSpace(runIvctl(t, bin, addr, "dead", "list", name)), "\n") {
		if s == "" {
			continue
		}
		var l deadLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("ivctl dead list printed %q: %v", s, err)
		}
		out = append(out, l)
	}
	return out
}

// TestCallsPoison consumes calls of 10 agents with Consume (4 lanes,
// WithRetry(3, 10ms)) while one event always fails: it is tried 3 times,
// then dead-lettered with the handler's error text; every other event is
// handled, each agent's in order, the poisoned agent's later ones
// included. ivctl dead list shows it; once the store is fixed, ivctl dead
// replay hands it to the consumer again; a second poison event is removed
// by ivctl dead purge.
func TestCallsPoison(t *testing.T) {
	b := needRabbit(t)
	bin := buildIvctl(t)
	ctx, cancel := context.WithTimeout(context.Background(), durableLimit)
	defer cancel()
	topics := agentTopics("itx"+randHex(4), 10)
	script := newCallScript(randHex(6), topics, 100, uint64(time.Now().UnixNano()))
	poison := eventKey(script.calls[42].uid, events.NewCall)
	poisonAgent := script.calls[42].agent
	name := durableName("poison")
	addr, dopts := b.dialOpts(0)
	deleteDurable(t, addr, dopts, name, testDurableOpts())
	tr, err := stompx.Dial(ctx, addr, dopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	sub, err := tr.SubscribeDurable(ctx, name, []string{events.AllAgents}, testDurableOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	want := map[string][]string{}
	for _, st := range script.steps {
		c := script.calls[st.call]
		if k := eventKey(c.uid, st.typ); k != poison {
			want[c.agent] = append(want[c.agent], k)
		}
	}
	var (
		mu      sync.Mutex
		order   = map[string][]string{}
		tries   = map[string]int{}
		broken  atomic.Value // the key the store refuses
		handled = make(chan string, 1024)
	)
	broken.Store(poison)
	cctx, stop := context.WithCancel(ctx)
	consumed := background(t, func() error {
		return events.Consume(cctx, sub, func(_ context.Context, ev events.Event) error {
			if want[ev.Agent] == nil {
				return nil // another test's
			}
			k := eventKey(ev.UniqueID, ev.Type)
			mu.Lock()
			defer mu.Unlock()
			tries[k]++
			if k == broken.Load().(string) {
				return fmt.Errorf("store: no row for call %s", ev.UniqueID)
			}
			order[ev.Agent] = append(order[ev.Agent], k)
			handled <- k
			return nil
		}, events.WithLanes(4), events.WithRetry(3, 10*time.Millisecond))
	})
	defer func() { stop(); _ = consumed() }()
	pub := b.publisher(t, 0).(rawSender)
	if err := script.publishSteps(ctx, pub, 0, len(script.steps), 0, nil); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(phaseLimit); !cond(); {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after %v", what, phaseLimit)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	total := len(script.steps) - 1
	waitFor("every other event handled", func() bool { return len(handled) >= total })
	for range total {
		<-handled
	}
	var dead []deadLine
	waitFor("the poison event dead-lettered", func() bool { dead = deadList(t, bin, addr, name); return len(dead) > 0 })

	mu.Lock()
	for agent, ks := range want {
		if !slices.Equal(order[agent], ks) {
			t.Errorf("agent %s: handled %v, want %v", agent, order[agent], ks)
		}
	}
	if tries[poison] != 3 {
		t.Errorf("the poison event was tried %d times, want WithRetry's 3", tries[poison])
	}
	mu.Unlock()
	uid := script.calls[42].uid
	if len(dead) != 1 || dead[0].Event["uniqueid"] != uid || dead[0].Event["type"] != "NEWCALL" || dead[0].Event["agent"] != poisonAgent {
		t.Fatalf("ivctl dead list: %+v; want the NEWCALL of %s alone", dead, uid)
	}
	if c := dead[0].Cause; c != "store: no row for call "+uid {
		t.Errorf("the dead letter's cause is %q, want the handler's error text", c)
	}

	// The store is fixed: the replayed event is handled.
	broken.Store("")
	if out := strings.TrimSpace(runIvctl(t, bin, addr, "dead", "replay", name)); out != `{"replayed":1}` {
		t.Errorf("ivctl dead replay printed %q", out)
	}
	select {
	case k := <-handled:
		if k != poison {
			t.Errorf("after the replay the handler got %s, want %s", k, poison)
		}
	case <-time.After(phaseLimit):
		t.Fatal("the replayed event was not handled")
	}
	if d := deadList(t, bin, addr, name); len(d) != 0 {
		t.Errorf("after the replay ivctl dead list shows %+v", d)
	}

	// Another poison event, purged.
	c := script.calls[7]
	second := eventKey(c.uid, events.Hangup)
	broken.Store(second)
	if err := pub.sendRaw(c.topic, c.body(events.Hangup), true); err != nil {
		t.Fatal(err)
	}
	waitFor("the second poison event dead-lettered", func() bool { return len(deadList(t, bin, addr, name)) == 1 })
	if out := strings.TrimSpace(runIvctl(t, bin, addr, "dead", "purge", name)); out != `{"purged":1}` {
		t.Errorf("ivctl dead purge printed %q", out)
	}
	if d := deadList(t, bin, addr, name); len(d) != 0 {
		t.Errorf("after the purge ivctl dead list shows %+v", d)
	}
	t.Logf("%d events over %d agents, 4 lanes, WithRetry(3, 10ms): the poison event tried 3 times, dead-lettered with the handler's error, every other event handled in order per agent; listed, replayed and handled, a second one purged, with ivctl dead", len(script.steps), len(topics))
}
