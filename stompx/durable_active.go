package stompx

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3"
)

// Single active consumers (WithSingleActive): the lock of a name is an
// exclusive queue, iv.lock.<name>, that the active consumer's own
// connection holds; the broker refuses it to every other connection
// (RESOURCE_LOCKED, and RabbitMQ closes that connection) and deletes it
// when its owner's connection ends, whatever ended it. So the broker
// decides who is active, and a consumer that loses its connection loses
// the lock with it: it cannot go on taking events as a second active one.

// errStandby is the outcome of a connection refused the lock of its name:
// another consumer is active.
var errStandby = errors.New("stompx: another consumer of the name is active")

// standbyRetry is about how long a standby waits between tries.
const standbyRetry = time.Second

// takeLock subscribes, exclusively, to the lock queue of the name, and
// waits for the broker's answer. False means the connection ended first:
// refused (verdict says errStandby) or lost.
func (dc *durableConn) takeLock() bool {
	q := lockPrefix + dc.ds.name
	ss, err := dc.stomp.Subscribe("/topic/"+q, stomp.AckAuto,
		stomp.SubscribeOpt.Header("exclusive", "true"),
		stomp.SubscribeOpt.Header("durable", "false"),
		stomp.SubscribeOpt.Header("auto-delete", "true"),
		stomp.SubscribeOpt.Header("x-queue-name", q))
	if err != nil {
		dc.abort(err)
		return false
	}
	dc.startPump(func() { dc.drain(ss, dc.brokerError) }) // nothing is published there: it only sees the ERROR
	return dc.confirm()
}

// activate reports the subscription active (WithActiveChange) and waits
// for the report to be made, so that it comes before the first event.
func (ds *durableSub) activate(dc *durableConn) {
	done := ds.roles.set(true)
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-dc.done:
	case <-ds.ctx.Done():
	}
}

// standby tries to become the active consumer about once a second, at
// addrs[idx], until it is (it returns the connection, current), the
// subscription is closed (nil), or it must end (an error); with the index
// of the address it tried last. A try that fails for another reason than
// the lock (the broker out of reach) goes on as a reconnection, from the
// next address.
func (ds *durableSub) standby(idx int) (*durableConn, int, error) {
	t := ds.t
	for {
		d := standbyRetry*4/5 + time.Duration(rand.Int64N(int64(standbyRetry*2/5)))
		tm := time.NewTimer(d)
		select {
		case <-tm.C:
		case <-ds.ctx.Done():
			tm.Stop()
			return nil, idx, nil
		}
		cctx, cancel := context.WithTimeout(ds.ctx, t.opts.connectTimeout)
		dc, err := ds.connect(cctx, t.addrs[idx])
		cancel()
		switch {
		case err == nil:
			if !ds.install(dc) {
				dc.close()
				return nil, idx, nil
			}
			return dc, idx, nil
		case errors.Is(err, errStandby):
		case ds.ctx.Err() != nil:
			return nil, idx, nil
		case finalDurable(err):
			return nil, idx, err
		default:
			return ds.reconnect(idx, err.Error())
		}
	}
}

// roleNotifier reports the role changes of a single-active subscription to
// WithActiveChange's function, in order, on one goroutine of the
// transport's (run). Its methods do nothing on a nil notifier.
type roleNotifier struct {
	f     func(active bool)
	wake  chan struct{}
	mu    sync.Mutex
	q     []roleNote
	known bool // a role was reported
	cur   bool // the role last reported
	ended bool
}

type roleNote struct {
	active bool
	done   chan struct{} // closed once f returned
}

func newRoleNotifier(f func(bool)) *roleNotifier {
	return &roleNotifier{f: f, wake: make(chan struct{}, 1)}
}

// set reports active, unless it is the role last reported; it returns a
// channel closed once f has returned, nil when nothing is reported.
func (n *roleNotifier) set(active bool) <-chan struct{} {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ended || (n.known && n.cur == active) {
		return nil
	}
	n.known, n.cur = true, active
	note := roleNote{active: active, done: make(chan struct{})}
	n.q = append(n.q, note)
	n.poke()
	return note.done
}

// lost reports false if the subscription was active.
func (n *roleNotifier) lost() {
	if n == nil {
		return
	}
	n.mu.Lock()
	active := n.known && n.cur
	n.mu.Unlock()
	if active {
		n.set(false)
	}
}

// end reports false if the subscription was active, then stops run.
func (n *roleNotifier) end() {
	if n == nil {
		return
	}
	n.lost()
	n.mu.Lock()
	n.ended = true
	n.poke()
	n.mu.Unlock()
}

func (n *roleNotifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// run calls f with each reported role, until end.
func (n *roleNotifier) run() {
	for range n.wake {
		for {
			n.mu.Lock()
			if len(n.q) == 0 {
				ended := n.ended
				n.mu.Unlock()
				if ended {
					return
				}
				break
			}
			note := n.q[0]
			n.q = n.q[1:]
			n.mu.Unlock()
			n.f(note.active)
			close(note.done)
		}
	}
}
