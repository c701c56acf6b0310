package events

import "time"

// callTable folds call events into calls, keyed by agent and uniqueid: the
// state behind Tracker and ConsumeCalls, each of which decides what an
// event does to it. It is not safe for concurrent use.
type callTable struct {
	cfg      *sinkConfig
	calls    *lru[callKey, openCall]
	finished *keyRing[callKey] // calls finished lately: their late events are not new calls
	seen     dedupe
	stats    TrackerStats
}

type callKey struct{ agent, uniqueID string }

// openCall is a call in progress.
type openCall struct {
	call Call

	// The rest is ConsumeCalls': the events it holds unsettled until the
	// call is handed over, since when, whether a HANGUP came before the
	// call's first event (it then waits for it), and what it folded.
	held      []Event
	heldSince time.Time
	early     bool
	prints    []uint64 // the fingerprints of the events folded (dedupe.key)
	// stale: the call was handed over Open (it holds no event) and a
	// connection was lost since: the events to come may go to another
	// consumer, which finishes the call. An event of it received again
	// makes it current; a stale call that expires is forgotten without a
	// record.
	stale bool
}

func newCallTable(cfg *sinkConfig, finishedWindow, dedupeWindow int) *callTable {
	return &callTable{cfg: cfg, calls: newLRU[callKey, openCall](), finished: newKeyRing[callKey](finishedWindow),
		seen: newDedupe(dedupeWindow)}
}

func keyOf(ev Event) callKey { return callKey{agent: agentOf(ev), uniqueID: ev.UniqueID} }

// add starts the call k at now, and expires the least recently active
// calls beyond WithMaxCalls.
func (t *callTable) add(k callKey, now time.Time, done []openCall) (*lruEntry[callKey, openCall], []openCall) {
	e := t.calls.add(k)
	e.val.call = Call{UniqueID: k.uniqueID, Agent: k.agent, FirstEventAt: now}
	for t.calls.len() > t.cfg.maxCalls {
		done = t.expire(t.calls.oldest(), done)
	}
	return e, done
}

// finish ends the call of e, which its HANGUP finished.
func (t *callTable) finish(e *lruEntry[callKey, openCall]) openCall {
	c := e.val
	t.calls.remove(e)
	t.finished.add(e.key)
	t.stats.Finished++
	return c
}

// expireBefore expires the calls idle for the expiry time at now. The list
// is in the order of their latest event, so it stops at the first call
// that is not due.
func (t *callTable) expireBefore(now time.Time, done []openCall) []openCall {
	for e := t.calls.oldest(); e != nil && !now.Before(e.val.call.LastEventAt.Add(t.cfg.expiry)); e = t.calls.oldest() {
		done = t.expire(e, done)
	}
	return done
}

func (t *callTable) expire(e *lruEntry[callKey, openCall], done []openCall) []openCall {
	c := e.val
	c.call.Expired = true
	t.calls.remove(e)
	t.finished.add(e.key)
	t.stats.Expired++
	return append(done, c)
}
