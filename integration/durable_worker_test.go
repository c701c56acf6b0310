package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// workerEnv, when set, makes the test binary a worker process: the JSON
// workerConfig it holds says what to consume.
const workerEnv = "IV_ITEST_DURABLE_WORKER"

// workerConfig is what a worker process consumes, and where it writes.
type workerConfig struct {
	Addr     string   // Dial's address
	Addrs    []string // WithAddrs
	Login    string
	Passcode string
	Name     string // the durable name
	Topics   []string
	Quorum   bool
	Out      string // one record per event handled: "<uniqueid>/<type> <0|1>\n"
	// Work is how long a worker takes between writing an event's record
	// and acking it (the rest of its work on the event, a database commit
	// say). With it the workers, not the broker, are the bottleneck, so
	// that each has its prefetch of events in flight, and a worker killed
	// in it leaves a record whose event is delivered again: a duplicate.
	Work time.Duration

	// The whole-call tests' workers (Mode "calls", see callsWorker).
	Mode      string        // "" consumes events one by one; "calls" runs ConsumeCalls
	ID        int           // the worker's id, in its lines (set by startWorker)
	Lanes     int           // ConsumeCalls' WithLanes (0: its default)
	HeartBeat time.Duration // the transport's WithHeartBeat, both ways (0: its default)
	Proxy     string        // the address to dial instead of Addr (a proxy the test controls)
	// SingleActive subscribes with WithSingleActive and WithActiveChange.
	SingleActive bool
}

func (c workerConfig) durableOpts() []stompx.DurableOption {
	// A prefetch of a thousand (the default holds 30,000 events for
	// whole calls): the live workers must leave events in the queue for
	// the replacement of a killed one. The calls workers, one active at a
	// time, keep the default, as a partner's would.
	var opts []stompx.DurableOption
	if c.Mode != "calls" {
		opts = append(opts, stompx.WithPrefetch(events.DefaultBuffer))
	}
	if c.Quorum {
		opts = append(opts, stompx.WithQuorumQueue())
	}
	return testDurableOpts(opts...)
}

// workerProcess is the worker: it subscribes to the durable name, prints
// "ready" on stdout, and for every event writes its record (one write, so
// that a SIGKILL cuts at most the last line), works on it for cfg.Work, and
// only then acks it. It
// stops when its stdin closes (the test, or its death), closing the
// subscription and the transport. An Ack that fails other than with
// ErrConnectionLost is written to stderr as "ERR ...".
func workerProcess() int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "ERR "+format+"\n", args...)
		return 1
	}
	var cfg workerConfig
	if err := json.Unmarshal([]byte(os.Getenv(workerEnv)), &cfg); err != nil {
		return fail("%s: %v", workerEnv, err)
	}
	if cfg.Mode == "calls" {
		return callsWorker(cfg)
	}
	out, err := os.OpenFile(cfg.Out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fail("%v", err)
	}
	defer out.Close()

	ctx, cancel := stdinContext()
	defer cancel()
	tr, err := stompx.Dial(ctx, cfg.Addr, stompx.WithLogin(cfg.Login, cfg.Passcode), stompx.WithAddrs(cfg.Addrs...),
		stompx.WithReconnectBackoff(50*time.Millisecond, 500*time.Millisecond))
	if err != nil {
		return fail("dial: %v", err)
	}
	defer tr.Close()
	sub, err := tr.SubscribeDurable(ctx, cfg.Name, cfg.Topics, cfg.durableOpts()...)
	if err != nil {
		return fail("SubscribeDurable: %v", err)
	}
	defer sub.Close()
	fmt.Println("ready")

	line := make([]byte, 0, 128)
	for {
		select {
		case <-ctx.Done():
			return 0
		case ev, ok := <-sub.C():
			if !ok {
				return fail("the subscription ended: %v", sub.Err())
			}
			line = append(line[:0], eventKey(ev.UniqueID, ev.Type)...)
			if ev.Redelivered {
				line = append(line, " 1\n"...)
			} else {
				line = append(line, " 0\n"...)
			}
			if _, err := out.Write(line); err != nil {
				return fail("writing: %v", err)
			}
			if cfg.Work > 0 {
				time.Sleep(cfg.Work)
			}
			if err := sub.Ack(ev); err != nil && !errors.Is(err, ivclient.ErrConnectionLost) {
				fmt.Fprintf(os.Stderr, "ERR Ack: %v\n", err)
			}
		}
	}
}

// stdinContext returns a context that ends when stdin closes: the test
// stops a worker so, and its death closes it too.
func stdinContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return ctx, cancel
}

// workerProc is a worker process the test started.
type workerProc struct {
	id      int
	cmd     *exec.Cmd
	stdin   *os.File // closing it stops the worker
	out     string   // its records
	stdout  string
	stderr  string
	killed  bool
	stopped bool
	waited  bool
	waitErr error
}

// startWorker starts worker process id with cfg (Out is set here), and
// waits until it has subscribed. The test's cleanup stops it.
func startWorker(t *testing.T, dir string, id int, cfg workerConfig) *workerProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := &workerProc{id: id,
		out:    filepath.Join(dir, fmt.Sprintf("worker%d.records", id)),
		stdout: filepath.Join(dir, fmt.Sprintf("worker%d.stdout", id)),
		stderr: filepath.Join(dir, fmt.Sprintf("worker%d.stderr", id)),
	}
	cfg.Out, cfg.ID = w.out, id
	env, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := os.Create(w.stdout)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(w.stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.stdin = wr
	w.cmd = exec.Command(exe, "-test.run=^$")
	w.cmd.Env = append(os.Environ(), workerEnv+"="+string(env), "GORACE=atexit_sleep_ms=100 halt_on_error=1")
	w.cmd.Stdin, w.cmd.Stdout, w.cmd.Stderr = r, stdout, stderr
	if err := w.cmd.Start(); err != nil {
		wr.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { w.stop(t) })

	deadline := time.Now().Add(phaseLimit)
	for {
		b, _ := os.ReadFile(w.stdout)
		if strings.Contains(string(b), "ready") {
			return w
		}
		if e, _ := os.ReadFile(w.stderr); len(e) > 0 || time.Now().After(deadline) {
			t.Fatalf("worker %d did not subscribe: %s", id, e)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill SIGKILLs the worker: it acks nothing more, and what it had not acked
// goes back to the queue.
func (w *workerProc) kill(t *testing.T) {
	t.Helper()
	w.killed = true
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing worker %d: %v", w.id, err)
	}
	w.wait()
}

func (w *workerProc) wait() error {
	if !w.waited {
		w.waited = true
		w.waitErr = w.cmd.Wait()
		w.stdin.Close()
	}
	return w.waitErr
}

// stop asks the worker to stop (stdin closes) and checks that it exited 0
// with nothing on stderr; a worker that does not stop in time is killed.
func (w *workerProc) stop(t *testing.T) {
	t.Helper()
	if w.stopped {
		return
	}
	w.stopped = true
	if !w.waited {
		w.stdin.Close()
		done := make(chan struct{})
		go func() { _ = w.wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("worker %d did not stop in 30s: killed", w.id)
			_ = w.cmd.Process.Kill()
			<-done
		}
	}
	if err := w.waitErr; err != nil && !w.killed {
		t.Errorf("worker %d: %v", w.id, err)
	}
	if e, _ := os.ReadFile(w.stderr); len(e) > 0 {
		t.Errorf("worker %d wrote on stderr:\n%s", w.id, e)
	}
}
