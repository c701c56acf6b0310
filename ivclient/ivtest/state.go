package ivtest

import (
	"encoding/json"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/instantvoice/instantvoice-go/codes"
)

// state is everything the platform knows; Platform.mu guards it.
type state struct {
	accounts     map[string]*account
	groups       []*location
	pauseReasons map[string]string // canon(number) -> description
	calls        map[string]*leg   // by uniqueid
	sms          []SMS
	callbacks    []CallBack
	outcome      Outcome // of NewCall requests
	seq          int     // ids of agents, lines, queues, SIP users, calls
}

type account struct {
	code   string
	agents map[string]*agent   // by canon(user)
	queues map[string]*queue   // by canon(name)
	sips   map[string]*sipUser // by canon(name)
}

type agent struct {
	id        int
	acct      *account
	user      string // the number, as given
	pass      string
	name      string
	status    string // statusLogoff, statusLogin or statusPause
	iface     string
	statusTS  int64
	loginTS   int64
	pauseDesc string
	lines     []*line       // by number
	queues    []*membership // in the order added
	location  *location
}

// Agent status values, as AgentInfo reports them.
const (
	statusLogoff = "LOGOFF"
	statusLogin  = "LOGIN"
	statusPause  = "PAUSE"
)

func (a *agent) topicName() string { return a.acct.code + "_" + a.user }

type line struct {
	id       int
	number   int
	inbound  int
	outbound int
}

type membership struct {
	q        *queue
	priority int
}

type queue struct {
	id   int
	acct *account
	name string
	conf map[string]any
}

type sipUser struct {
	id       int
	acct     *account
	name     string
	conf     map[string]any
	location *location
}

type location struct {
	id   int
	name string
}

// SMS is a text message sent with SendSms.
type SMS struct {
	Accountcode string
	Number      string
	Text        string
}

// CallBack is a call appended to the callback list with NewCallBack.
type CallBack struct {
	Accountcode string
	RuleID      string
	Mcdu        string
	Originator  string
	Language    string
	LocationID  string // the permission group's number, when given
	QueueID     string // the queue's id, when given
	Email       string
}

func newState(cfg *config) *state {
	st := &state{
		accounts:     make(map[string]*account),
		pauseReasons: make(map[string]string),
		calls:        make(map[string]*leg),
		outcome:      cfg.newCallOutcome,
	}
	for _, code := range append([]string{"default"}, cfg.accountcodes...) {
		code = strings.TrimSpace(code)
		if st.accounts[code] == nil {
			st.accounts[code] = &account{code: code, agents: map[string]*agent{}, queues: map[string]*queue{}, sips: map[string]*sipUser{}}
		}
	}
	for _, g := range cfg.groups {
		g = strings.TrimSpace(g)
		if st.findLocation(g) == nil {
			st.groups = append(st.groups, &location{id: len(st.groups) + 1, name: g})
		}
	}
	for n, d := range cfg.pauseReasons {
		st.pauseReasons[n] = d
	}
	return st
}

func (st *state) nextID() int {
	st.seq++
	return st.seq
}

// Lookups. Each records RESPONSE_NOT_FOUND in r and returns nil when the
// target does not exist.

func (st *state) account(r *rq, code string) *account {
	a := st.accounts[code]
	if a == nil {
		r.fail(codes.NotFound, "Accountcode %s not found", code)
	}
	return a
}

func (st *state) agent(r *rq, code, user string) *agent {
	a := st.account(r, code)
	if a == nil {
		return nil
	}
	ag := a.agents[canon(user)]
	if ag == nil {
		r.fail(codes.NotFound, "Agent %s_%s not found", code, user)
	}
	return ag
}

func (st *state) queue(r *rq, code, name string) *queue {
	a := st.account(r, code)
	if a == nil {
		return nil
	}
	q := a.queues[canon(name)]
	if q == nil {
		r.fail(codes.NotFound, "Queue %s not found", name)
	}
	return q
}

func (st *state) sip(r *rq, code, name string) *sipUser {
	a := st.account(r, code)
	if a == nil {
		return nil
	}
	u := a.sips[canon(name)]
	if u == nil {
		r.fail(codes.NotFound, "Sip user %s not found", name)
	}
	return u
}

// findLocation finds a permission group by name, or else by number.
func (st *state) findLocation(name string) *location {
	for _, g := range st.groups {
		if canon(g.name) == canon(name) {
			return g
		}
	}
	if n, err := strconv.Atoi(name); err == nil {
		for _, g := range st.groups {
			if g.id == n {
				return g
			}
		}
	}
	return nil
}

func (st *state) location(r *rq, name string) *location {
	g := st.findLocation(name)
	if g == nil {
		r.fail(codes.NotFound, "Permission group %s not found", name)
	}
	return g
}

func sortedAgents(a *account) []*agent { return byID(a.agents, func(ag *agent) int { return ag.id }) }

// byID returns the values of m in the order of their ids, which is the
// order they were created in.
func byID[T any](m map[string]T, id func(T) int) []T {
	list := make([]T, 0, len(m))
	for _, v := range m {
		list = append(list, v)
	}
	sort.Slice(list, func(i, j int) bool { return id(list[i]) < id(list[j]) })
	return list
}

// number renders a stored number as a JSON number ("0015" as 15), the way
// the platform's integer columns come out.
func number(s string) json.Number { return json.Number(canon(s)) }

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
	delete(ag.acct.agents, canon(ag.user))
	for uid, l := range p.st.calls {
		if l.ag == ag {
			if l.peer != nil {
				l.peer.peer = nil
			}
			delete(p.st.calls, uid)
		}
	}
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
	for _, l := range ag.lines {
		out = append(out, map[string]any{
			"id":           l.id,
			"queues_id":    0,
			"outbound":     l.outbound,
			"inbound":      l.inbound,
			"linestatus":   "IDLE",
			"uniqueid":     "",
			"linenumber":   l.number,
			"linestatusts": 0,
		})
	}
	return out
}

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

// ---- Permission groups ----

// permTarget is an agent or a SIP user, for the *Permission methods.
type permTarget interface{ loc() **location }

func (a *agent) loc() **location   { return &a.location }
func (u *sipUser) loc() **location { return &u.location }

func agentTarget(p *Platform, r *rq, withLocation bool) (permTarget, string) {
	code := r.must("accountcode")
	user := r.number(code, "user")
	var loc string
	if withLocation {
		loc = r.must("location")
	}
	if r.bad() {
		return nil, ""
	}
	if ag := p.st.agent(r, code, user); ag != nil {
		return ag, loc
	}
	return nil, ""
}

func sipTarget(p *Platform, r *rq, withLocation bool) (permTarget, string) {
	code := r.must("accountcode")
	name := r.number(code, "name")
	var loc string
	if withLocation {
		loc = r.must("location")
	}
	if r.bad() {
		return nil, ""
	}
	if u := p.st.sip(r, code, name); u != nil {
		return u, loc
	}
	return nil, ""
}

func permAdd(p *Platform, r *rq, t permTarget, name string) any {
	if t == nil {
		return nil
	}
	g := p.st.location(r, name)
	if g == nil {
		return nil
	}
	if *t.loc() != nil {
		return r.fail(codes.Duplicate, "A permission group is already set; use the Modify method")
	}
	*t.loc() = g
	return nil
}

func permModify(p *Platform, r *rq, t permTarget, name string) any {
	if t == nil {
		return nil
	}
	g := p.st.location(r, name)
	if g == nil {
		return nil
	}
	if *t.loc() == nil {
		return r.fail(codes.NotFound, "No permission group is set")
	}
	*t.loc() = g
	return nil
}

func permDelete(r *rq, t permTarget) any {
	if t == nil {
		return nil
	}
	if *t.loc() == nil {
		return r.fail(codes.NotFound, "No permission group is set")
	}
	*t.loc() = nil
	return nil
}

func permInfo(r *rq, t permTarget) any {
	if t == nil {
		return nil
	}
	g := *t.loc()
	if g == nil {
		return r.fail(codes.NotFound, "No permission group is set")
	}
	return g.name
}

func agentAddPermission(p *Platform, r *rq) any {
	t, loc := agentTarget(p, r, true)
	return permAdd(p, r, t, loc)
}

func agentModifyPermission(p *Platform, r *rq) any {
	t, loc := agentTarget(p, r, true)
	return permModify(p, r, t, loc)
}

func agentDeletePermission(p *Platform, r *rq) any {
	t, _ := agentTarget(p, r, false)
	return permDelete(r, t)
}

func agentInfoPermission(p *Platform, r *rq) any {
	t, _ := agentTarget(p, r, false)
	return permInfo(r, t)
}

func sipUserAddPermission(p *Platform, r *rq) any {
	t, loc := sipTarget(p, r, true)
	return permAdd(p, r, t, loc)
}

func sipUserModifyPermission(p *Platform, r *rq) any {
	t, loc := sipTarget(p, r, true)
	return permModify(p, r, t, loc)
}

func sipUserDeletePermission(p *Platform, r *rq) any {
	t, _ := sipTarget(p, r, false)
	return permDelete(r, t)
}

func sipUserInfoPermission(p *Platform, r *rq) any {
	t, _ := sipTarget(p, r, false)
	return permInfo(r, t)
}

// ---- Settings of queues and SIP users ----

type fieldKind int

const (
	fText     fieldKind = iota
	fNullText           // text that reads null until set
	fInt                // a non-negative integer
	fYesNo
	fEnum
	fQualify  // yes, no or milliseconds
	fCodecs   // codecs separated by ';'
	fIntList  // integers separated by ','
	fIP       // an IP address
	fNet      // an IP address or network
	fSetVar   // variable=value
	fDigits   // digits
	fMAC      // a MAC address
	fDisallow // codecs separated by ';', or "all"
)

type field struct {
	name    string
	aliases []string
	kind    fieldKind
	def     any
	enum    []string
	below   int // an integer must be smaller than this, when not 0
}

func (f field) names() []string { return append([]string{f.name}, f.aliases...) }

var queueFields = []field{
	{name: "description", kind: fText, def: ""},
	{name: "sl_answeredbefore_1", kind: fInt, def: 30, below: 300},
	{name: "sl_answeredbefore_2", kind: fInt, def: 60, below: 900},
	{name: "sl_answeredbefore_3", kind: fInt, def: 60, below: 900},
	{name: "joinempty", kind: fYesNo, def: "yes"},
	{name: "requiresendinfo", aliases: []string{"requisendinfo"}, kind: fYesNo, def: "yes"},
	{name: "timeout", kind: fInt, def: 0},
	{name: "dialtimeout", kind: fInt, def: 10},
	{name: "maxlen", kind: fInt, def: 0},
	{name: "wrapuptime", kind: fInt, def: 0},
	{name: "quarantinetime", kind: fInt, def: 0},
	{name: "announce", kind: fText, def: ""},
	{name: "musiconhold", kind: fText, def: "default"},
}

var sipFields = []field{
	{name: "description", kind: fText, def: ""},
	{name: "allow", kind: fCodecs, def: "ilbc;gsm;ulaw;alaw"},
	{name: "amaflags", kind: fEnum, def: "default", enum: []string{"default", "omit", "billing", "documentation"}},
	{name: "call-limit", aliases: []string{"call_limit", "calllimit"}, kind: fInt, def: 0},
	{name: "callerid", kind: fNullText, def: nil},
	{name: "callgroup", kind: fIntList, def: ""},
	{name: "canreinvite", kind: fYesNo, def: "yes"},
	{name: "context", kind: fText, def: "instantvoice_agent"},
	{name: "defaultip", kind: fIP, def: ""},
	{name: "deny", kind: fNet, def: ""},
	{name: "disallow", kind: fDisallow, def: ""},
	{name: "dtmfmode", kind: fEnum, def: "rfc2833", enum: []string{"inband", "info", "rfc2833"}},
	{name: "fromdomain", kind: fText, def: ""},
	{name: "fromuser", kind: fText, def: ""},
	{name: "fullcontact", kind: fText, def: ""},
	{name: "host", kind: fText, def: "dynamic"},
	{name: "ignoreregexpire", aliases: []string{"ignoreexpire", "ignoregexpire"}, kind: fYesNo, def: "no"},
	{name: "insecure", kind: fEnum, def: "", enum: []string{"invite", "port", "invite,port", "port,invite"}},
	{name: "ipaddr", kind: fIP, def: ""},
	{name: "language", kind: fEnum, def: "en_US", enum: []string{"en_US", "pt_BR", "es_ES"}},
	{name: "mailbox", kind: fText, def: ""},
	{name: "md5secret", kind: fText, def: ""},
	{name: "musiconhold", kind: fText, def: ""},
	{name: "nat", kind: fYesNo, def: "no"},
	{name: "permit", kind: fNet, def: ""},
	{name: "pickupgroup", kind: fIntList, def: ""},
	{name: "port", kind: fInt, def: 5060, below: 65536},
	{name: "progressinband", kind: fEnum, def: "never", enum: []string{"yes", "no", "never"}},
	{name: "promiscredir", kind: fYesNo, def: "no"},
	{name: "qualify", kind: fQualify, def: "no"},
	{name: "regexten", kind: fDigits, def: ""},
	{name: "regseconds", kind: fInt, def: 0},
	{name: "rpid", kind: fText, def: ""},
	{name: "rtpholdtimeout", kind: fInt, def: 0},
	{name: "rtptimeout", kind: fInt, def: 0},
	{name: "secret", kind: fText, def: ""},
	{name: "sendrpid", kind: fYesNo, def: "no"},
	{name: "setvar", kind: fSetVar, def: ""},
	{name: "subscribecontext", kind: fText, def: ""},
	{name: "trustrpid", kind: fYesNo, def: "no"},
	{name: "type", kind: fEnum, def: "friend", enum: []string{"user", "friend", "peer"}},
	{name: "useclientcode", kind: fYesNo, def: "no"},
	{name: "username", kind: fText, def: ""},
	{name: "route", kind: fYesNo, def: "no"},
	{name: "macaddr", kind: fMAC, def: ""},
}

func defaults(fields []field) map[string]any {
	m := make(map[string]any, len(fields))
	for _, f := range fields {
		m[f.name] = f.def
	}
	return m
}

// readFields reads the settings present in r into a fresh map; absent
// settings are left out.
func readFields(r *rq, fields []field) map[string]any {
	out := make(map[string]any)
	for _, f := range fields {
		s, ok := r.opt(f.names()...)
		if !ok {
			continue
		}
		v, ok := parseField(f, s)
		if !ok {
			r.fail(codes.Invalid, "Invalid value for %s", f.name)
			continue
		}
		out[f.name] = v
	}
	return out
}

var codecs = map[string]bool{"ilbc": true, "gsm": true, "ulaw": true, "alaw": true, "g729": true}

func parseField(f field, s string) (any, bool) {
	switch f.kind {
	case fText, fNullText:
		return s, true
	case fInt:
		n, ok := parseInt(s)
		if !ok || n < 0 || (f.below > 0 && n >= f.below) {
			return nil, false
		}
		return n, true
	case fYesNo:
		s = strings.ToLower(s)
		return s, s == "yes" || s == "no"
	case fEnum:
		for _, e := range f.enum {
			if strings.EqualFold(s, e) {
				return e, true
			}
		}
		return nil, false
	case fQualify:
		if l := strings.ToLower(s); l == "yes" || l == "no" {
			return l, true
		}
		if n, ok := parseInt(s); ok && n >= 0 {
			return n, true
		}
		return nil, false
	case fCodecs, fDisallow:
		if f.kind == fDisallow && strings.EqualFold(s, "all") {
			return "all", true
		}
		for _, c := range strings.Split(s, ";") {
			if !codecs[strings.ToLower(strings.TrimSpace(c))] {
				return nil, false
			}
		}
		return s, true
	case fIntList:
		for _, n := range strings.Split(s, ",") {
			if !isDigits(strings.TrimSpace(n)) {
				return nil, false
			}
		}
		return s, true
	case fIP:
		return s, net.ParseIP(s) != nil
	case fNet:
		if net.ParseIP(s) != nil {
			return s, true
		}
		if _, _, err := net.ParseCIDR(s); err == nil {
			return s, true
		}
		ip, mask, ok := strings.Cut(s, "/")
		return s, ok && net.ParseIP(ip) != nil && net.ParseIP(mask) != nil
	case fSetVar:
		k, _, ok := strings.Cut(s, "=")
		return s, ok && strings.TrimSpace(k) != ""
	case fDigits:
		return s, isDigits(s)
	case fMAC:
		_, err := net.ParseMAC(s)
		return s, err == nil
	}
	return nil, false
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
	for _, ag := range q.acct.agents {
		ag.dropQueue(q)
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

// ---- SIP users ----

func sipUserAdd(p *Platform, r *rq) any {
	code := r.must("accountcode")
	name := r.number(code, "name")
	set := readFields(r, sipFields)
	loc, hasLoc := r.opt("location")
	if r.bad() {
		return nil
	}
	a := p.st.account(r, code)
	if a == nil {
		return nil
	}
	var g *location
	if hasLoc {
		if g = p.st.location(r, loc); g == nil {
			return nil
		}
	}
	if a.sips[canon(name)] != nil {
		return r.fail(codes.Duplicate, "Sip user %s already exists", name)
	}
	conf := defaults(sipFields)
	for k, v := range set {
		conf[k] = v
	}
	a.sips[canon(name)] = &sipUser{id: p.st.nextID(), acct: a, name: name, conf: conf, location: g}
	return nil
}

func sipUserModify(p *Platform, r *rq) any {
	ocode := r.must("original_accountcode")
	oname := r.number(ocode, "original_name")
	ncode, hasCode := r.opt("accountcode")
	prefix := ocode
	if hasCode {
		prefix = ncode
	}
	nname, hasName := r.optNumber(prefix, "name")
	set := readFields(r, sipFields)
	loc, hasLoc := r.opt("location")
	if r.bad() {
		return nil
	}
	u := p.st.sip(r, ocode, oname)
	if u == nil {
		return nil
	}
	var g *location
	if hasLoc {
		if g = p.st.location(r, loc); g == nil {
			return nil
		}
	}
	target := u.acct
	if hasCode {
		if target = p.st.account(r, ncode); target == nil {
			return nil
		}
	}
	if !hasName {
		nname = u.name
	}
	if target != u.acct || canon(nname) != canon(u.name) {
		if other := target.sips[canon(nname)]; other != nil && other != u {
			return r.fail(codes.Duplicate, "Sip user %s already exists", nname)
		}
		delete(u.acct.sips, canon(u.name))
		u.acct = target
		target.sips[canon(nname)] = u
	}
	u.name = nname
	for k, v := range set {
		u.conf[k] = v
	}
	if hasLoc {
		u.location = g
	}
	return nil
}

func sipUserDelete(p *Platform, r *rq) any {
	code := r.must("accountcode")
	name := r.number(code, "name")
	if r.bad() {
		return nil
	}
	u := p.st.sip(r, code, name)
	if u == nil {
		return nil
	}
	delete(u.acct.sips, canon(u.name))
	return nil
}

func sipUserList(p *Platform, r *rq) any {
	code := r.must("accountcode")
	if r.bad() {
		return nil
	}
	a := p.st.account(r, code)
	if a == nil {
		return nil
	}
	out := []any{}
	for _, u := range byID(a.sips, func(u *sipUser) int { return u.id }) {
		out = append(out, u.name)
	}
	return out
}

func sipUserInfo(p *Platform, r *rq) any {
	code := r.must("accountcode")
	name := r.number(code, "name")
	if r.bad() {
		return nil
	}
	u := p.st.sip(r, code, name)
	if u == nil {
		return nil
	}
	m := make(map[string]any, len(u.conf)+3)
	for k, v := range u.conf {
		if k != "macaddr" {
			m[k] = v
		}
	}
	m["id"] = u.id
	m["accountcode"] = u.acct.code
	m["name"] = u.acct.code + "_" + u.name
	return m
}

// ---- SendSms and NewCallBack ----

func phoneNumber(s string) bool { return isDigits(strings.TrimPrefix(s, "+")) }

func sendSms(p *Platform, r *rq) any {
	code := r.must("accountcode")
	num := r.must("number")
	text := r.must("text")
	if num != "" && !phoneNumber(num) {
		r.fail(codes.Invalid, "number must be a telephone number")
	}
	if r.bad() {
		return nil
	}
	if p.st.account(r, code) == nil {
		return nil
	}
	p.st.sms = append(p.st.sms, SMS{Accountcode: code, Number: num, Text: text})
	return nil
}

func newCallBack(p *Platform, r *rq) any {
	code := r.must("accountcode")
	mcdu := r.must("mcdu")
	orig := r.must("originator")
	rule, _ := r.opt("ruleid", "rule_id")
	lang, hasLang := r.opt("language")
	locID, hasLoc := r.opt("location_id", "locationid")
	queueID, hasQueue := r.opt("queue_id", "queueid")
	email, hasEmail := r.opt("email")
	if mcdu != "" && !isDigits(mcdu) {
		r.fail(codes.Invalid, "mcdu must be a number")
	}
	if orig != "" && !phoneNumber(orig) {
		r.fail(codes.Invalid, "originator must be a telephone number")
	}
	if rule != "" && !isDigits(rule) {
		r.fail(codes.Invalid, "ruleid must be a number")
	}
	if hasLang && lang != "pt_BR" && lang != "en_US" {
		r.fail(codes.Invalid, "language must be pt_BR or en_US")
	}
	if hasEmail && !strings.Contains(email, "@") {
		r.fail(codes.Invalid, "email must be an email address")
	}
	if r.bad() {
		return nil
	}
	a := p.st.account(r, code)
	if a == nil {
		return nil
	}
	cb := CallBack{Accountcode: code, RuleID: rule, Mcdu: mcdu, Originator: orig, Language: lang, Email: email}
	if hasLoc {
		g := p.st.location(r, locID)
		if g == nil {
			return nil
		}
		cb.LocationID = strconv.Itoa(g.id)
	}
	if hasQueue {
		var q *queue
		if n, err := strconv.Atoi(queueID); err == nil {
			for _, x := range a.queues {
				if x.id == n {
					q = x
				}
			}
		}
		if q == nil {
			q = a.queues[canon(queueID)]
		}
		if q == nil {
			return r.fail(codes.NotFound, "Queue %s not found", queueID)
		}
		cb.QueueID = strconv.Itoa(q.id)
	}
	for _, c := range p.st.callbacks {
		if c.Accountcode == code && canon(c.Originator) == canon(orig) {
			return r.fail(codes.Duplicate, "%s is already on the callback list", orig)
		}
	}
	p.st.callbacks = append(p.st.callbacks, cb)
	return nil
}

// SentSMS returns the text messages sent with SendSms, oldest first.
func (p *Platform) SentSMS() []SMS {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]SMS(nil), p.st.sms...)
}

// CallBacks returns the callback list NewCallBack appends to, oldest first.
func (p *Platform) CallBacks() []CallBack {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]CallBack(nil), p.st.callbacks...)
}
