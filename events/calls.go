package events

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// expiredWindow is how many calls handed over Expired ConsumeCalls
// remembers, to hand over the HANGUP of one that comes after all.
const expiredWindow = 4096

// settledWindow is how many calls ConsumeCalls remembers after handing
// them over, to settle their events that come back (a consumer died while
// settling them) without handing the calls again. It covers the calls in
// flight at the largest sensible prefetch (about 20,000 events: 5,000
// calls in progress).
const settledWindow = 32768

// ConsumeCalls folds the events of s into calls, as a Tracker does, and hands
// each finished call to h, once. A call's events are settled together, only
// after h returned nil for the call: a consumer that dies mid-call leaves
// them with the broker, and the next consumer of the name receives them
// again and finishes the call (with stompx.WithSingleActive no call is lost
// or cut in two across any number of restarts). Retries, lanes and
// dead-lettering are as Consume's, per call: the calls of one agent are
// handed in order, and a call h keeps failing has all its events rejected.
//
// What can happen to a call:
//   - It ends: its HANGUP came, after its NEWCALL (or DNEWCALL). It is
//     handed over whole.
//   - Its HANGUP comes first. After a takeover the broker may deliver a
//     call's HANGUP before the earlier events it puts back (RabbitMQ does
//     not order the two), so the HANGUP waits up to 10 seconds for them,
//     and the call is then handed over whole. When they do not come (the
//     platform lost them, or the call began before the subscription did),
//     or the events held fill the buffer meanwhile (see below), the call
//     is handed over as it is, ended, without NewCallAt and Direction; an
//     event of it that comes later is settled without handing anything.
//   - Its HANGUP never comes (the platform lost it): it is handed over with
//     Expired set, DefaultExpiry (WithCallExpiry) after its last event, as
//     the Tracker expires calls. So is a call talking longer than that,
//     with no event meanwhile: should its HANGUP come after all, it is
//     handed over as the call's end, Redelivered, with HangupAt and Reason
//     (and no NewCallAt): merge it into the record of the expired call.
//   - It is long: its events may stay unsettled WithMaxHold at most
//     (25 minutes by default), below RabbitMQ's consumer_timeout (30
//     minutes), past which the broker would close the connection and
//     deliver every unsettled event again. A call still open then (less
//     the time its retries may take, see WithMaxHold) is handed over with
//     Call.Open set and its events so far settled, and handed
//     again when it ends (see Call.Open). Why not settle them without
//     handing the call? A consumer that dies before the HANGUP would then
//     lose the call's beginning, and a call record would be lost silently.
//     When the consumer's connection is lost after an Open hand-off, the
//     rest of the call may go to another consumer, which finishes it: a
//     consumer that receives nothing more of such a call forgets it at its
//     expiry, without an Expired record that would overwrite the real one.
//   - It comes back. Events of a call already handed over and settled,
//     delivered again after a consumer died while settling them, are settled
//     without handing the call again (ConsumeCalls remembers the last 32,768
//     calls it handed over). A call handed over again, by this consumer or
//     after a takeover, has Call.Redelivered set, and may be partial: a new
//     consumer receives only the events its predecessor left unsettled (a
//     HANGUP alone, when the call was handed over Open, or its earlier
//     events were settled before the predecessor died). A handler that
//     writes call records merges by (Agent, UniqueID), never blanking a
//     field the record already holds.
//   - Its handler keeps failing: its events are dead-lettered together,
//     where the transport can, or acked and reported as a drop. When some
//     of them arrived on a connection since lost, none is: they come again
//     and make the call anew, with fresh attempts.
//   - Its uniqueid comes again: a NEWCALL never delivered before, of a
//     uniqueid whose call is being handed over, starts a new call, as the
//     Tracker does.
//   - Its connection is lost: it is not handed over (its events come
//     again, to whoever is active next), nor kept.
//
// Events that belong to no call (LOGIN, PAUSE, ...) go to WithOtherEvents'
// handler, with Consume's semantics, or are settled at once.
//
// ConsumeCalls holds the events of every call in progress unsettled: the
// broker must let it (a durable subscription's prefetch, stompx.WithPrefetch,
// is the most events in flight: a call takes two to five). When the events
// held fill the subscription's buffer (which is at least the prefetch, so the
// broker would send nothing more), the calls held longest are handed over
// Open, as at WithMaxHold, rather than wait for HANGUPs that cannot come: a
// prefetch too small for the calls in progress gives Open calls, not a
// stall. (stompx makes the buffer the prefetch when the prefetch is larger;
// a prefetch set below the event buffer, stompx.WithEventBuffer, stalls
// until WithMaxHold.) Each held event costs its body and about 300 bytes.
//
// Times come from the events' Received times: see Call for which durations
// to trust. ConsumeCalls returns as Consume does; calls still open when s
// ends are not handed over (their events, unsettled, come again on a
// durable subscription).
func ConsumeCalls(ctx context.Context, s *Subscription, h func(ctx context.Context, c Call) error, opts ...ConsumeOption) error {
	const op = "events: ConsumeCalls"
	cfg, err := consumeSetup(op, ctx, s, h != nil, true, opts)
	if err != nil {
		return err
	}
	sink := defaultSinkConfig()
	sink.now = cfg.now
	if cfg.expiry > 0 {
		sink.expiry = cfg.expiry
	}
	cc := &callConsumer{ctx: ctx, s: s, h: h, cfg: cfg, table: newCallTable(&sink, settledWindow, 1),
		inflight: make(map[callKey]*callWork), expired: newKeyRing[callKey](expiredWindow)}
	cc.lanes = startLanes(ctx, cfg.lanes, cfg)
	return cc.run(ctx)
}

// callConsumer is ConsumeCalls' state. Everything but the works' own
// fields and ended is touched by the goroutine of ConsumeCalls only.
type callConsumer struct {
	ctx   context.Context // ConsumeCalls': it bounds the retries of settlements
	s     *Subscription
	h     func(ctx context.Context, c Call) error
	cfg   consumeConfig
	table *callTable
	lanes *lanes

	inflight map[callKey]*callWork // the latest work of each call handed to the lanes and not ended
	expired  *keyRing[callKey]     // calls handed over Expired lately: their HANGUP is their end
	heldQ    []mark                // calls whose events are held, by when the oldest was received
	held     int                   // events held in open calls
	graceQ   []mark                // calls whose HANGUP came first, by when it came
	conns    []<-chan struct{}     // the connections of the events held

	mu    sync.Mutex
	ended []*callWork // works the lanes ended: ConsumeCalls forgets or settles what is left
}

// mark is a call with a time, in a queue ordered by it.
type mark struct {
	k  callKey
	at time.Time
}

func (cc *callConsumer) run(ctx context.Context) error {
	const op = "events: ConsumeCalls"
	limit := int64(max(cap(cc.s.c), cc.cfg.lanes))
	tick := time.NewTicker(cc.cfg.tick)
	defer tick.Stop()
	c := cc.s.C()
	for {
		in := c
		if cc.lanes.pending.Load() >= limit {
			in = nil
		}
		select {
		case ev, ok := <-in:
			if !ok {
				cc.lanes.drain()
				return cc.s.Err()
			}
			cc.take(op, ev)
		case <-cc.lanes.notify:
			cc.reap()
		case <-tick.C:
			cc.reap()
			cc.clock(cc.cfg.now())
		case <-ctx.Done():
			cc.lanes.stop()
			cc.lanes.wait()
			return ctx.Err()
		}
	}
}

// take folds ev into its call, or hands it on when it belongs to none.
func (cc *callConsumer) take(op string, ev Event) {
	if !isCallEvent(ev.Type) || ev.UniqueID == "" {
		if cc.cfg.other != nil {
			cc.lanes.add(cc.s.eventWork(cc.ctx, op, cc.cfg.other, ev, cc.cfg.retry.attempts))
		} else {
			cc.s.settleAll(cc.ctx, op, []Event{ev}, nil, nil)
		}
		return
	}
	if ev.delivery.isLost() {
		return // it comes again
	}
	cc.watch(ev)
	tb, k, now := cc.table, keyOf(ev), cc.table.cfg.timeOf(ev)
	e := tb.calls.get(k)
	if e == nil {
		// A copy of an event of a call in the lanes is settled with it; a
		// fresh NEWCALL is a new call, as the Tracker takes it.
		if w := cc.inflight[k]; w != nil && (ev.Redelivered || ev.Type != NewCall) {
			if w.attach(ev) {
				return
			}
			if cc.inflight[k] != w {
				// attach took an abandoned work back, which may have
				// started the call again: start over.
				cc.take(op, ev)
				return
			}
		}
		if tb.finished.has(k) && (ev.Redelivered || ev.Type != NewCall) {
			if ev.Type == Hangup && cc.expired.has(k) {
				cc.lateEnd(k, ev, now)
				return
			}
			// A late event of a call handed over (and settled, or being
			// settled): settled, not handed again.
			if !ev.Redelivered {
				tb.stats.Late++
			}
			cc.s.settleAll(cc.ctx, op, []Event{ev}, nil, nil)
			return
		}
		var done []openCall
		e, done = tb.add(k, now, nil)
		cc.hand(done)
	} else {
		tb.calls.touch(e)
		e.val.stale = false // this consumer receives the call's events again
	}
	// An event the call already took, delivered again (its connection
	// dropped), is held to be settled but not folded twice.
	fp := tb.seen.key(ev, k.agent)
	if ev.Redelivered && slices.Contains(e.val.prints, fp) {
		e.val.call.Redelivered = true
	} else {
		e.val.prints = append(e.val.prints, fp)
		fold(&e.val.call, ev, now)
	}
	cc.hold(e, ev, now)
	if !e.val.call.HangupAt.IsZero() {
		c := e.val.call
		if !c.NewCallAt.IsZero() || !c.DNewCallAt.IsZero() {
			cc.hand([]openCall{tb.finish(e)})
		} else if !e.val.early {
			e.val.early = true
			cc.graceQ = append(cc.graceQ, mark{k, now})
		}
	}
	cc.hand(tb.expireBefore(now, nil))
	cc.release(now, true)
}

// hold keeps ev, a delivery to settle with its call, received at now.
func (cc *callConsumer) hold(e *lruEntry[callKey, openCall], ev Event, now time.Time) {
	if ev.delivery == nil {
		return
	}
	if len(e.val.held) == 0 {
		e.val.heldSince = now
		// In time order: an event taken back (reapOne) may be older than
		// the calls held since.
		i := len(cc.heldQ)
		for i > 0 && cc.heldQ[i-1].at.After(now) {
			i--
		}
		cc.heldQ = slices.Insert(cc.heldQ, i, mark{e.key, now})
	}
	e.val.held = append(e.val.held, ev)
	cc.held++
}

// watch notes the connection of ev; a connection seen lost drops the calls
// that hold its events (they come again).
func (cc *callConsumer) watch(ev Event) {
	if ev.delivery == nil || ev.delivery.lost == nil {
		return
	}
	for _, c := range cc.conns {
		if c == ev.delivery.lost {
			return
		}
	}
	cc.conns = append(cc.conns, ev.delivery.lost)
	cc.dropLost()
}

// dropLost forgets the calls holding events of a lost connection, and
// marks stale those holding none (see openCall.stale).
func (cc *callConsumer) dropLost() {
	live := cc.conns[:0]
	lost := false
	for _, c := range cc.conns {
		select {
		case <-c:
			lost = true
		default:
			live = append(live, c)
		}
	}
	clear(cc.conns[len(live):])
	cc.conns = live
	if !lost {
		return
	}
	var drop []callKey
	cc.table.calls.each(func(e *lruEntry[callKey, openCall]) {
		if len(e.val.held) == 0 {
			// Handed over Open, its events settled: whoever receives
			// its events now may finish it (see hand).
			e.val.stale = true
			return
		}
		for _, ev := range e.val.held {
			if ev.delivery.isLost() {
				drop = append(drop, e.key)
				return
			}
		}
	})
	for _, k := range drop {
		e := cc.table.calls.get(k)
		cc.held -= len(e.val.held)
		cc.table.calls.remove(e)
	}
}

// clock does what time brings: lost connections, early HANGUPs whose
// grace is over, calls held for WithMaxHold, calls expired.
func (cc *callConsumer) clock(now time.Time) {
	tb := cc.table
	// Lost connections first: what they held comes again, and a call
	// handed over Open since is stale, not to be expired.
	cc.dropLost()
	for len(cc.graceQ) > 0 && !now.Before(cc.graceQ[0].at.Add(cc.cfg.grace)) {
		k := cc.graceQ[0].k
		cc.graceQ = cc.graceQ[1:]
		if e := tb.calls.get(k); e != nil && e.val.early {
			cc.hand([]openCall{tb.finish(e)})
		}
	}
	cc.release(now, false)
	cc.hand(tb.expireBefore(now, nil))
}

// release hands over Open the calls whose events have been held for
// WithMaxHold at now; with full, also the oldest while the events held fill
// the subscription's buffer, which is at least the broker's prefetch: past
// it the broker would send nothing more, and ConsumeCalls would wait for
// HANGUPs that cannot come.
func (cc *callConsumer) release(now time.Time, full bool) {
	tb := cc.table
	for len(cc.heldQ) > 0 {
		m := cc.heldQ[0]
		e := tb.calls.get(m.k)
		current := e != nil && len(e.val.held) > 0 && e.val.heldSince.Equal(m.at)
		if current && now.Before(m.at.Add(cc.cfg.openAfter())) && !(full && cc.held >= cap(cc.s.c)) {
			break
		}
		cc.heldQ = cc.heldQ[1:]
		switch {
		case current && e.val.early:
			// Its HANGUP came, its NEWCALL has not: it ended, and is
			// handed over as it is, as at the end of its grace.
			cc.hand([]openCall{tb.finish(e)})
		case current:
			oc := e.val
			oc.call.Open = true
			e.val.held, e.val.heldSince = nil, time.Time{}
			cc.hand([]openCall{oc})
		}
	}
}

// lateEnd hands over ev, the HANGUP of k, a call handed over Expired, as
// the call's end: Redelivered (the call was handed before), with what the
// HANGUP says (HangupAt, Reason), to be merged into the record of the
// expired call. Later copies of it are late events.
func (cc *callConsumer) lateEnd(k callKey, ev Event, now time.Time) {
	cc.expired.remove(k)
	oc := openCall{call: Call{UniqueID: k.uniqueID, Agent: k.agent, FirstEventAt: now, Redelivered: true}}
	fold(&oc.call, ev, now)
	if ev.delivery != nil {
		oc.held, oc.heldSince = []Event{ev}, now
		cc.held++
	}
	cc.hand([]openCall{oc})
}

// hand gives calls to the lanes. A stale call (see openCall.stale), which
// can only be expiring, is forgotten instead: another consumer may have
// finished it, and an Expired record of it would be a phantom.
func (cc *callConsumer) hand(calls []openCall) {
	for _, oc := range calls {
		if oc.stale && len(oc.held) == 0 {
			continue
		}
		if oc.call.Expired {
			cc.expired.add(callKey{agent: oc.call.Agent, uniqueID: oc.call.UniqueID})
		}
		cc.held -= len(oc.held)
		w := &callWork{cc: cc, call: oc.call, evs: oc.held, own: len(oc.held)}
		k := callKey{agent: oc.call.Agent, uniqueID: oc.call.UniqueID}
		cc.inflight[k] = w
		var lostC <-chan struct{}
		if len(oc.held) > 0 {
			lostC = oc.held[0].delivery.lostC()
		}
		cc.lanes.add(&work{key: oc.call.Agent, run: w.run, lost: w.lost, settle: w.settle, abandon: w.abandon,
			lostC: lostC, since: oc.heldSince})
	}
}

// reap takes the works the lanes ended: an abandoned call is forgotten, so
// that its events, coming again, start it anew (with those attached to it
// meanwhile).
func (cc *callConsumer) reap() {
	cc.mu.Lock()
	ended := cc.ended
	cc.ended = nil
	cc.mu.Unlock()
	for _, w := range ended {
		cc.reapOne(w)
	}
}

// reapOne forgets w, and takes back the events of an abandoned w that
// were not lost: an ended call's, to make it anew; an Open call's, the
// events attached to it since (see attach), and its own, which the call,
// going on, holds again (it folded them already).
func (cc *callConsumer) reapOne(w *callWork) {
	k := callKey{agent: w.call.Agent, uniqueID: w.call.UniqueID}
	if cc.inflight[k] == w {
		delete(cc.inflight, k)
	}
	w.mu.Lock()
	abandoned := w.state == workAbandoned
	w.mu.Unlock()
	if !abandoned || w.reaped {
		return
	}
	w.reaped = true
	if !w.call.Open {
		cc.table.finished.remove(k)
	}
	for i, ev := range w.evs {
		if ev.delivery.isLost() {
			continue
		}
		if e := cc.table.calls.get(k); w.call.Open && i < w.own && e != nil {
			cc.hold(e, ev, cc.table.cfg.timeOf(ev))
			continue
		}
		cc.take("events: ConsumeCalls", ev)
	}
}

// callWork is one call handed to the lanes, with the events to settle.
type callWork struct {
	cc   *callConsumer
	call Call

	own int // how many of evs the call held when handed (the rest: attached)

	mu     sync.Mutex
	evs    []Event
	state  int  // workQueued, workSettling, workSettled or workAbandoned
	reaped bool // the goroutine of ConsumeCalls took it back
}

const (
	workQueued   = iota
	workSettling // attach still adds events: settle settles them too
	workSettled
	workAbandoned
)

func (w *callWork) run(ctx context.Context) error { return w.cc.h(ctx, w.call) }

func (w *callWork) lost() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ev := range w.evs {
		if ev.delivery.isLost() {
			return true
		}
	}
	return false
}

// attach adds ev, an event of the call delivered again, to be settled with
// it. It reports false once the call is settled or abandoned: the caller
// then settles ev itself, or (abandoned) takes the work back first.
func (w *callWork) attach(ev Event) bool {
	w.mu.Lock()
	state := w.state
	taken := state == workQueued || state == workSettling
	if taken {
		w.evs = append(w.evs, ev)
	}
	w.mu.Unlock()
	if state == workAbandoned {
		w.cc.reapOne(w)
	}
	return taken
}

// settle settles the call's events, and those attached to it meanwhile.
// A call to dead-letter some of whose events arrived on a lost connection
// (or whose dead-lettering failed on one) ends abandoned instead: those
// events come again and make the call anew, with fresh attempts, rather
// than be settled as late events of a call handed over; its other events
// are taken back with it (one dead-lettered meanwhile, by a race with the
// connection's loss, is folded into the call again, so that the call is not
// handed without it, and settling it again is a no-op). A call whose
// handler returned nil was handled: its events coming back are late events.
func (w *callWork) settle(err error) {
	s, attempts := w.cc.s, w.cc.cfg.retry.attempts
	gaveUp := func() string {
		return fmt.Sprintf("gave up on call %s of %q after %d attempts", w.call.UniqueID, w.call.Agent, attempts)
	}
	if err != nil && w.lost() {
		// Some of its events come again: dead-letter none, take the
		// others back with them.
		w.abandon()
		return
	}
	w.mu.Lock()
	w.state = workSettling
	evs := w.evs
	w.mu.Unlock()
	done := len(evs)
	lost := s.settleAll(w.cc.ctx, "events: ConsumeCalls", evs, err, gaveUp)
	for {
		w.mu.Lock()
		evs = w.evs[done:]
		if len(evs) == 0 || (lost && err != nil) {
			w.state = workSettled
			if lost && err != nil {
				w.state = workAbandoned
			}
			w.mu.Unlock()
			break
		}
		w.mu.Unlock()
		done += len(evs)
		lost = s.settleAll(w.cc.ctx, "events: ConsumeCalls", evs, err, gaveUp) || lost
	}
	w.end()
}

func (w *callWork) abandon() {
	w.mu.Lock()
	w.state = workAbandoned
	w.mu.Unlock()
	w.end()
}

func (w *callWork) end() {
	w.cc.mu.Lock()
	w.cc.ended = append(w.cc.ended, w)
	w.cc.mu.Unlock()
}
