package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// lineWriter writes a calls worker's lines, each in one write, so that a
// SIGKILL cuts at most the last one.
type lineWriter struct {
	mu  sync.Mutex
	f   *os.File
	id  int
	err error
}

func (w *lineWriter) write(l callLine) {
	l.Worker = w.id
	if l.At == 0 {
		l.At = time.Now().UnixNano()
	}
	b, _ := json.Marshal(l)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.Write(append(b, '\n')); err != nil && w.err == nil {
		w.err = err
	}
}

// logLines writes each record of the transport's log (one Write each) as a
// line of kind "log", for a failed run's dump.
type logLines struct{ w *lineWriter }

func (l logLines) Write(p []byte) (int, error) {
	l.w.write(callLine{Kind: "log", Msg: strings.TrimSpace(string(p))})
	return len(p), nil
}

// callsWorker is a worker process of the whole-call tests: it subscribes
// to cfg.Name (with WithSingleActive and WithActiveChange when
// cfg.SingleActive), prints "ready" once SubscribeDurable returned (active
// or standby), and runs ConsumeCalls. Its handler writes the call's line
// (handed-over time, uniqueid, direction, callerid, reason, Redelivered),
// then works on it for cfg.Work, and returns nil: a worker killed in that
// time leaves a line whose call is handed over again. It also writes a line
// at each change of its active state and at each connection. It stops when
// its stdin closes; an error is a line "ERR ..." on stderr.
func callsWorker(cfg workerConfig) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "ERR "+format+"\n", args...)
		return 1
	}
	f, err := os.OpenFile(cfg.Out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fail("%v", err)
	}
	defer f.Close()
	w := &lineWriter{f: f, id: cfg.ID}

	ctx, cancel := stdinContext()
	defer cancel()
	addr := cfg.Addr
	if cfg.Proxy != "" {
		addr = cfg.Proxy
	}
	dopts := []stompx.Option{stompx.WithLogin(cfg.Login, cfg.Passcode), stompx.WithAddrs(cfg.Addrs...),
		stompx.WithLogger(slog.New(slog.NewTextHandler(logLines{w}, &slog.HandlerOptions{Level: slog.LevelInfo}))),
		stompx.WithReconnectBackoff(50*time.Millisecond, 500*time.Millisecond),
		stompx.WithStateHandler(func(sc stompx.StateChange) {
			if sc.State == stompx.Connected {
				w.write(callLine{Kind: "conn", Addr: sc.Addr})
			}
		})}
	if cfg.HeartBeat > 0 {
		dopts = append(dopts, stompx.WithHeartBeat(cfg.HeartBeat, cfg.HeartBeat))
	}
	tr, err := stompx.Dial(ctx, addr, dopts...)
	if err != nil {
		return fail("dial: %v", err)
	}
	defer tr.Close()
	opts := cfg.durableOpts()
	if cfg.SingleActive {
		opts = append(opts, singleActive(func(active bool) { w.write(callLine{Kind: "active", Active: active}) })...)
	}
	sub, err := tr.SubscribeDurable(ctx, cfg.Name, cfg.Topics, opts...)
	if err != nil {
		return fail("SubscribeDurable: %v", err)
	}
	defer sub.Close()
	if !cfg.SingleActive {
		// The only consumer: active from now until it stops.
		w.write(callLine{Kind: "active", Active: true})
		defer w.write(callLine{Kind: "active", Active: false})
	}
	fmt.Println("ready")

	var copts []events.ConsumeOption
	if cfg.Lanes > 0 {
		copts = append(copts, events.WithLanes(cfg.Lanes))
	}
	err = events.ConsumeCalls(ctx, sub, func(ctx context.Context, c events.Call) error {
		w.write(callLine{Kind: "call", UniqueID: c.UniqueID, Agent: c.Agent, Direction: c.Direction, CallerID: c.CallerID,
			Reason: c.Reason, Redelivered: c.Redelivered, Expired: c.Expired, Open: c.Open, Events: c.Events})
		if cfg.Work > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(cfg.Work):
			}
		}
		return nil
	}, copts...)
	if w.err != nil {
		return fail("writing: %v", w.err)
	}
	if ctx.Err() != nil {
		return 0 // stopped
	}
	return fail("ConsumeCalls: %v (the subscription: %v)", err, sub.Err())
}
