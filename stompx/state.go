package stompx

import (
	"strconv"
	"sync"
)

// State is the connection state of a Transport.
type State int

// The states a Transport goes through. A transport starts Connecting, is
// Connected while it can carry calls, Reconnecting after the connection
// dropped (or while the first connection is retried), and Closed at the end.
const (
	Connecting State = iota
	Connected
	Reconnecting
	Closed
)

// String returns the state's name, e.g. "Connected".
func (s State) String() string {
	switch s {
	case Connecting:
		return "Connecting"
	case Connected:
		return "Connected"
	case Reconnecting:
		return "Reconnecting"
	case Closed:
		return "Closed"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// StateChange is one change of a Transport's connection state.
type StateChange struct {
	// State is the state the transport has entered.
	State State
	// Err is the cause: why the connection was lost (Reconnecting), why the
	// transport gave up (Closed); nil for Connecting, Connected and a Close
	// by the user. It never holds the passcode or an access key.
	Err error
	// Addr is the broker address involved (the one connected to, or the
	// one lost), "" when none.
	Addr string
}

// notifier delivers state changes in order on one goroutine, so that a
// partner's handler never runs on an I/O path and never sees changes out
// of order.
type notifier struct {
	fn   func(StateChange)
	mu   sync.Mutex
	q    []StateChange
	wake chan struct{}
	done chan struct{}
}

func newNotifier(fn func(StateChange)) *notifier {
	n := &notifier{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if fn == nil {
		close(n.done)
		return n
	}
	go n.run()
	return n
}

func (n *notifier) emit(c StateChange) {
	if n.fn == nil {
		return
	}
	n.mu.Lock()
	n.q = append(n.q, c)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *notifier) run() {
	defer close(n.done)
	for range n.wake {
		for {
			n.mu.Lock()
			if len(n.q) == 0 {
				n.mu.Unlock()
				break
			}
			c := n.q[0]
			n.q[0] = StateChange{}
			n.q = n.q[1:]
			n.mu.Unlock()
			n.fn(c)
			if c.State == Closed {
				return
			}
		}
	}
}
