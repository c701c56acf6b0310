package fakeplatform

import (
	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
)

// ---- Line occupancy ----
//
// Each agent line carries one call at a time. A call to or from an agent
// takes the agent's lowest-numbered line that is enabled for the call's
// direction and has no call on it, and gives it back when the call ends.
// AgentLineList shows the line's status, the call's uniqueid, the queue
// the call came from (queues_id) and when the status last changed
// (linestatusts).

// Line status values, as AgentLineList reports them. The reference shows
// only IDLE; it is one of Asterisk's extension states, the ACD's telephony
// layer, upper-cased as the platform writes its words, and the other two
// are the states of a line with a call: RINGING until the agent answers
// an inbound call, INUSE once the agent's phone is off the hook (the
// agent's leg of an outbound call is answered by the agent at once).
const (
	lineIdle    = "IDLE"
	lineRinging = "RINGING"
	lineInUse   = "INUSE"
)

// Lenient acceptances that are not argument names (see lenientName).
const lenientNoLine = "an agent with no line configured took a call on line 1"

// lineFor is what an agent's lines allow for a new call in one direction.
type lineFor int

const (
	lineFree     lineFor = iota // a line is free: the call takes it
	lineDisabled                // no line is enabled for the direction
	lineBusy                    // every line enabled for the direction has a call
)

// freeLine returns the number of ag's lowest-numbered line that is enabled
// for the direction (outbound: placing calls) and holds no call. An agent
// with no line configured is taken to have the default line 1, both ways
// ("Default is 1"), and noLine reports it: the platform would not ring or
// dial such an agent ("an agent must have at least one line configured to
// make and receive calls"; AgentAdd makes none, since the reference's
// AgentLineAdd example then adds line 1 to the agent its AgentAdd example
// made), and the caller counts the lenient acceptance.
func (st *state) freeLine(ag *agent, outbound bool) (n int, what lineFor, noLine bool) {
	used := st.usedLines(ag)
	if len(ag.lines) == 0 {
		if used[1] != nil {
			return 0, lineBusy, true
		}
		return 1, lineFree, true
	}
	what = lineDisabled
	for _, l := range ag.lines {
		if outbound && l.outbound != 1 || !outbound && l.inbound != 1 {
			continue
		}
		if used[l.number] != nil {
			what = lineBusy
			continue
		}
		return l.number, lineFree, false
	}
	return 0, what, false
}

// usedLines returns the legs of ag's calls by the number of the line each
// holds.
func (st *state) usedLines(ag *agent) map[int]*leg {
	var used map[int]*leg
	for _, l := range st.calls {
		if l.ag == ag {
			if used == nil {
				used = make(map[int]*leg)
			}
			used[l.line] = l
		}
	}
	return used
}

// takeLine returns the line a new call of ag in the direction takes, or
// records in r why there is none and reports false: RESPONSE_DISABLED
// ("the target is disabled") when ag's lines all disable the direction,
// RESPONSE_ITEM_FULL ("the target cannot accept any more requests of this
// kind at this moment") when each line enabled for it has a call. NewCall
// and OutboundCall use dialLine instead.
func (st *state) takeLine(r *rq, ag *agent, outbound bool) (int, bool) {
	n, what, noLine := st.freeLine(ag, outbound)
	dir := "receive"
	if outbound {
		dir = "place"
	}
	switch what {
	case lineDisabled:
		r.fail(codes.Disabled, "Agent %s has no line enabled to %s calls", ag.topicName(), dir)
		return 0, false
	case lineBusy:
		r.fail(codes.ItemFull, "Agent %s is busy: every line that can %s calls has a call", ag.topicName(), dir)
		return 0, false
	}
	if noLine {
		r.lenient(lenientNoLine)
	}
	return n, true
}

// dialLine is takeLine for a call the platform places by calling ag's
// phone first (NewCall, OutboundCall). The platform accepts such a request
// and originates the call afterwards, so a busy agent does not fail it:
// dialLine reports busy, and the caller plays the first leg finding the
// agent's phone busy (busyCall). Lines all disabled for outbound calls
// still fail r with RESPONSE_DISABLED.
func (st *state) dialLine(r *rq, ag *agent) (n int, busy, ok bool) {
	if _, what, noLine := st.freeLine(ag, true); what == lineBusy {
		if noLine {
			r.lenient(lenientNoLine)
		}
		return 0, true, true
	}
	n, ok = st.takeLine(r, ag, true)
	return n, false, ok
}

// busyCall plays the NewCall flow for an agent whose every line enabled
// for outbound calls has a call: the platform calls the agent's phone
// (NEWCALL, OUTBOUND) and finds it busy (HANGUP, BUSY: "The destination was
// busy"). The destination is never dialed (no DNEWCALL), and the leg holds
// no line.
func (p *Platform) busyCall(ag *agent, exten, externalID string) *leg {
	l := p.newLeg(ag, 0, outbound, exten)
	l.externalID = externalID
	p.st.calls[l.uid] = l
	p.emit(ag, events.NewCall, outbound, exten, l.uid, "")
	p.end(l, events.ReasonBusy)
	return l
}

// canReceive reports whether a call can reach ag now: a free line enabled
// for inbound calls (the default line 1 for an agent with none, counted in
// r as lenient).
func (st *state) canReceive(r *rq, ag *agent) bool {
	_, what, noLine := st.freeLine(ag, false)
	if what == lineFree && noLine {
		r.lenient(lenientNoLine)
	}
	return what == lineFree
}

// lineStatus returns what AgentLineList shows for line l: its
// status, the uniqueid of the call on it, the id of the queue the call
// came from, and when the status last changed.
func (st *state) lineStatus(l *line, used map[int]*leg) (status, uid string, queueID int, ts int64) {
	c := used[l.number]
	if c == nil {
		return lineIdle, "", 0, l.statusTS
	}
	status = lineInUse
	if c.direction == inbound && !c.answered {
		status = lineRinging
	}
	return status, c.uid, c.queueID, c.lineTS
}

// release takes leg c off the platform and stamps its line idle.
func (p *Platform) release(c *leg) {
	delete(p.st.calls, c.uid)
	if l := c.ag.line(c.line); l != nil {
		l.statusTS = p.now().Unix()
	}
}

// answer marks leg c answered, the moment its line changes from RINGING to
// INUSE when it is an inbound leg.
func (p *Platform) answer(c *leg) {
	c.answered = true
	if c.direction == inbound {
		c.lineTS = p.now().Unix()
	}
}
