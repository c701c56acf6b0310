package fakeplatform

import (
	"sort"
	"strconv"

	"github.com/instantvoice/instantvoice-go/codes"
)

// ---- Agent queue memberships ----

func (a *agent) membership(q *queue) *membership {
	for _, m := range a.queues {
		if m.q == q {
			return m
		}
	}
	return nil
}

func agentQueueAdd(p *Platform, r *rq) any {
	code := r.must("accountcode")
	user := r.number(code, "user")
	items := r.items("queues", "name")
	type want struct {
		name     string
		priority int
	}
	var add []want
	for _, it := range items {
		w := want{name: it.number(code, "name")}
		w.priority, _ = it.optInt("priority")
		r.absorb(it)
		add = append(add, w)
	}
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, code, user)
	if ag == nil {
		return nil
	}
	var qs []*queue
	for _, w := range add {
		q := p.st.queue(r, code, w.name)
		if q == nil {
			return nil
		}
		if ag.membership(q) != nil {
			return r.fail(codes.Duplicate, "Agent is already a member of queue %s", w.name)
		}
		for _, seen := range qs {
			if seen == q {
				return r.fail(codes.Duplicate, "Queue %s given twice", w.name)
			}
		}
		qs = append(qs, q)
	}
	for i, q := range qs {
		ag.queues = append(ag.queues, &membership{q: q, priority: add[i].priority})
	}
	return nil
}

func agentQueueDelete(p *Platform, r *rq) any {
	code := r.must("accountcode")
	user := r.number(code, "user")
	name := r.number(code, "name")
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, code, user)
	if ag == nil {
		return nil
	}
	q := p.st.queue(r, code, name)
	if q == nil {
		return nil
	}
	if ag.membership(q) == nil {
		return r.fail(codes.NotFound, "Agent is not a member of queue %s", name)
	}
	if len(ag.queues) == 1 {
		return r.fail(codes.NotAllowed, "An agent must stay a member of at least one queue")
	}
	ag.dropQueue(q)
	return nil
}

func (a *agent) dropQueue(q *queue) {
	for i, m := range a.queues {
		if m.q == q {
			a.queues = append(a.queues[:i:i], a.queues[i+1:]...)
			return
		}
	}
}

func agentQueueModify(p *Platform, r *rq) any {
	code := r.must("original_accountcode")
	user := r.number(code, "original_user")
	name := r.number(code, "original_name")
	prio := r.mustInt("priority")
	if r.bad() {
		return nil
	}
	ag := p.st.agent(r, code, user)
	if ag == nil {
		return nil
	}
	q := p.st.queue(r, code, name)
	if q == nil {
		return nil
	}
	m := ag.membership(q)
	if m == nil {
		return r.fail(codes.NotFound, "Agent is not a member of queue %s", name)
	}
	m.priority = prio
	return nil
}

func agentQueueList(p *Platform, r *rq) any {
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
	for _, m := range ag.queues {
		out = append(out, map[string]any{"name": number(m.q.name), "priority": m.priority})
	}
	return out
}

// members returns the agents of q, by priority then id.
func (q *queue) members() []*agent {
	var list []*agent
	for _, ag := range sortedAgents(q.acct) {
		if ag.membership(q) != nil {
			list = append(list, ag)
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		return list[i].membership(q).priority < list[j].membership(q).priority
	})
	return list
}

func agentQueueMembers(p *Platform, r *rq) any {
	code := r.must("accountcode")
	name := r.number(code, "name")
	if r.bad() {
		return nil
	}
	q := p.st.queue(r, code, name)
	if q == nil {
		return nil
	}
	out := []any{}
	for _, ag := range sortedAgents(q.acct) {
		if m := ag.membership(q); m != nil {
			out = append(out, map[string]any{"priority": strconv.Itoa(m.priority), "user": ag.user})
		}
	}
	return out
}

// ---- Queues ----

func queueAdd(p *Platform, r *rq) any {
	code := r.must("accountcode")
	name := r.number(code, "name")
	set := readFields(r, queueFields)
	if r.bad() {
		return nil
	}
	a := p.st.account(r, code)
	if a == nil {
		return nil
	}
	if a.queues[canon(name)] != nil {
		return r.fail(codes.Duplicate, "Queue %s already exists", name)
	}
	conf := defaults(queueFields)
	for k, v := range set {
		conf[k] = v
	}
	a.queues[canon(name)] = &queue{id: p.st.nextID(), acct: a, name: name, conf: conf}
	return nil
}

func queueModify(p *Platform, r *rq) any {
	ocode := r.must("original_accountcode")
	oname := r.number(ocode, "original_name")
	ncode, hasCode := r.opt("accountcode")
	prefix := ocode
	if hasCode {
		prefix = ncode
	}
	nname, hasName := r.optNumber(prefix, "name")
	set := readFields(r, queueFields)
	if r.bad() {
		return nil
	}
	q := p.st.queue(r, ocode, oname)
	if q == nil {
		return nil
	}
	target := q.acct
	if hasCode {
		if target = p.st.account(r, ncode); target == nil {
			return nil
		}
	}
	if !hasName {
		nname = q.name
	}
	if target != q.acct || canon(nname) != canon(q.name) {
		if other := target.queues[canon(nname)]; other != nil && other != q {
			return r.fail(codes.Duplicate, "Queue %s already exists", nname)
		}
		if target != q.acct && len(q.members()) > 0 {
			return r.fail(codes.NotAllowed, "A queue with members cannot change its accountcode")
		}
		delete(q.acct.queues, canon(q.name))
		q.acct = target
		target.queues[canon(nname)] = q
	}
	q.name = nname
	for k, v := range set {
		q.conf[k] = v
	}
	return nil
}

func queueDelete(p *Platform, r *rq) any {
	code := r.must("accountcode")
	name := r.number(code, "name")
	if r.bad() {
		return nil
	}
	q := p.st.queue(r, code, name)
	if q == nil {
		return nil
	}
	// RESPONSE_NOTEMPTY: "This request requires the target to be empty,
	// but currently it is not." Deleting the queue would leave its members
	// in no queue, the state AgentQueueDelete refuses.
	if n := len(q.members()); n > 0 {
		return r.fail(codes.NotEmpty, "Queue %s has %d members", q.name, n)
	}
	delete(q.acct.queues, canon(q.name))
	return nil
}

func queueList(p *Platform, r *rq) any {
	code := r.must("accountcode")
	if r.bad() {
		return nil
	}
	a := p.st.account(r, code)
	if a == nil {
		return nil
	}
	out := []any{}
	for _, q := range byID(a.queues, func(q *queue) int { return q.id }) {
		out = append(out, q.name)
	}
	return out
}

func queueInfo(p *Platform, r *rq) any {
	code := r.must("accountcode")
	name := r.number(code, "name")
	if r.bad() {
		return nil
	}
	q := p.st.queue(r, code, name)
	if q == nil {
		return nil
	}
	m := make(map[string]any, 48)
	for k, v := range q.conf {
		m[k] = v
	}
	var total, in, off, paused, oncall, idle int
	for _, ag := range q.members() {
		total++
		switch {
		case ag.status == statusLogoff:
			off++
		case ag.status == statusPause:
			in++
			paused++
		case p.st.onCall(ag):
			in++
			oncall++
		default:
			in++
			idle++
		}
	}
	m["id"] = q.id
	m["accountcode"] = q.acct.code
	m["name"] = q.acct.code + "_" + q.name
	m["agents_total"] = total
	m["agents_loggedin"] = in
	m["agents_loggedoff"] = off
	m["agents_paused"] = paused
	m["agents_oncall"] = oncall
	m["agents_idle"] = idle
	for _, k := range []string{"agents_pending_logoff", "agents_unavailable_quarantine", "agents_logoff_pause",
		"agents_pending_pause", "agents_unavailable_wrapup", "maxwait", "len", "timestamp", "max_recordings"} {
		m[k] = 0
	}
	m["leavewhenempty"] = "no"
	m["monitorfilename"] = ""
	m["conditionalmon"] = "yes"
	m["monitor_format"] = "wav49"
	for w := 1; w <= 3; w++ {
		for a := 1; a <= 3; a++ {
			m["sl_w"+strconv.Itoa(w)+"_a"+strconv.Itoa(a)] = nil
		}
	}
	return m
}
