package fakeplatform

import (
	"sort"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/internal/fakeivws"
)

// What a test, or the simulator's console, can watch: the platform's
// agents and queues as they are now, and each event it publishes and
// request it serves as it happens.

// AgentState is an agent as the platform holds it.
type AgentState struct {
	Accountcode string
	User        string    // the agent's number, as added
	Name        string    // AgentAdd's name
	Status      string    // "LOGOFF", "LOGIN" or "PAUSE", as AgentInfo reports it
	PauseReason string    // the pause reason's description, when paused
	Interface   string    // the login interface, when logged in
	Since       time.Time // when Status last changed (the platform's clock, to the second)
	Lines       int       // the agent's lines; with none, a call takes line 1, leniently (Platform.Lenient)
	Queues      []string  // the queues it is a member of, in the order added
}

// QueueState is a queue and its members.
type QueueState struct {
	Accountcode string
	Name        string
	Members     []string // agent numbers, by priority then in the order added
}

// Agents returns every agent, by accountcode then in the order added.
func (p *Platform) Agents() []AgentState {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []AgentState
	for _, code := range p.st.accountCodes() {
		for _, ag := range sortedAgents(p.st.accounts[code]) {
			s := AgentState{Accountcode: code, User: ag.user, Name: ag.name, Status: ag.status,
				Since: time.Unix(ag.statusTS, 0), Lines: len(ag.lines)}
			if ag.status != statusLogoff {
				s.Interface = ag.iface
			}
			if ag.status == statusPause {
				s.PauseReason = ag.pauseDesc
			}
			for _, m := range ag.queues {
				s.Queues = append(s.Queues, m.q.name)
			}
			out = append(out, s)
		}
	}
	return out
}

// Queues returns every queue with its members, by accountcode then in the
// order added.
func (p *Platform) Queues() []QueueState {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []QueueState
	for _, code := range p.st.accountCodes() {
		a := p.st.accounts[code]
		for _, q := range byID(a.queues, func(q *queue) int { return q.id }) {
			s := QueueState{Accountcode: code, Name: q.name}
			for _, ag := range q.members() {
				s.Members = append(s.Members, ag.user)
			}
			out = append(out, s)
		}
	}
	return out
}

// Notice is one thing the platform did, as Watch reports it: it published
// an event (Topic is the agent's topic, Body the event as sent) or a raw
// message (Raw, from PublishRaw), or it served a request (Request, over
// STOMP or SOAP).
type Notice struct {
	Time    time.Time // the platform's clock
	Topic   string
	Body    []byte // shared: do not modify
	Raw     bool
	Request *Request
}

type watcher struct{ fn func(Notice) }

// Watch calls fn with every Notice from now until stop is called. fn runs
// on the goroutine that published or served, at times with the platform's
// lock held: it must return quickly and must not call the Platform. stop
// is idempotent; once it returns, fn is not called again.
func (p *Platform) Watch(fn func(Notice)) (stop func()) {
	w := &watcher{fn: fn}
	p.watchMu.Lock()
	p.watchers = append(p.watchers, w)
	p.watchMu.Unlock()
	return func() {
		p.watchMu.Lock()
		defer p.watchMu.Unlock()
		for i, x := range p.watchers {
			if x == w {
				p.watchers = append(p.watchers[:i:i], p.watchers[i+1:]...)
				break
			}
		}
	}
}

func (p *Platform) notify(n Notice) {
	p.watchMu.RLock()
	defer p.watchMu.RUnlock()
	for _, w := range p.watchers {
		w.fn(n)
	}
}

// accountCodes returns the accountcodes, sorted.
func (st *state) accountCodes() []string {
	out := make([]string, 0, len(st.accounts))
	for code := range st.accounts {
		out = append(out, code)
	}
	sort.Strings(out)
	return out
}

// DelayReplies makes the platform act on the next n requests at once but
// hold their replies for d (a SOAP response included), so that a test can
// see a slow platform; with methods, only requests for those methods. A
// reply held past the caller's deadline arrives late, as the platform's
// would. DelayReplies(0, 0) cancels; DropReplies applies first.
func (p *Platform) DelayReplies(n int, d time.Duration, methods ...string) {
	p.hookMu.Lock()
	defer p.hookMu.Unlock()
	p.delayN, p.delay, p.delayMeth = n, d, nil
	if len(methods) > 0 {
		p.delayMeth = make(map[string]bool, len(methods))
		for _, m := range methods {
			p.delayMeth[m] = true
		}
	}
}

// takeDelay returns how long to hold the reply to a request for method.
func (p *Platform) takeDelay(method string) time.Duration {
	p.hookMu.Lock()
	defer p.hookMu.Unlock()
	if p.delayN <= 0 || p.delay <= 0 || (p.delayMeth != nil && !p.delayMeth[method]) {
		return 0
	}
	p.delayN--
	return p.delay
}

// holdSOAPReply applies DropReplies and DelayReplies to the reply to a
// SOAP request for method; gone is closed when the client goes away,
// closing when the platform closes (which ends a delay).
func (p *Platform) holdSOAPReply(method string, gone, closing <-chan struct{}) fakeivws.Hold {
	if p.takeDrop(method) {
		select {
		case <-gone:
		case <-closing:
		}
		return fakeivws.Dropped
	}
	d := p.takeDelay(method)
	if d <= 0 {
		return fakeivws.Send
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-gone:
		return fakeivws.Abandoned
	case <-closing:
	}
	return fakeivws.Send
}

// recordServed records req as answered with code and payload (a failure's
// payload is its description) and returns it.
func (p *Platform) recordServed(req Request, code codes.Code, payload any) Request {
	req.Code = code
	if code != codes.OK {
		req.Description, _ = payload.(string)
	}
	p.record(req)
	return req
}
