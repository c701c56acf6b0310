package stompx_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// hostileBroker is a fakeBroker that behaves until it gets a request,
// then answers it on the reply connection with one hostile frame: the
// bytes of attack, streamed until the client hangs up (or 1 GiB).
// Reconnections are served the same way, so the transport recovers.
type hostileBroker struct {
	*fakeBroker // its wg also owns the flood goroutines
	attack      string
	mu          sync.Mutex
	reply       net.Conn // the connection that subscribed to a /topic/
	subID       string
	written     atomic.Int64 // hostile bytes the client accepted
}

// The hostile inputs a broker (or a man in the middle) can send.
var hostileInputs = []string{"content-length", "header-line", "body", "headers"}

func newHostileBroker(tb testing.TB, attack string) *hostileBroker {
	tb.Helper()
	h := &hostileBroker{attack: attack}
	h.fakeBroker = newFakeBroker(tb, fakeConfig{muteDisconnect: attack == "mute-disconnect", onFrame: h.onFrame})
	return h
}

// onFrame notes the reply subscription and floods it once a request comes.
func (h *hostileBroker) onFrame(c net.Conn, f *frame.Frame) {
	switch f.Command {
	case frame.SUBSCRIBE:
		if strings.HasPrefix(f.Header.Get(frame.Destination), "/topic/") {
			h.mu.Lock()
			h.reply, h.subID = c, f.Header.Get(frame.Id)
			h.mu.Unlock()
		}
	case frame.SEND:
		if f.Header.Get(frame.Destination) == stompx.DefaultRequestQueue {
			h.mu.Lock()
			rc, id := h.reply, h.subID
			h.mu.Unlock()
			if rc != nil {
				h.wg.Add(1)
				go h.flood(rc, id)
			}
		}
	}
}

// flood writes the hostile frame on c. Nothing else writes on the reply
// connection once a request has been sent.
func (h *hostileBroker) flood(c net.Conn, subID string) {
	defer h.wg.Done()
	start := "MESSAGE\ndestination:/topic/x\nmessage-id:1\nsubscription:" + subID + "\n"
	var chunk []byte
	switch h.attack {
	case "content-length":
		start += "content-length:2000000000\n\n"
		chunk = bytes.Repeat([]byte{'A'}, 64<<10)
	case "header-line":
		start += "x-endless:"
		chunk = bytes.Repeat([]byte{'A'}, 64<<10)
	case "body":
		start += "\n"
		chunk = bytes.Repeat([]byte{'A'}, 64<<10)
	case "headers":
		chunk = bytes.Repeat([]byte("x:y\n"), 16<<10)
	default:
		return
	}
	_ = c.SetWriteDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write([]byte(start)); err != nil {
		return
	}
	for total := 0; total < 1<<30; total += len(chunk) {
		if _, err := c.Write(chunk); err != nil {
			return
		}
		h.written.Add(int64(len(chunk)))
	}
}

// TestHostileFrames sends each hostile input and checks that
// the connection is dropped with ErrFrameTooLarge (in the call's error, the
// log and the state handler), that the transport reconnects, and, in a
// subprocess of its own, that peak RSS stays small.
func TestHostileFrames(t *testing.T) {
	for _, attack := range hostileInputs {
		t.Run(attack, func(t *testing.T) {
			runHostile(t, attack)
			if testing.Short() {
				return
			}
			rss := hostileChildRSS(t, attack)
			t.Logf("%s: peak RSS %.1f MB (whole test process)", attack, float64(rss)/(1<<20))
			if limit := int64(100 << 20); !raceEnabled && rss > limit {
				t.Fatalf("%s: peak RSS %d bytes, want under %d", attack, rss, limit)
			}
		})
	}
}

// TestHostileFrameChild is the subprocess of TestHostileFrames: it runs
// one hostile input and prints the process's peak RSS.
func TestHostileFrameChild(t *testing.T) {
	attack := os.Getenv("IV_HOSTILE_CHILD")
	if attack == "" {
		t.Skip("run by TestHostileFrames")
	}
	runHostile(t, attack)
	hwm, err := peakRSS()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("PEAK_RSS %d\n", hwm)
}

func hostileChildRSS(t *testing.T, attack string) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostileFrameChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "IV_HOSTILE_CHILD="+attack)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "PEAK_RSS "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("child printed no peak RSS:\n%s", out)
	return 0
}

// peakRSS returns the process's peak resident set size (VmHWM).
func peakRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}

func runHostile(t *testing.T, attack string) {
	h := newHostileBroker(t, attack)
	var states stateLog
	var logs syncBuffer
	tr := dial(t, h.ln.Addr().String(),
		stompx.WithHeartBeat(0, 0),
		stompx.WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond),
		stompx.WithStateHandler(states.add),
		stompx.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := ctxT(t, 30*time.Second)
	err := tr.Call(ctx, &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil)
	if !errors.Is(err, stompx.ErrFrameTooLarge) || !errors.Is(err, ivclient.ErrConnectionLost) {
		t.Fatalf("call: %v, want ErrFrameTooLarge and ErrConnectionLost", err)
	}
	states.waitFor(t, stompx.Connected, stompx.Reconnecting, stompx.Connected)
	var reason error
	for _, c := range states.changes() {
		if c.State == stompx.Reconnecting {
			reason = c.Err
		}
	}
	if !errors.Is(reason, stompx.ErrFrameTooLarge) || !errors.Is(reason, ivclient.ErrConnectionLost) {
		t.Fatalf("state handler's reason: %v", reason)
	}
	if !strings.Contains(logs.String(), "past the limits") {
		t.Fatalf("the log does not give the reason:\n%s", logs.String())
	}
	if n := h.written.Load(); n > 64<<20 {
		t.Fatalf("the client read %d hostile bytes before dropping the connection", n)
	}
	if st := tr.Stats(); st.ConnectionsLost != 1 || st.CallsLost != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A broker that never answers DISCONNECT: Close still returns, once the
// grace period is over, and leaves no goroutine behind (goleak).
func TestCloseWithoutDisconnectReceipt(t *testing.T) {
	h := newHostileBroker(t, "mute-disconnect")
	tr := dial(t, h.ln.Addr().String(), stompx.WithHeartBeat(0, 0))
	// The broker never replies: the call makes the reply subscription.
	ctx := ctxT(t, 300*time.Millisecond)
	if err := tr.Call(ctx, &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = tr.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return")
	}
}
