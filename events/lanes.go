package events

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// work is one thing to hand to a handler: an event (Consume) or a call
// (ConsumeCalls). The lanes run it; it says how to hand it over and how
// to settle it.
type work struct {
	key     string                          // works of one key run one at a time, in order
	run     func(ctx context.Context) error // hands it to the handler
	lost    func() bool                     // a delivery of it was lost: it comes again, hand nothing
	settle  func(err error)                 // after the handler returned nil (err nil) or the last attempt failed
	abandon func()                          // lost: neither handed nor settled
	lostC   <-chan struct{}                 // closed when (a delivery of) it is lost: ends its backoff; nil: never
	since   time.Time                       // when it began to be held unsettled (zero: when added)
	tries   int
}

// lanes runs works on up to n goroutines: works of one key one at a time,
// in the order they were added, works of different keys at once. A work
// whose handler fails waits for its backoff without holding a goroutine,
// and its key's later works wait with it.
//
// Every goroutine it starts is started by start and waited for by wait.
type lanes struct {
	ctx     context.Context
	retry   retryPolicy
	now     func() time.Time
	hold    time.Duration // the longest a work is held unsettled by its retries
	quit    chan struct{} // closed by stop: backoffs end
	notify  chan struct{} // a work ended (a pending slot freed)
	pending atomic.Int64  // works added and not yet ended

	mu       sync.Mutex
	cond     *sync.Cond
	queues   map[string][]*work // a key is present while it has works; its head runs or waits
	ready    []string           // keys whose head may run now
	draining bool               // no more works come: exit once all are done
	stopped  bool               // ctx is done: exit at once
	drained  chan struct{}      // closed once draining and every work is done

	wg sync.WaitGroup
}

// retryPolicy is WithRetry's: tries in all, and the first backoff,
// doubling up to maxBackoff.
type retryPolicy struct {
	attempts int
	backoff  time.Duration
}

// maxBackoff bounds the doubling of WithRetry's backoff (unless the first
// backoff is longer): an event is never held unsettled for long, which
// RabbitMQ punishes (consumer_timeout).
const maxBackoff = time.Minute

func (p retryPolicy) wait(failures int) time.Duration {
	d := p.backoff
	for i := 1; i < failures && d < maxBackoff; i++ {
		d *= 2
	}
	if d > maxBackoff && p.backoff <= maxBackoff {
		d = maxBackoff
	}
	return d
}

func startLanes(ctx context.Context, n int, cfg consumeConfig) *lanes {
	l := &lanes{ctx: ctx, retry: cfg.retry, now: cfg.now, hold: cfg.maxHold, quit: make(chan struct{}),
		notify: make(chan struct{}, 1), drained: make(chan struct{}), queues: make(map[string][]*work)}
	l.cond = sync.NewCond(&l.mu)
	l.wg.Add(n + 1)
	go func() {
		defer l.wg.Done()
		select {
		case <-ctx.Done():
			l.stop()
		case <-l.drained:
		}
	}()
	for i := 0; i < n; i++ {
		go func() {
			defer l.wg.Done()
			l.loop()
		}()
	}
	return l
}

// add queues w behind its key's works.
func (l *lanes) add(w *work) {
	l.pending.Add(1)
	if w.since.IsZero() {
		w.since = l.now()
	}
	l.mu.Lock()
	q, busy := l.queues[w.key]
	l.queues[w.key] = append(q, w)
	if !busy {
		l.ready = append(l.ready, w.key)
	}
	l.mu.Unlock()
	l.cond.Broadcast()
}

// drain lets the lanes end once every work added is done, and waits.
func (l *lanes) drain() {
	l.mu.Lock()
	l.draining = true
	l.checkDrainedLocked()
	l.mu.Unlock()
	l.cond.Broadcast()
	l.wg.Wait()
}

func (l *lanes) checkDrainedLocked() {
	if l.draining && len(l.queues) == 0 {
		select {
		case <-l.drained:
		default:
			close(l.drained)
		}
	}
}

// stop ends the lanes at once: no work starts, backoffs are abandoned; the
// handlers running return (they see ctx done). wait waits for them.
func (l *lanes) stop() {
	l.mu.Lock()
	if !l.stopped {
		l.stopped = true
		close(l.quit)
	}
	l.mu.Unlock()
	l.cond.Broadcast()
}

func (l *lanes) wait() { l.wg.Wait() }

// next returns the head work of a ready key, or nil when the lanes end.
func (l *lanes) next() *work {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if l.stopped || l.ctx.Err() != nil || (l.draining && len(l.queues) == 0) {
			return nil
		}
		if len(l.ready) > 0 {
			k := l.ready[0]
			l.ready = l.ready[1:]
			return l.queues[k][0]
		}
		l.cond.Wait()
	}
}

func (l *lanes) loop() {
	for w := l.next(); w != nil; w = l.next() {
		if w.lost() {
			w.abandon()
			l.done(w)
			continue
		}
		err := w.run(l.ctx)
		switch {
		case err == nil:
			w.settle(nil)
			l.done(w)
		case l.ctx.Err() != nil:
			// Stopping: the failure may be ctx's own; the work is neither
			// retried nor settled (a durable event comes again).
			l.done(w)
		default:
			w.tries++
			wait := l.retry.wait(w.tries)
			if w.tries >= l.retry.attempts || l.now().Add(wait).Sub(w.since) > l.hold {
				// The last attempt, or a wait that would hold the work
				// unsettled past the bound (the broker's consumer_timeout
				// would take it back, and its tries would start again).
				w.settle(err)
				l.done(w)
				continue
			}
			l.later(w, wait)
		}
	}
}

// later makes w's key ready again after d, or once w's connection is lost
// (it is then abandoned, not tried again); its later works wait.
func (l *lanes) later(w *work, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-w.lostC:
		case <-l.quit:
			return
		}
		l.mu.Lock()
		l.ready = append(l.ready, w.key)
		l.mu.Unlock()
		l.cond.Broadcast()
	}()
}

// done ends w, the head of its key: the key's next work becomes ready.
func (l *lanes) done(w *work) {
	l.mu.Lock()
	q := l.queues[w.key][1:]
	if len(q) == 0 {
		delete(l.queues, w.key)
	} else {
		l.queues[w.key] = q
		l.ready = append(l.ready, w.key)
	}
	l.checkDrainedLocked()
	l.mu.Unlock()
	l.cond.Broadcast()
	l.pending.Add(-1)
	select {
	case l.notify <- struct{}{}:
	default:
	}
}
