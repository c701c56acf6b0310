package fakeplatform

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
)

// leg is one agent's side of a call. An agent-to-agent call has two legs,
// one per agent, each with its own uniqueid, linked by peer.
type leg struct {
	uid        string
	seq        int
	ag         *agent
	line       int // the number of the agent's line the leg holds
	queueID    int // the queue the call came from, 0 for none
	lineTS     int64
	direction  string // "INBOUND" or "OUTBOUND"
	callerID   string // the remote party, as the agent's events show it
	answered   bool
	peer       *leg
	externalID string
	started    time.Time
}

const (
	inbound  = "INBOUND"
	outbound = "OUTBOUND"
)

// Call is one agent's side of a call in progress.
type Call struct {
	UniqueID    string
	Accountcode string
	Agent       string // "<accountcode>_<number>"
	Direction   string // "INBOUND" or "OUTBOUND"
	CallerID    string // the remote party: the caller of an inbound call, what the agent dialed otherwise
	Answered    bool
	Peer        string    // the other agent's uniqueid in an agent-to-agent call
	ExternalID  string    // NewCall's External_id
	Started     time.Time // when the agent's leg began (the platform's clock)
}

// Calls returns the calls in progress, oldest first.
func (p *Platform) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	legs := make([]*leg, 0, len(p.st.calls))
	for _, l := range p.st.calls {
		legs = append(legs, l)
	}
	sort.Slice(legs, func(i, j int) bool { return legs[i].seq < legs[j].seq })
	out := make([]Call, len(legs))
	for i, l := range legs {
		out[i] = Call{UniqueID: l.uid, Accountcode: l.ag.acct.code, Agent: l.ag.topicName(), Direction: l.direction,
			CallerID: l.callerID, Answered: l.answered, ExternalID: l.externalID, Started: l.started}
		if l.peer != nil {
			out[i].Peer = l.peer.uid
		}
	}
	return out
}

func (st *state) onCall(ag *agent) bool {
	for _, l := range st.calls {
		if l.ag == ag {
			return true
		}
	}
	return false
}

// newLeg creates a leg on line n of ag with a fresh uniqueid such as
// "1700000000.1.6": the time, the media server and a sequence number.
func (p *Platform) newLeg(ag *agent, n int, direction, callerID string) *leg {
	seq, now := p.st.nextID(), p.now()
	return &leg{uid: fmt.Sprintf("%d.1.%d", now.Unix(), seq), seq: seq, ag: ag, line: n, lineTS: now.Unix(),
		direction: direction, callerID: callerID, started: now}
}

// emit publishes one event for ag; p.mu is held, which keeps each agent's
// events in order.
func (p *Platform) emit(ag *agent, typ events.Type, direction, callerID, uid, reason string) {
	body, err := encodeEvent(wireEvent{Direction: direction, CallerID: callerID, Type: string(typ),
		UniqueID: uid, Agent: ag.topicName(), Reason: reason}, nil)
	if err != nil {
		p.log.Error("ivtest: encoding an event", "err", err)
		return
	}
	p.publishEvent(ag.topicName(), body)
}

// end hangs a leg up, and its peer with it.
func (p *Platform) end(l *leg, reason string) {
	for _, x := range []*leg{l, l.peer} {
		if x == nil || p.st.calls[x.uid] != x {
			continue
		}
		p.release(x)
		p.emit(x.ag, events.Hangup, "", x.callerID, x.uid, reason)
	}
	if l.peer != nil {
		l.peer.peer = nil
		l.peer = nil
	}
}

// outboundCall plays the NewCall flow on line n of ag: the agent's phone
// is called and answers (NEWCALL, CONNECT), then the remote party is
// called (DNEWCALL) and answers (DCONNECT) or not, as o says.
func (p *Platform) outboundCall(ag *agent, n int, exten, externalID string, o Outcome) *leg {
	l := p.newLeg(ag, n, outbound, exten)
	l.externalID = externalID
	p.st.calls[l.uid] = l
	p.emit(ag, events.NewCall, outbound, exten, l.uid, "")
	p.emit(ag, events.Connect, "", exten, l.uid, "")
	p.emit(ag, events.DNewCall, "", exten, l.uid, "")
	if o.answered() {
		p.answer(l)
		p.emit(ag, events.DConnect, "", exten, l.uid, "")
	}
	if o.ends() {
		p.end(l, string(o))
	}
	return l
}

// inboundCall plays a call reaching an agent on its line n, from the queue
// with id queueID (0 for a direct call): NEWCALL (INBOUND), then CONNECT if
// the agent answers.
func (p *Platform) inboundCall(ag *agent, n, queueID int, callerID string, o Outcome) *leg {
	l := p.newLeg(ag, n, inbound, callerID)
	l.queueID = queueID
	p.st.calls[l.uid] = l
	p.emit(ag, events.NewCall, inbound, callerID, l.uid, "")
	if o.answered() {
		p.answer(l)
		p.emit(ag, events.Connect, "", callerID, l.uid, "")
	}
	if o.ends() {
		p.end(l, string(o))
	}
	return l
}

// ---- Agent methods ----

// agentArgs reads Accountcode and User (or Agent, as BlindTransfer and
// NewCall name it over STOMP).
func agentArgs(r *rq) (code, user string) {
	code = r.must("accountcode")
	user = r.number(code, "user", "agent")
	return code, user
}

// validExten reports whether s can be dialed: digits, '*', '#' and a
// leading '+'.
func validExten(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c == '*' || c == '#') {
			return false
		}
	}
	return true
}

func agentLogin(p *Platform, r *rq) any {
	code, user := agentArgs(r)
	iface := r.must("interface")
	if tech, res, ok := strings.Cut(iface, "/"); iface != "" && (!ok || tech == "" || res == "") {
		r.fail(codes.Invalid, "Interface must be <TECH>/<name>")
	}
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, code, user)
	if ag == nil {
		return nil
	}
	if ag.status != statusLogoff {
		return r.fail(codes.Duplicate, "Agent %s is already logged in", ag.topicName())
	}
	if n := p.st.licenses; n > 0 && p.st.loggedIn() >= n {
		return r.fail(codes.NoLicense, "All %d licensed agents are logged in", n)
	}
	now := p.now().Unix()
	ag.status, ag.iface, ag.statusTS, ag.loginTS = statusLogin, iface, now, now
	p.emit(ag, events.Login, "", "", "", "")
	return nil
}

func agentLogoff(p *Platform, r *rq) any {
	code, user := agentArgs(r)
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, code, user)
	if ag == nil {
		return nil
	}
	if ag.status == statusLogoff {
		return r.fail(codes.Duplicate, "Agent %s is not logged in", ag.topicName())
	}
	p.logOff(ag)
	return nil
}

// logOff logs ag off and publishes its LOGOUT; p.mu is held.
func (p *Platform) logOff(ag *agent) {
	ag.status, ag.iface, ag.pauseDesc, ag.statusTS = statusLogoff, "", "", p.now().Unix()
	p.emit(ag, events.Logout, "", "", "", "")
}

func agentPause(p *Platform, r *rq) any {
	code, user := agentArgs(r)
	reason := r.must("reason")
	if reason != "" && !isDigits(reason) {
		r.fail(codes.Invalid, "Reason must be a pause number")
	}
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, code, user)
	if ag == nil {
		return nil
	}
	desc, ok := p.st.pauseReasons[canon(reason)]
	if !ok {
		return r.fail(codes.NotFound, "Pause %s not found", reason)
	}
	switch ag.status {
	case statusLogoff:
		return r.fail(codes.NotAllowed, "Agent %s is not logged in", ag.topicName())
	case statusPause:
		return r.fail(codes.Duplicate, "Agent %s is already paused", ag.topicName())
	}
	ag.status, ag.pauseDesc, ag.statusTS = statusPause, desc, p.now().Unix()
	p.emit(ag, events.Pause, desc, "", "", "")
	return nil
}

func agentUnpause(p *Platform, r *rq) any {
	code, user := agentArgs(r)
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, code, user)
	if ag == nil {
		return nil
	}
	switch ag.status {
	case statusLogoff:
		return r.fail(codes.NotAllowed, "Agent %s is not logged in", ag.topicName())
	case statusLogin:
		return r.fail(codes.Duplicate, "Agent %s is not paused", ag.topicName())
	}
	ag.status, ag.pauseDesc, ag.statusTS = statusLogin, "", p.now().Unix()
	p.emit(ag, events.Unpause, "", "", "", "")
	return nil
}

// dialArgs reads the arguments NewCall and BlindTransfer share.
func dialArgs(r *rq) (code, user, exten string) {
	code, user = agentArgs(r)
	return code, user, r.must("exten", "dest_ext", "destext", "extension")
}

// dialingAgent checks what NewCall and BlindTransfer share, once their
// arguments are read: a dialable exten, and an agent who exists and is
// logged in. It returns nil when r has failed.
func dialingAgent(p *Platform, r *rq, code, user, exten string) *agent {
	if exten != "" && !validExten(exten) {
		r.fail(codes.Invalid, "Exten must be a dialable number")
	}
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, code, user)
	if ag == nil {
		return nil
	}
	if ag.status == statusLogoff {
		r.fail(codes.NotAllowed, "Agent %s is not logged in", ag.topicName())
		return nil
	}
	return ag
}

func newCall(p *Platform, r *rq) any {
	code, user, exten := dialArgs(r)
	extID, _ := r.opt("external_id", "externalid")
	if ag := dialingAgent(p, r, code, user, exten); ag != nil {
		switch n, busy, ok := p.st.dialLine(r, ag); {
		case busy:
			p.busyCall(ag, exten, extID)
		case ok:
			p.outboundCall(ag, n, exten, extID, p.st.outcome)
		}
	}
	return nil
}

// loggedIn counts the agents logged in, paused ones included.
func (st *state) loggedIn() int {
	n := 0
	for _, a := range st.accounts {
		for _, ag := range a.agents {
			if ag.status != statusLogoff {
				n++
			}
		}
	}
	return n
}

func blindTransfer(p *Platform, r *rq) any {
	code, user, exten := dialArgs(r)
	if ag := dialingAgent(p, r, code, user, exten); ag != nil {
		p.transfer(r, ag, exten)
	}
	return nil
}

// transfer redirects every answered call of ag to exten: ag's leg ends with
// BTRANSFER and, when exten is a logged-in agent of the same accountcode
// (or a queue with an available member), a new leg reaches that agent
// (NEWCALL INBOUND with the remote party's caller id, CONNECT). Any other
// destination takes the call off the platform.
func (p *Platform) transfer(r *rq, ag *agent, exten string) ([]string, bool) {
	var legs []*leg
	for _, l := range p.st.calls {
		if l.ag == ag && l.answered {
			legs = append(legs, l)
		}
	}
	if len(legs) == 0 {
		r.fail(codes.ItemEmpty, "Agent %s has no call to transfer", ag.topicName())
		return nil, false
	}
	sort.Slice(legs, func(i, j int) bool { return legs[i].seq < legs[j].seq })
	var uids []string
	for _, l := range legs {
		peer := l.peer
		if peer != nil {
			peer.peer, l.peer = nil, nil
		}
		p.release(l)
		p.emit(ag, events.Hangup, "", l.callerID, l.uid, events.ReasonBTransfer)
		target, n, queueID := p.st.transferTarget(r, ag, exten)
		if target == nil || (peer != nil && peer.ag == target) {
			continue
		}
		nl := p.inboundCall(target, n, queueID, l.callerID, Answer)
		if peer != nil {
			nl.peer, peer.peer = peer, nl
		}
		uids = append(uids, nl.uid)
	}
	return uids, true
}

// transferTarget returns the agent a call transferred by from to exten
// reaches, the line it takes and the queue it came through: exten's agent
// when logged in with a free inbound line, or the first member of exten's
// queue that is logged in, not paused and has one (a busy member is
// passed over, as a queue rings the next member).
func (st *state) transferTarget(r *rq, from *agent, exten string) (*agent, int, int) {
	a := from.acct
	if ag := a.agents[canon(exten)]; ag != nil {
		if ag != from && ag.status != statusLogoff && st.canReceive(r, ag) {
			n, _, _ := st.freeLine(ag, false)
			return ag, n, 0
		}
		return nil, 0, 0
	}
	if q := a.queues[canon(exten)]; q != nil {
		for _, ag := range q.members() {
			if ag != from && ag.status == statusLogin && st.canReceive(r, ag) {
				n, _, _ := st.freeLine(ag, false)
				return ag, n, q.id
			}
		}
	}
	return nil, 0, 0
}

func hangupMethod(p *Platform, r *rq) any {
	code := r.must("accountcode")
	uid := r.must("uniqueid", "unique_id")
	if r.bad() {
		return nil
	}
	if p.st.account(r, code) == nil {
		return nil
	}
	l := p.st.calls[uid]
	if l == nil || l.ag.acct.code != code {
		return r.fail(codes.NotFound, "Call %s not found", uid)
	}
	// The platform hangs up on the agent's behalf: the agent placed an
	// outbound call (BYCALLER) and took an inbound one (BYCALLEE).
	reason := events.ReasonByCallee
	if l.direction == outbound {
		reason = events.ReasonByCaller
	}
	p.end(l, reason)
	return nil
}
