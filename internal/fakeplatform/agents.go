package fakeplatform

import (
	"sort"
	"strings"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
)

// ---- Agents ----

func agentAdd(p *Platform, r *rq) any {
	code := r.must("accountcode")
	user := r.number(code, "user")
	pass, hasPass := r.opt("pass", "passwd", "password")
	name, _ := r.opt("name")
	if hasPass && !isDigits(pass) {
		r.fail(codes.Invalid, "pass must be an integer")
	}
	if r.bad() {
		return nil
	}
	a := p.st.account(r, code)
	if a == nil {
		return nil
	}
	if a.agents[canon(user)] != nil {
		return r.fail(codes.Duplicate, "Agent %s_%s already exists", code, user)
	}
	a.agents[canon(user)] = &agent{id: p.st.nextID(), acct: a, user: user, pass: pass, name: name, status: statusLogoff}
	return nil
}

func agentDelete(p *Platform, r *rq) any {
	code := r.must("accountcode")
	user := r.number(code, "user")
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, code, user)
	if ag == nil {
		return nil
	}
	// The reference is silent on deleting a logged-in agent. A real ACD
	// most likely refuses it, as it refuses to renumber one (AgentModify):
	// the agent's phone, calls and events would be left behind.
	if ag.status != statusLogoff {
		return r.fail(codes.NotAllowed, "Agent %s is logged in; log it off first", ag.topicName())
	}
	// A call the agent kept after logging off ends with it.
	for _, l := range p.st.calls {
		if l.ag == ag {
			p.end(l, events.ReasonUnknown)
		}
	}
	delete(ag.acct.agents, canon(ag.user))
	return nil
}

func agentModify(p *Platform, r *rq) any {
	ocode := r.must("original_accountcode")
	ouser := r.number(ocode, "original_user")
	ncode, hasCode := r.opt("accountcode")
	prefix := ocode
	if hasCode {
		prefix = ncode
	}
	nuser, hasUser := r.optNumber(prefix, "user")
	pass, hasPass := r.opt("pass", "passwd", "password")
	name, hasName := r.opt("name")
	if hasPass && !isDigits(pass) {
		r.fail(codes.Invalid, "pass must be an integer")
	}
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, ocode, ouser)
	if ag == nil {
		return nil
	}
	target := ag.acct
	if hasCode {
		if target = p.st.account(r, ncode); target == nil {
			return nil
		}
	}
	if !hasUser {
		nuser = ag.user
	}
	if target != ag.acct || canon(nuser) != canon(ag.user) {
		if other := target.agents[canon(nuser)]; other != nil && other != ag {
			return r.fail(codes.Duplicate, "Agent %s_%s already exists", target.code, nuser)
		}
		if ag.status != statusLogoff {
			return r.fail(codes.NotAllowed, "A logged-in agent cannot change its accountcode or user")
		}
		if target != ag.acct && len(ag.queues) > 0 {
			return r.fail(codes.NotAllowed, "The agent is a member of queues of accountcode %s", ag.acct.code)
		}
		delete(ag.acct.agents, canon(ag.user))
		ag.acct = target
		target.agents[canon(nuser)] = ag
	}
	ag.user = nuser
	if hasPass {
		ag.pass = pass
	}
	if hasName {
		ag.name = name
	}
	return nil
}

func agentList(p *Platform, r *rq) any {
	code := r.must("accountcode")
	if r.bad() {
		return nil
	}
	a := p.st.account(r, code)
	if a == nil {
		return nil
	}
	out := []any{}
	for _, ag := range sortedAgents(a) {
		out = append(out, number(ag.user))
	}
	return out
}

func agentInfo(p *Platform, r *rq) any {
	code := r.must("accountcode")
	user := r.number(code, "user")
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, code, user)
	if ag == nil {
		return nil
	}
	iface, ext := "n/a", "n/a"
	if ag.status != statusLogoff {
		iface = ag.iface
		if _, res, ok := strings.Cut(ag.iface, "/"); ok {
			ext = res
		}
	}
	reason := ""
	if ag.status == statusPause {
		reason = ag.pauseDesc
	}
	return map[string]any{
		"accountcode":    ag.acct.code,
		"name":           ag.name,
		"extension":      ext,
		"reasons_reason": reason,
		"agentstatusts":  ag.statusTS,
		"logints":        ag.loginTS,
		"disabled":       0,
		"user":           ag.topicName(),
		"pass":           ag.pass,
		"interface":      iface,
		"agentstatus":    ag.status,
		"id":             ag.id,
	}
}

// ---- Agent lines ----

func agentLineAdd(p *Platform, r *rq) any {
	code := r.must("accountcode")
	user := r.number(code, "user")
	items := r.items("lines", "linenumber")
	var add []*line
	seen := map[int]bool{}
	for _, it := range items {
		l := &line{number: 1, inbound: it.optBit(1, "inbound"), outbound: it.optBit(1, "outbound")}
		if n, ok := it.optInt("linenumber"); ok {
			l.number = n
		}
		r.absorb(it)
		if l.number < 0 {
			r.fail(codes.Invalid, "linenumber must not be negative")
		}
		if seen[l.number] {
			r.fail(codes.Duplicate, "Line %d given twice", l.number)
		}
		seen[l.number] = true
		add = append(add, l)
	}
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, code, user)
	if ag == nil {
		return nil
	}
	for _, l := range add {
		if ag.line(l.number) != nil {
			return r.fail(codes.Duplicate, "Line %d already exists", l.number)
		}
	}
	for _, l := range add {
		l.id = p.st.nextID()
		ag.lines = append(ag.lines, l)
	}
	sort.Slice(ag.lines, func(i, j int) bool { return ag.lines[i].number < ag.lines[j].number })
	return nil
}

func (a *agent) line(n int) *line {
	for _, l := range a.lines {
		if l.number == n {
			return l
		}
	}
	return nil
}

func agentLineDelete(p *Platform, r *rq) any {
	code := r.must("accountcode")
	user := r.number(code, "user")
	n := r.mustInt("linenumber")
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, code, user)
	if ag == nil {
		return nil
	}
	if ag.line(n) == nil {
		return r.fail(codes.NotFound, "Line %d not found", n)
	}
	if len(ag.lines) == 1 {
		return r.fail(codes.NotAllowed, "An agent must keep at least one line")
	}
	if c := p.st.usedLines(ag)[n]; c != nil {
		return r.fail(codes.NotAllowed, "Line %d has a call (%s)", n, c.uid)
	}
	for i, l := range ag.lines {
		if l.number == n {
			ag.lines = append(ag.lines[:i:i], ag.lines[i+1:]...)
			break
		}
	}
	return nil
}

func agentLineModify(p *Platform, r *rq) any {
	code := r.must("original_accountcode")
	user := r.number(code, "original_user")
	n := r.mustInt("original_linenumber")
	newN, renumber := r.optInt("linenumber")
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, code, user)
	if ag == nil {
		return nil
	}
	l := ag.line(n)
	if l == nil {
		return r.fail(codes.NotFound, "Line %d not found", n)
	}
	in, out := r.optBit(l.inbound, "inbound"), r.optBit(l.outbound, "outbound")
	if r.bad() {
		return nil
	}
	if renumber && newN != n {
		if ag.line(newN) != nil {
			return r.fail(codes.Duplicate, "Line %d already exists", newN)
		}
		if c := p.st.usedLines(ag)[n]; c != nil {
			c.line = newN // the call stays on its line
		}
		l.number = newN
		sort.Slice(ag.lines, func(i, j int) bool { return ag.lines[i].number < ag.lines[j].number })
	}
	l.inbound, l.outbound = in, out
	return nil
}

func agentLineList(p *Platform, r *rq) any {
	code := r.must("accountcode")
	user := r.number(code, "user")
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, code, user)
	if ag == nil {
		return nil
	}
	out := []any{}
	used := p.st.usedLines(ag)
	for _, l := range ag.lines {
		status, uid, queueID, ts := p.st.lineStatus(l, used)
		out = append(out, map[string]any{
			"id":           l.id,
			"queues_id":    queueID,
			"outbound":     l.outbound,
			"inbound":      l.inbound,
			"linestatus":   status,
			"uniqueid":     uid,
			"linenumber":   l.number,
			"linestatusts": ts,
		})
	}
	return out
}
