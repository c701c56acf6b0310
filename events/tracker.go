package events

import (
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultExpiry is how long a Tracker keeps a call, and a Board an agent's
// call, after the call's last event when no HANGUP arrives. It is longer
// than any plausible call: a call gets no events between CONNECT and HANGUP.
const DefaultExpiry = 4 * time.Hour

// DefaultMaxCalls is how many calls in progress a Tracker holds, unless
// WithMaxCalls says otherwise.
const DefaultMaxCalls = 100000

// lateWindow is how many finished calls a Tracker remembers, to ignore
// their late events instead of reporting them as new calls.
const lateWindow = 4096

// Call is one agent's call, folded from its events: one value per
// (Agent, UniqueID). A call of the NewCall method has two legs: the agent's
// (NEWCALL, CONNECT) and the remote party's (DNEWCALL, DCONNECT); both are
// folded into one Call. (The reference shows the remote leg's events on the
// agent's topic without saying whether they repeat the NEWCALL's uniqueid;
// they are taken to. Should the platform give the remote leg a uniqueid of
// its own, that leg becomes a Call of its own, with Remote true.) In an
// agent-to-agent call each agent has a Call of its own, whether or not the
// two legs share a uniqueid.
//
// Times are the events' Received times (see Tracker); a zero time means the
// event was not seen.
type Call struct {
	UniqueID  string
	Agent     string
	Direction string // INBOUND or OUTBOUND, from NEWCALL
	CallerID  string // the caller (inbound) or the number dialed (outbound), from NEWCALL
	Reason    string // the hangup reason (ReasonByCaller, ...); empty if expired or not sent

	NewCallAt  time.Time // NEWCALL: the call reached the agent
	ConnectAt  time.Time // CONNECT: the agent's leg was answered
	DNewCallAt time.Time // DNEWCALL: the remote party is being called (NewCall method)
	DConnectAt time.Time // DCONNECT: the remote party answered (NewCall method)
	HangupAt   time.Time // HANGUP: the call ended

	RemoteCallerID string // the callerid of DNEWCALL/DCONNECT: the remote party

	FirstEventAt time.Time // the first event of the call the tracker saw
	LastEventAt  time.Time // the latest event of the call
	Events       int       // how many events were folded into the call

	// Expired is true when no HANGUP arrived within the tracker's expiry
	// time (or the call was pushed out by WithMaxCalls): HangupAt and
	// Reason are empty, and the durations are unknown (zero).
	Expired bool
}

// Remote reports whether the call has a remote leg (a NewCall call: a
// DNEWCALL or DCONNECT was seen).
func (c Call) Remote() bool { return !c.DNewCallAt.IsZero() || !c.DConnectAt.IsZero() }

// AnsweredAt returns when the call was answered: DCONNECT for a call with a
// remote leg (the remote party answered), CONNECT otherwise. It is zero for
// a call that was not answered.
func (c Call) AnsweredAt() time.Time {
	if c.Remote() {
		return c.DConnectAt
	}
	return c.ConnectAt
}

// Answered reports whether the call was answered (see AnsweredAt).
func (c Call) Answered() bool { return !c.AnsweredAt().IsZero() }

// RingDuration returns how long the call rang before it was answered, or
// before it ended unanswered: from DNEWCALL (a call with a remote leg) or
// NEWCALL to AnsweredAt, or to HangupAt. It is zero when either end is
// unknown.
func (c Call) RingDuration() time.Duration {
	start := c.NewCallAt
	if c.Remote() {
		start = c.DNewCallAt
	}
	end := c.AnsweredAt()
	if end.IsZero() {
		end = c.HangupAt
	}
	return between(start, end)
}

// TalkDuration returns how long the call was answered: from AnsweredAt to
// HangupAt. It is zero for a call that was not answered or did not hang up.
func (c Call) TalkDuration() time.Duration { return between(c.AnsweredAt(), c.HangupAt) }

func between(start, end time.Time) time.Duration {
	if start.IsZero() || end.IsZero() || end.Before(start) {
		return 0
	}
	return end.Sub(start)
}

// TrackerStats counts what a Tracker has seen.
type TrackerStats struct {
	Active   int    // calls in progress
	Finished uint64 // calls that ended with a HANGUP
	Expired  uint64 // calls given up without a HANGUP (expired or pushed out by WithMaxCalls)
	Late     uint64 // events ignored because their call had already finished or expired
}

// Tracker folds call events into calls, keyed by agent and uniqueid, and
// hands each finished call, as one Call, to the function given
// WithFinished: when its HANGUP arrives, or when it expires because no
// HANGUP arrived within the expiry time (WithExpiry; Call.Expired is then
// true). Memory is bounded: at most WithMaxCalls calls in progress are
// held; beyond that the least recently active call is expired early.
//
// The tracker's notion of time is the events' Received time (a
// Subscription sets it), or its clock (WithClock, default time.Now) for
// events without one. Expiry is checked as events arrive, and when Expire
// is called; Run calls it periodically.
//
// Events of calls that already finished (a late or duplicated CONNECT or
// HANGUP) are ignored; a NEWCALL always starts a new call, unless it is
// marked Redelivered. Events that are not call events (LOGIN, PAUSE,
// unknown types) and events without a uniqueid are ignored.
//
// A redelivered event (Event.Redelivered, from a durable subscription)
// that the tracker already took changes nothing, Stats and LastEventAt
// included: it recognises the last DefaultDedupeWindow events it took
// (WithDedupeWindow), and it ignores any redelivered event of the last
// 4,096 calls it finished, so that a call is finished once whatever is
// redelivered.
//
// A Tracker is safe for concurrent use.
type Tracker struct {
	cfg sinkConfig

	mu       sync.Mutex
	calls    *lru[callKey, Call]
	finished *keyRing[callKey]
	seen     dedupe
	stats    TrackerStats
}

type callKey struct{ agent, uniqueID string }

// NewTracker returns a tracker.
func NewTracker(opts ...TrackerOption) *Tracker {
	cfg := defaultSinkConfig()
	for _, o := range opts {
		if o != nil {
			o.applyTracker(&cfg)
		}
	}
	return &Tracker{cfg: cfg, calls: newLRU[callKey, Call](), finished: newKeyRing[callKey](lateWindow),
		seen: newDedupe(cfg.window)}
}

// Apply folds one event into its call. The calls it finishes (this one on
// a HANGUP, and any that expired) are handed to the WithFinished function
// before Apply returns, on the caller's goroutine, with no lock held.
func (t *Tracker) Apply(ev Event) {
	if !isCallEvent(ev.Type) || ev.UniqueID == "" {
		return
	}
	now := t.cfg.timeOf(ev)
	k := callKey{agent: agentOf(ev), uniqueID: ev.UniqueID}

	var done []Call
	t.mu.Lock()
	if !t.seen.take(ev, k.agent) {
		t.mu.Unlock()
		return
	}
	e := t.calls.get(k)
	if e == nil {
		if t.finished.has(k) && (ev.Redelivered || ev.Type != NewCall) {
			if !ev.Redelivered {
				t.stats.Late++
			}
			t.mu.Unlock()
			return
		}
		e = t.calls.add(k)
		e.val = Call{UniqueID: ev.UniqueID, Agent: k.agent, FirstEventAt: now}
		for t.calls.len() > t.cfg.maxCalls {
			done = t.expireLocked(t.calls.oldest(), done)
		}
	} else {
		t.calls.touch(e)
	}
	fold(&e.val, ev, now)
	if ev.Type == Hangup {
		c := e.val
		t.calls.remove(e)
		t.finished.add(k)
		t.stats.Finished++
		done = append(done, c)
	}
	done = t.expireBeforeLocked(now, done)
	t.mu.Unlock()
	t.deliver(done)
}

// Expire expires the calls whose last event is older than the expiry time,
// by the tracker's clock, hands them to the WithFinished function, and
// returns how many there were. Run calls it periodically; call it yourself
// if you feed the tracker another way and events may stop for long.
func (t *Tracker) Expire() int {
	now := t.cfg.now()
	t.mu.Lock()
	done := t.expireBeforeLocked(now, nil)
	t.mu.Unlock()
	t.deliver(done)
	return len(done)
}

// Get returns the call in progress of agent with uniqueID.
func (t *Tracker) Get(agent, uniqueID string) (Call, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.calls.get(callKey{agent: agent, uniqueID: uniqueID}); e != nil {
		return e.val, true
	}
	return Call{}, false
}

// Active returns the calls in progress, ordered by their first event.
func (t *Tracker) Active() []Call {
	t.mu.Lock()
	calls := make([]Call, 0, t.calls.len())
	t.calls.each(func(e *lruEntry[callKey, Call]) { calls = append(calls, e.val) })
	t.mu.Unlock()
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].FirstEventAt.Before(calls[j].FirstEventAt) })
	return calls
}

// Stats returns the tracker's counters.
func (t *Tracker) Stats() TrackerStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Active = t.calls.len()
	return s
}

func (t *Tracker) deliver(calls []Call) {
	if t.cfg.finished == nil {
		return
	}
	for _, c := range calls {
		t.cfg.finished(c)
	}
}

// expireBeforeLocked expires the calls idle for the expiry time at now.
// The list is in the order of Apply, so it stops at the first call that
// is not due.
func (t *Tracker) expireBeforeLocked(now time.Time, done []Call) []Call {
	for e := t.calls.oldest(); e != nil && !now.Before(e.val.LastEventAt.Add(t.cfg.expiry)); e = t.calls.oldest() {
		done = t.expireLocked(e, done)
	}
	return done
}

func (t *Tracker) expireLocked(e *lruEntry[callKey, Call], done []Call) []Call {
	c := e.val
	c.Expired = true
	t.calls.remove(e)
	t.finished.add(e.key)
	t.stats.Expired++
	return append(done, c)
}

// fold applies ev, received at now, to c.
func fold(c *Call, ev Event, now time.Time) {
	c.Events++
	if now.After(c.LastEventAt) {
		c.LastEventAt = now
	}
	setOnce := func(t *time.Time) {
		if t.IsZero() {
			*t = now
		}
	}
	switch ev.Type {
	case NewCall:
		setOnce(&c.NewCallAt)
		if ev.CallerID != "" {
			c.CallerID = ev.CallerID
		}
		if ev.Direction != "" {
			c.Direction = ev.Direction
		}
	case Connect:
		setOnce(&c.ConnectAt)
	case DNewCall, DConnect:
		if ev.Type == DNewCall {
			setOnce(&c.DNewCallAt)
		} else {
			setOnce(&c.DConnectAt)
		}
		if ev.CallerID != "" && c.RemoteCallerID == "" {
			c.RemoteCallerID = ev.CallerID
		}
		if ev.Direction != "" && c.Direction == "" {
			c.Direction = ev.Direction
		}
	case Hangup:
		setOnce(&c.HangupAt)
		c.Reason = ev.Reason
	}
	if c.CallerID == "" && ev.CallerID != "" {
		c.CallerID = ev.CallerID
	}
}

func isCallEvent(t Type) bool {
	switch t {
	case NewCall, DNewCall, Connect, DConnect, Hangup:
		return true
	}
	return false
}

// agentOf returns the event's agent, or the agent named by its topic when
// the event does not say.
func agentOf(ev Event) string {
	if ev.Agent != "" {
		return ev.Agent
	}
	if a, ok := strings.CutPrefix(ev.Topic, TopicPrefix); ok && a != "#" && a != ">" && a != "*" {
		return a
	}
	return ""
}
