package events

import (
	"sync"
	"time"
)

// fakeClock is a clock that tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// step is one event of a scripted flow, at an offset from t0.
type step struct {
	at        time.Duration
	typ       Type
	agent     string
	uid       string
	direction string
	callerID  string
	reason    string
}

func (s step) event() Event {
	return Event{Type: s.typ, Agent: s.agent, UniqueID: s.uid, Direction: s.direction,
		CallerID: s.callerID, Reason: s.reason, Received: t0.Add(s.at),
		Topic: AgentTopic("", s.agent)}
}

// collector gathers a Tracker's finished calls.
type collector struct {
	mu    sync.Mutex
	calls []Call
}

func (c *collector) add(call Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, call)
}

func (c *collector) get() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Call(nil), c.calls...)
}

// newSubscription returns a subscription with configuration c (a zero
// buffer meaning DefaultBuffer) and its feed.
func newSubscription(c feedConfig) (*Subscription, *Feed) {
	if c.buffer == 0 {
		c.buffer = DefaultBuffer
	}
	f := newFeed(c)
	return f.s, f
}

// publish delivers body without a settlement.
func (f *Feed) publish(topic string, body []byte, received time.Time) bool {
	return f.Deliver(Delivery{Topic: topic, Body: body, Received: received})
}

// publishWithAck delivers body with ack as its settlement.
func (f *Feed) publishWithAck(topic string, body []byte, received time.Time, redelivered bool, ack func() error) bool {
	return f.Deliver(Delivery{Topic: topic, Body: body, Received: received, Redelivered: redelivered, Ack: ack})
}

// mustTracker, mustBoard and mustPoller are the constructors for options
// that are known to be good.
func mustTracker(opts ...TrackerOption) *Tracker { return must(NewTracker(opts...)) }
func mustBoard(opts ...BoardOption) *Board       { return must(NewBoard(opts...)) }
func mustPoller(opts ...PollerOption) *Poller    { return must(NewPoller(opts...)) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
