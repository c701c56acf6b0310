package events

import "hash/maphash"

// DefaultDedupeWindow is how many of the latest events a Tracker, a Board
// or a Poller remembers to recognise a redelivered event it already took,
// unless WithDedupeWindow says otherwise: about 320 KiB per sink. It covers
// four times the default prefetch plus buffer of a durable subscription
// (events.DefaultBuffer each).
const DefaultDedupeWindow = 8192

// dedupe recognises redelivered events a sink already took.
//
// A durable subscription delivers again the events a consumer took but
// did not get to acknowledge (its connection dropped first), marked
// Redelivered. A sink remembers a fingerprint of each event it takes, the
// last window of them, in a ring: a 64-bit hash (with a seed of its own)
// of the agent, uniqueid, type and body. An event marked Redelivered whose
// fingerprint is remembered is a repeat and is ignored; an event not so
// marked is always taken, because the platform does send equal events
// (LOGIN, LOGOUT, LOGIN). A fingerprint collision could make a sink ignore
// a redelivered event it never took; at the default window that chance is
// about 1 in 2^51 per redelivered event.
//
// It is not safe for concurrent use; each sink calls it under its lock.
type dedupe struct {
	seed maphash.Seed
	keys *keyRing[uint64]
}

func newDedupe(window int) dedupe {
	return dedupe{seed: maphash.MakeSeed(), keys: newKeyRing[uint64](window)}
}

// take reports whether ev is to be taken, and remembers it if so: false
// only for a redelivered event already taken.
func (d *dedupe) take(ev Event, agent string) bool {
	k := d.key(ev, agent)
	if ev.Redelivered && d.keys.has(k) {
		return false
	}
	d.keys.add(k)
	return true
}

func (d *dedupe) key(ev Event, agent string) uint64 {
	var h maphash.Hash
	h.SetSeed(d.seed)
	field := func(s string) {
		h.WriteString(s)
		h.WriteByte(0)
	}
	field(agent)
	field(ev.UniqueID)
	field(string(ev.Type))
	if len(ev.Raw) > 0 {
		h.Write(ev.Raw)
	} else {
		// An event built by hand, not decoded: its fields are its body.
		field(ev.Direction)
		field(ev.CallerID)
		field(ev.Reason)
	}
	return h.Sum64()
}
