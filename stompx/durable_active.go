package stompx

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3"
	"github.com/google/uuid"
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

// lockSettle is how long a consumer that was granted the lock waits before
// it checks that the lock queue is still its own (checkLock), and
// lockCheckTimeout how long it waits for the check's message.
const (
	lockSettle       = 300 * time.Millisecond
	lockCheckTimeout = 3 * time.Second
)

// subscribeExclusive subscribes to the exclusive queue q, a lock: made by
// this SUBSCRIBE, deleted with this connection, refused (RESOURCE_LOCKED,
// and the connection closed) while another connection holds it. Both
// locks of a name, the active consumer's and the dead letters', are taken
// with it.
func (dc *durableConn) subscribeExclusive(q string) (*stomp.Subscription, error) {
	return dc.stomp.Subscribe("/topic/"+q, stomp.AckAuto,
		stomp.SubscribeOpt.Header("exclusive", "true"),
		stomp.SubscribeOpt.Header("durable", "false"),
		stomp.SubscribeOpt.Header("auto-delete", "true"),
		stomp.SubscribeOpt.Header("x-queue-name", q))
}

// takeLock subscribes, exclusively, to the lock queue of the name, and
// waits for the broker's answer. False means the connection ended first:
// refused (verdict says errStandby) or lost.
func (dc *durableConn) takeLock() bool {
	ss, err := dc.subscribeExclusive(lockPrefix + dc.ds.name)
	if err != nil {
		dc.abort(err)
		return false
	}
	dc.lockToken, dc.lockEcho = uuid.NewString(), make(chan struct{}, 1)
	// Only checkLock's messages come there; the pump also sees the ERROR.
	dc.startPump(func() {
		dc.forEach(ss, func(m *stomp.Message) {
			switch {
			case m.Err != nil:
				dc.brokerError(m.Err)
			case string(m.Body) == dc.lockToken:
				select {
				case dc.lockEcho <- struct{}{}:
				default:
				}
			}
		})
	})
	return dc.confirm()
}

// checkLock makes sure, lockSettle after the lock was granted, that the
// broker's queue of that name is still the one this connection holds: a
// message sent to the queue by name comes back on the lock subscription.
// RabbitMQ 3.10 can take the name from under its holder: when a node dies,
// every other node deletes the dead node's exclusive queues by name, in a
// transaction after the one that listed them, so a lock queue declared
// again in between (by its holder, reconnected to another node) loses its
// name, and a second connection is granted the lock too. A lost name
// makes the consumer a standby (errStandby) before it subscribes to the
// events. False means the connection ended (or was refused) first.
func (dc *durableConn) checkLock() bool {
	tm := time.NewTimer(lockSettle)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-dc.done:
		return false
	}
	if err := dc.stomp.Send("/amq/queue/"+lockPrefix+dc.ds.name, "text/plain", []byte(dc.lockToken)); err != nil {
		dc.abort(err)
		return false
	}
	tm.Reset(lockCheckTimeout)
	select {
	case <-dc.lockEcho:
		return true
	case <-dc.done:
		return false
	case <-tm.C:
		dc.refuse(errStandby, "the lock queue's name is no longer this connection's: another consumer may hold the lock")
		return false
	}
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
