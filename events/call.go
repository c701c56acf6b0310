package events

import (
	"strings"
	"time"
)

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
// event was not seen. The platform's events carry no timestamp of their own:
// a Received time is when this consumer's subscription received the event.
// For a call rebuilt from redelivered events (Redelivered, after a consumer
// died or its connection dropped) those are the redelivery times, all close
// together: its durations (RingDuration, TalkDuration) then measure nothing,
// and only a call whose events were not redelivered has durations to trust.
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

	// Redelivered is set when some of the call's events were delivered
	// before, to a consumer that did not settle them (a durable
	// subscription's Event.Redelivered): the call may already have been
	// handed to a handler, by this consumer or another (ConsumeCalls). Such
	// a call may also be partial: a consumer that took over receives only
	// the events its predecessor left unsettled (a HANGUP without its
	// NEWCALL, say), so a handler merges it into what it stored of the
	// call, keeping every field the call leaves empty, and never overwrites
	// the record with it.
	Redelivered bool

	// Open is set by ConsumeCalls on a call handed over before it ended,
	// because its events had been held unsettled for WithMaxHold: the call
	// as it was then, HangupAt and Reason empty. Its events so far are
	// settled once the handler returns nil; the call is handed over again
	// when it ends, or expires, with what the consumer knows of it then (the
	// whole call when the same consumer saw it through; only the events
	// after the open hand-off when another consumer finishes it, which then
	// has no NewCallAt and no Direction).
	Open bool
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

// fold applies ev, received at now, to c.
func fold(c *Call, ev Event, now time.Time) {
	c.Events++
	if ev.Redelivered {
		c.Redelivered = true
	}
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
