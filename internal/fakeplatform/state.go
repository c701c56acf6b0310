package fakeplatform

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// state is everything the platform knows; Platform.mu guards it.
type state struct {
	accounts     map[string]*account
	groups       []*location
	pauseReasons map[string]string // canon(number) -> description
	calls        map[string]*leg   // by uniqueid
	sms          []SMS
	callbacks    []ivclient.CallBack
	outcome      Outcome // of NewCall requests
	licenses     int     // logged-in agents allowed at once; 0: no limit
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
	statusTS int64 // when a call last left the line (0: never)
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

func newState(cfg *config) *state {
	st := &state{
		accounts:     make(map[string]*account),
		pauseReasons: make(map[string]string),
		calls:        make(map[string]*leg),
		outcome:      cfg.newCallOutcome,
		licenses:     cfg.licensedAgents,
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
