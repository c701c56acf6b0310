package fakeplatform

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
)

// ---- Call flows for tests and programs ----

// flowTimeout bounds how long a flow waits for its events to reach the
// broker.
const flowTimeout = 10 * time.Second

// flow runs fn under the state lock as method name, turns a failure into a
// *codes.Error, and waits until the events it published have reached the
// broker.
func (p *Platform) flow(name string, fn func(r *rq)) error {
	if p.closed.Load() {
		return errClosed
	}
	r := &rq{method: name}
	p.mu.Lock()
	fn(r)
	p.mu.Unlock()
	p.noteLenient(r, "")
	if r.bad() {
		return &codes.Error{Code: r.code, Method: name, Description: r.msg}
	}
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	if err := p.proc.Sync(ctx); err != nil {
		return fmt.Errorf("ivtest: %s: publishing events: %w", name, err)
	}
	return nil
}

// findAgent resolves "<accountcode>_<number>" or a bare number.
func (p *Platform) findAgent(r *rq, accountcode, user string) *agent {
	n := stripAccount(accountcode, strings.TrimSpace(user))
	if !isDigits(n) {
		r.fail(codes.Invalid, "%q is not an agent number", user)
		return nil
	}
	return p.st.agent(r, strings.TrimSpace(accountcode), n)
}

// InboundCall plays a call from callerID that reaches agent user, from the
// queue named queue (empty for a direct call). The agent gets NEWCALL
// (INBOUND, callerid callerID) and, if o answers, CONNECT; the call then
// stays up until EndCall (or the Hangup method), or ends at once with o's reason (use QueueMissed
// for a queue call the agent did not answer). The agent must be logged in
// and not paused, and a member of the queue. It returns the call's
// uniqueid once the events have reached the broker.
//
// The call takes the agent's lowest free line enabled for inbound calls.
// An agent whose lines all have a call is busy: the platform does not ring
// it (it gets no event; a direct caller hears busy, a queue rings another
// member), and InboundCall returns a *codes.Error with
// RESPONSE_ITEM_FULL. One whose lines all disable inbound calls gets
// RESPONSE_DISABLED.
func (p *Platform) InboundCall(accountcode, queue, user, callerID string, o Outcome) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	var uid string
	err := p.flow("InboundCall", func(r *rq) {
		ag := p.findAgent(r, accountcode, user)
		if ag == nil {
			return
		}
		queueID := 0
		if queue != "" {
			q := p.st.queue(r, ag.acct.code, stripAccount(ag.acct.code, queue))
			if q == nil {
				return
			}
			if ag.membership(q) == nil {
				r.fail(codes.NotFound, "Agent %s is not a member of queue %s", ag.topicName(), q.name)
				return
			}
			queueID = q.id
		}
		switch ag.status {
		case statusLogoff:
			r.fail(codes.NotAllowed, "Agent %s is not logged in", ag.topicName())
			return
		case statusPause:
			r.fail(codes.NotAllowed, "Agent %s is paused", ag.topicName())
			return
		}
		n, ok := p.st.takeLine(r, ag, false)
		if !ok {
			return
		}
		uid = p.inboundCall(ag, n, queueID, callerID, o).uid
	})
	return uid, err
}

// OutboundCall plays the NewCall flow for a logged-in agent, as the NewCall
// method does but with the outcome given: NEWCALL (OUTBOUND, callerid
// exten) and CONNECT on the agent's leg, DNEWCALL and, if o answers,
// DCONNECT for the remote party. It returns the call's uniqueid once the
// events have reached the broker. The call takes the agent's lowest free
// line enabled for outbound calls. When each has a call the agent is busy
// and, as with the NewCall method, the call still starts but ends at once:
// the agent gets NEWCALL (OUTBOUND) and HANGUP (BUSY), no DNEWCALL, and o
// is not used; OutboundCall returns that call's uniqueid and no error.
// Lines all disabled for outbound calls fail with RESPONSE_DISABLED.
func (p *Platform) OutboundCall(accountcode, user, exten string, o Outcome) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	var uid string
	err := p.flow("OutboundCall", func(r *rq) {
		ag := p.findAgent(r, accountcode, user)
		if ag == nil {
			return
		}
		if ag.status == statusLogoff {
			r.fail(codes.NotAllowed, "Agent %s is not logged in", ag.topicName())
			return
		}
		switch n, busy, ok := p.st.dialLine(r, ag); {
		case busy:
			uid = p.busyCall(ag, exten, "").uid
		case ok:
			uid = p.outboundCall(ag, n, exten, "", o).uid
		}
	})
	return uid, err
}

// AgentCall plays a call from agent from to agent to, both of accountcode
// and logged in. Each agent receives only its own events, on its own leg
// with its own uniqueid: from gets NEWCALL (OUTBOUND, callerid to's
// number), to gets NEWCALL (INBOUND, callerid from's number); if o
// answers, to then from get CONNECT. Hanging up either leg ends both. It
// returns the uniqueids of from's and to's legs.
//
// Each leg takes a free line of its agent (from's enabled for outbound
// calls, to's for inbound ones). When to is busy, every such line with a
// call, to is not rung: from gets NEWCALL (OUTBOUND) and HANGUP (BUSY),
// and toID is empty. When from is busy it fails with RESPONSE_ITEM_FULL.
func (p *Platform) AgentCall(accountcode, from, to string, o Outcome) (fromID, toID string, err error) {
	if err := o.check(); err != nil {
		return "", "", err
	}
	err = p.flow("AgentCall", func(r *rq) {
		a, b := p.findAgent(r, accountcode, from), p.findAgent(r, accountcode, to)
		if a == nil || b == nil {
			return
		}
		if a == b {
			r.fail(codes.Invalid, "An agent cannot call itself")
			return
		}
		for _, ag := range []*agent{a, b} {
			if ag.status == statusLogoff {
				r.fail(codes.NotAllowed, "Agent %s is not logged in", ag.topicName())
				return
			}
		}
		na, ok := p.st.takeLine(r, a, true)
		if !ok {
			return
		}
		nb, what, noLine := p.st.freeLine(b, false)
		switch {
		case what == lineDisabled:
			r.fail(codes.Disabled, "Agent %s has no line enabled to receive calls", b.topicName())
			return
		case what == lineBusy:
			// The platform dials b and finds it busy: a's leg ends BUSY.
			la := p.newLeg(a, na, outbound, b.user)
			p.st.calls[la.uid] = la
			p.emit(a, events.NewCall, outbound, la.callerID, la.uid, "")
			p.end(la, events.ReasonBusy)
			fromID = la.uid
			return
		case noLine:
			r.lenient(lenientNoLine)
		}
		la := p.newLeg(a, na, outbound, b.user)
		lb := p.newLeg(b, nb, inbound, a.user)
		la.peer, lb.peer = lb, la
		p.st.calls[la.uid], p.st.calls[lb.uid] = la, lb
		p.emit(a, events.NewCall, outbound, la.callerID, la.uid, "")
		p.emit(b, events.NewCall, inbound, lb.callerID, lb.uid, "")
		if o.answered() {
			p.answer(la)
			p.answer(lb)
			p.emit(b, events.Connect, "", lb.callerID, lb.uid, "")
			p.emit(a, events.Connect, "", la.callerID, la.uid, "")
		}
		if o.ends() {
			p.end(lb, string(o))
		}
		fromID, toID = la.uid, lb.uid
	})
	return fromID, toID, err
}

// TransferCall redirects every answered call of agent user to exten, as
// the BlindTransfer method does: each of the agent's legs ends with HANGUP
// (BTRANSFER); when exten is another logged-in agent of the accountcode, or
// a queue with a logged-in, unpaused member, that agent gets NEWCALL
// (INBOUND, the remote party's caller id) and CONNECT. It returns the
// uniqueids of the new legs.
func (p *Platform) TransferCall(accountcode, user, exten string) ([]string, error) {
	var uids []string
	err := p.flow("BlindTransfer", func(r *rq) {
		ag := p.findAgent(r, accountcode, user)
		if ag == nil {
			return
		}
		uids, _ = p.transfer(r, ag, strings.TrimSpace(exten))
	})
	return uids, err
}

// EndCall ends the call with the given uniqueid with reason, one of the 14
// hangup reasons (events.HangupReasons). Every leg of the call gets HANGUP
// with the reason.
func (p *Platform) EndCall(uniqueID, reason string) error {
	if reason == "" || Outcome(reason) == Ring || Outcome(reason).check() != nil {
		return fmt.Errorf("ivtest: EndCall: unknown hangup reason %q", reason)
	}
	return p.flow("Hangup", func(r *rq) {
		l := p.st.calls[uniqueID]
		if l == nil {
			r.fail(codes.NotFound, "Call %s not found", uniqueID)
			return
		}
		p.end(l, reason)
	})
}

// AnswerCall answers a call that Ring left ringing: an inbound call's
// agent gets CONNECT; an outbound call's remote party answers (DCONNECT);
// in an agent-to-agent call the called agent answers, and both get
// CONNECT. A call already answered is an error.
func (p *Platform) AnswerCall(uniqueID string) error {
	return p.flow("AnswerCall", func(r *rq) {
		l := p.st.calls[uniqueID]
		if l == nil {
			r.fail(codes.NotFound, "Call %s not found", uniqueID)
			return
		}
		if l.answered {
			r.fail(codes.Duplicate, "Call %s is already answered", uniqueID)
			return
		}
		switch {
		case l.peer != nil:
			in, out := l, l.peer
			if in.direction != inbound {
				in, out = out, in
			}
			p.answer(in)
			p.answer(out)
			p.emit(in.ag, events.Connect, "", in.callerID, in.uid, "")
			p.emit(out.ag, events.Connect, "", out.callerID, out.uid, "")
		case l.direction == outbound:
			p.answer(l)
			p.emit(l.ag, events.DConnect, "", l.callerID, l.uid, "")
		default:
			p.answer(l)
			p.emit(l.ag, events.Connect, "", l.callerID, l.uid, "")
		}
	})
}

// Reset returns the platform to the state Start gave it, for a test that
// must not see what an earlier one did: every call in progress ends with
// HANGUP (MSSTART, the reason the platform gives the calls that a
// restarting media server leaves behind), every agent still logged in is
// logged off with LOGOUT, the state (agents, queues, SIP
// users, permission groups, pause reasons, SMS, callbacks, the NewCall
// outcome) is replaced by the one the options describe, the seeds
// (WithSeed, WithAgent, ...) run again, and the request log,
// DropReplies and DelayReplies are cleared. Keys, the broker, its connections and
// subscriptions (and their queues), the ReplyFunc, Stats, Lenient and a
// PauseRequests in force are kept. It returns once the
// events it caused have reached the broker. Requests served while it runs
// may see a platform whose seeds have not all run yet.
func (p *Platform) Reset() error {
	if p.closed.Load() {
		return errClosed
	}
	p.mu.Lock()
	legs := make([]*leg, 0, len(p.st.calls))
	for _, l := range p.st.calls {
		legs = append(legs, l)
	}
	sort.Slice(legs, func(i, j int) bool { return legs[i].seq < legs[j].seq })
	for _, l := range legs {
		p.end(l, events.ReasonMSStart)
	}
	// Agents still logged in are logged off, with LOGOUT as AgentLogoff
	// sends it, so that a subscriber's idea of who is logged in follows.
	accts := make([]string, 0, len(p.st.accounts))
	for code := range p.st.accounts {
		accts = append(accts, code)
	}
	sort.Strings(accts)
	for _, code := range accts {
		for _, ag := range sortedAgents(p.st.accounts[code]) {
			if ag.status != statusLogoff {
				p.logOff(ag)
			}
		}
	}
	p.st = newState(p.conf)
	p.mu.Unlock()

	p.hookMu.Lock()
	p.reqLog, p.reqNext, p.reqFull = nil, 0, false
	p.dropN, p.dropMethods = 0, nil
	p.delayN, p.delay, p.delayMeth = 0, 0, nil
	p.hookMu.Unlock()

	for _, s := range p.conf.seeds {
		if _, err := p.Do(s.method, s.args); err != nil {
			return fmt.Errorf("ivtest: Reset: seed: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	if err := p.proc.Sync(ctx); err != nil {
		return fmt.Errorf("ivtest: Reset: publishing events: %w", err)
	}
	return nil
}

// SetNewCallOutcome sets how the remote party answers the calls that later
// NewCall requests place (see Outcome).
func (p *Platform) SetNewCallOutcome(o Outcome) error {
	if err := o.check(); err != nil {
		return err
	}
	p.mu.Lock()
	p.st.outcome = o
	p.mu.Unlock()
	return nil
}
