package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// TestDeadReplayExpiredQueue: on RabbitMQ, a name's queue made with
// WithIdleExpiry goes once no one consumes it, while its dead letters
// stay. A replay then would send to a missing queue, which RabbitMQ drops
// while confirming the SEND: ReplayDeadLetters and ivctl dead replay move
// nothing, fail with ErrDurableNotFound and say what to do; the letters
// stay, and once a consumer makes the queue again the replay delivers
// every one.
func TestDeadReplayExpiredQueue(t *testing.T) {
	b := needRabbit(t)
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skipf("seeing the queue expire needs rabbitmqctl: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr, dopts := b.dialOpts(0)
	tr, err := stompx.Dial(ctx, addr, dopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	name := durableName("dead-expired")
	opts := testDurableOpts(stompx.WithIdleExpiry(time.Second))
	defer deleteDurable(t, addr, dopts, name, opts)
	topics := agentTopics("itgdead"+randHex(3), 1)
	sub, err := tr.SubscribeDurable(ctx, name, topics, opts...)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	run := randHex(4)
	if err := b.publisher(t, 0).publish(run, 0, n, topics, 1); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 0; i < n; i++ {
		ev := recvEvent(ctx, t, sub)
		want = append(want, eventKey(ev.UniqueID, ev.Type))
		if err := sub.Reject(ev, errors.New("the store is down")); err != nil {
			t.Fatal(err)
		}
	}
	_ = sub.Close()
	waitQueueGone(ctx, t, "iv.events."+name)

	moved, err := tr.ReplayDeadLetters(ctx, name, 10)
	if moved != 0 || !errors.Is(err, stompx.ErrDurableNotFound) {
		t.Fatalf("ReplayDeadLetters to the expired queue = %d, %v", moved, err)
	}
	bin := buildIvctl(t)
	out, errText, code := ivctlResult(ctx, bin, addr, "dead", "replay", name)
	if code != 1 || strings.TrimSpace(out) != `{"replayed":0}` || !strings.Contains(errText, "durable queue not found") ||
		!strings.Contains(errText, "start a consumer of "+name) {
		t.Fatalf("ivctl dead replay to the expired queue: exit %d, stdout %q, stderr %q", code, out, errText)
	}
	if dl, err := tr.DeadLetters(ctx, name, 10); err != nil || len(dl) != n {
		t.Fatalf("after the refused replays: %d dead letters, %v", len(dl), err)
	}

	sub, err = tr.SubscribeDurable(ctx, name, topics, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if out := runIvctl(t, bin, addr, "dead", "replay", name); strings.TrimSpace(out) != fmt.Sprintf(`{"replayed":%d}`, n) {
		t.Fatalf("ivctl dead replay printed %q", out)
	}
	var got []string
	for i := 0; i < n; i++ {
		ev := recvEvent(ctx, t, sub)
		got = append(got, eventKey(ev.UniqueID, ev.Type))
		if err := sub.Ack(ev); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("replayed %v, want %v (oldest first)", got, want)
	}
	if dl, err := tr.DeadLetters(ctx, name, 10); err != nil || len(dl) != 0 {
		t.Fatalf("after the replay: %d dead letters, %v", len(dl), err)
	}
}

// recvEvent returns the next event of sub, failing the test at ctx's end.
func recvEvent(ctx context.Context, t *testing.T, sub *events.Subscription) events.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.C():
		if !ok {
			t.Fatalf("subscription ended: %v", sub.Err())
		}
		return ev
	case <-ctx.Done():
		t.Fatal("no event")
	}
	return events.Event{}
}

// waitQueueGone waits until RabbitMQ no longer lists queue.
func waitQueueGone(ctx context.Context, t *testing.T, queue string) {
	t.Helper()
	for {
		out, err := exec.CommandContext(ctx, "rabbitmqctl", "-q", "list_queues", "name").CombinedOutput()
		if err != nil {
			t.Fatalf("rabbitmqctl list_queues: %v: %s", err, out)
		}
		if !strings.Contains("\n"+string(out)+"\n", "\n"+queue+"\n") {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not expire", queue)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ivctlResult runs ivctl against addr and returns its stdout, its stderr
// and its exit status.
func ivctlResult(ctx context.Context, bin, addr string, args ...string) (stdout, stderr string, code int) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"-stomp", addr}, args...)...)
	cmd.Env = append(cmd.Environ(), "IV_STOMP_LOGIN="+rabbitLogin, "IV_STOMP_PASSCODE="+rabbitPasscode)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	_ = cmd.Run()
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}
