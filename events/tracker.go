package events

import (
	"sort"
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

	mu    sync.Mutex
	table *callTable
}

// NewTracker returns a tracker. It fails only on a bad option, with an
// error wrapping ivclient.ErrInvalidArgument.
func NewTracker(opts ...TrackerOption) (*Tracker, error) {
	cfg, err := sinkSetup("events: NewTracker", opts, TrackerOption.applyTracker)
	if err != nil {
		return nil, err
	}
	t := &Tracker{cfg: cfg}
	t.table = newCallTable(&t.cfg, lateWindow, cfg.window)
	return t, nil
}

// Apply folds one event into its call. The calls it finishes (this one on
// a HANGUP, and any that expired) are handed to the WithFinished function
// before Apply returns, on the caller's goroutine, with no lock held.
func (t *Tracker) Apply(ev Event) {
	if !isCallEvent(ev.Type) || ev.UniqueID == "" {
		return
	}
	now := t.cfg.timeOf(ev)
	k := keyOf(ev)

	var done []openCall
	t.mu.Lock()
	tb := t.table
	if !tb.seen.take(ev, k.agent) {
		t.mu.Unlock()
		return
	}
	e := tb.calls.get(k)
	if e == nil {
		if tb.finished.has(k) && (ev.Redelivered || ev.Type != NewCall) {
			if !ev.Redelivered {
				tb.stats.Late++
			}
			t.mu.Unlock()
			return
		}
		e, done = tb.add(k, now, done)
	} else {
		tb.calls.touch(e)
	}
	fold(&e.val.call, ev, now)
	if ev.Type == Hangup {
		done = append(done, tb.finish(e))
	}
	done = tb.expireBefore(now, done)
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
	done := t.table.expireBefore(now, nil)
	t.mu.Unlock()
	t.deliver(done)
	return len(done)
}

// Get returns the call in progress of agent with uniqueID.
func (t *Tracker) Get(agent, uniqueID string) (Call, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.table.calls.get(callKey{agent: agent, uniqueID: uniqueID}); e != nil {
		return e.val.call, true
	}
	return Call{}, false
}

// Active returns the calls in progress, ordered by their first event.
func (t *Tracker) Active() []Call {
	t.mu.Lock()
	calls := make([]Call, 0, t.table.calls.len())
	t.table.calls.each(func(e *lruEntry[callKey, openCall]) { calls = append(calls, e.val.call) })
	t.mu.Unlock()
	sort.SliceStable(calls, func(i, j int) bool { return calls[i].FirstEventAt.Before(calls[j].FirstEventAt) })
	return calls
}

// Stats returns the tracker's counters.
func (t *Tracker) Stats() TrackerStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.table.stats
	s.Active = t.table.calls.len()
	return s
}

func (t *Tracker) deliver(calls []openCall) {
	if t.cfg.finished == nil {
		return
	}
	for _, c := range calls {
		t.cfg.finished(c.call)
	}
}
