package events

import (
	"sort"
	"sync"
	"time"
)

// DefaultMaxAgents is how many agents a Board holds, unless WithMaxAgents
// says otherwise.
const DefaultMaxAgents = 100000

// maxAgentCalls bounds the calls in progress a Board keeps per agent.
const maxAgentCalls = 8

// Status is an agent's state at a glance.
type Status string

// The statuses of an agent, as AgentState.Status gives them.
const (
	StatusLoggedOut Status = "LOGGEDOUT" // not logged in, and no call in progress
	StatusIdle      Status = "IDLE"      // logged in, not paused, no call in progress
	StatusPaused    Status = "PAUSED"    // paused, no call in progress
	StatusOnCall    Status = "ONCALL"    // a call in progress (paused or not)
)

// AgentState is what a Board knows of one agent.
type AgentState struct {
	Agent       string // "<accountcode>_<number>"
	LoggedIn    bool
	Paused      bool
	PauseReason string // the pause description sent with PAUSE
	OnCall      bool   // a call is in progress: from NEWCALL (or DNEWCALL) to HANGUP
	Answered    bool   // the latest call in progress was answered (CONNECT or DCONNECT)
	UniqueID    string // the uniqueid of the latest call in progress
	Calls       int    // how many calls are in progress (a transfer may hold two)

	// Since is when the agent's Status last changed (or LoggedIn or Paused
	// did): the event's Received time, or the board's clock.
	Since time.Time
	// LastEventAt is when the agent's latest event arrived.
	LastEventAt time.Time
}

// Status summarizes the state: StatusOnCall when a call is in progress,
// else StatusPaused, StatusIdle or StatusLoggedOut.
func (a AgentState) Status() Status {
	switch {
	case a.OnCall:
		return StatusOnCall
	case !a.LoggedIn:
		return StatusLoggedOut
	case a.Paused:
		return StatusPaused
	}
	return StatusIdle
}

// Board keeps the state of every agent from their events: logged in or
// out (LOGIN, LOGOUT), paused with the pause description (PAUSE, UNPAUSE),
// on a call or idle (NEWCALL/DNEWCALL to HANGUP), and since when. Feed it
// with Apply (or Run); read it with Get and Snapshot from any number of
// goroutines while events arrive.
//
// An agent with call events (other than HANGUP) or pause events is taken to
// be logged in, so a board started while agents work shows them sensibly.
// LOGIN and LOGOUT clear the agent's pause and calls. A call whose HANGUP
// never arrives is dropped after the expiry time (WithExpiry), checked when
// the agent's next event arrives and by Expire. Memory is bounded by
// WithMaxAgents and a few calls per agent.
//
// A redelivered event (Event.Redelivered, from a durable subscription)
// that the board already took changes nothing, LastEventAt and Since
// included: it recognises the last DefaultDedupeWindow events it took
// (WithDedupeWindow). An event not marked Redelivered is always taken.
type Board struct {
	cfg sinkConfig

	mu     sync.RWMutex
	agents *lru[string, *agentEntry]
	seen   dedupe
}

type agentEntry struct {
	state AgentState
	calls []agentCall // calls in progress, oldest first
}

type agentCall struct {
	uniqueID string
	answered bool
	last     time.Time
}

// NewBoard returns an empty board. It fails only on a bad option, with an
// error wrapping ivclient.ErrInvalidArgument.
func NewBoard(opts ...BoardOption) (*Board, error) {
	cfg, err := sinkSetup("events: NewBoard", opts, BoardOption.applyBoard)
	if err != nil {
		return nil, err
	}
	return &Board{cfg: cfg, agents: newLRU[string, *agentEntry](), seen: newDedupe(cfg.window)}, nil
}

// Apply updates the board with one event. Events without an agent (and
// whose topic names none) and events of unknown types are ignored.
func (b *Board) Apply(ev Event) {
	switch ev.Type {
	case NewCall, DNewCall, Connect, DConnect, Hangup, Login, Logout, Pause, Unpause:
	default:
		return
	}
	agent := agentOf(ev)
	if agent == "" {
		return
	}
	now := b.cfg.timeOf(ev)

	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.seen.take(ev, agent) {
		return
	}
	e := b.agents.get(agent)
	if e == nil {
		e = b.agents.add(agent)
		e.val = &agentEntry{state: AgentState{Agent: agent, Since: now}}
		for b.agents.len() > b.cfg.maxAgents {
			b.agents.remove(b.agents.oldest())
		}
	} else {
		b.agents.touch(e)
	}
	a := e.val
	before := a.state
	if now.After(a.state.LastEventAt) {
		a.state.LastEventAt = now
	}
	a.expire(now, b.cfg.expiry)

	switch ev.Type {
	case Login, Logout:
		a.state.LoggedIn = ev.Type == Login
		a.state.Paused, a.state.PauseReason = false, ""
		a.calls = a.calls[:0]
	case Pause:
		a.state.LoggedIn, a.state.Paused, a.state.PauseReason = true, true, ev.Direction
	case Unpause:
		a.state.LoggedIn, a.state.Paused, a.state.PauseReason = true, false, ""
	case NewCall, DNewCall, Connect, DConnect:
		a.state.LoggedIn = true
		a.callEvent(ev.UniqueID, ev.Type == Connect || ev.Type == DConnect, now)
	case Hangup:
		a.hangup(ev.UniqueID)
	}
	a.sync()
	s := &a.state
	if s.LoggedIn != before.LoggedIn || s.Paused != before.Paused || s.OnCall != before.OnCall {
		s.Since = now
	}
}

// Expire drops, for every agent, the calls idle for the expiry time by the
// board's clock (their HANGUP never came), and returns how many it dropped.
// Run calls it periodically.
func (b *Board) Expire() int {
	now := b.cfg.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	b.agents.each(func(e *lruEntry[string, *agentEntry]) {
		a := e.val
		before := a.state.OnCall
		n += a.expire(now, b.cfg.expiry)
		a.sync()
		if a.state.OnCall != before {
			a.state.Since = now
		}
	})
	return n
}

// Get returns the state of one agent ("<accountcode>_<number>").
func (b *Board) Get(agent string) (AgentState, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if e := b.agents.get(agent); e != nil {
		return e.val.state, true
	}
	return AgentState{}, false
}

// Snapshot returns the state of every agent, sorted by agent.
func (b *Board) Snapshot() []AgentState {
	b.mu.RLock()
	states := make([]AgentState, 0, b.agents.len())
	b.agents.each(func(e *lruEntry[string, *agentEntry]) { states = append(states, e.val.state) })
	b.mu.RUnlock()
	sort.Slice(states, func(i, j int) bool { return states[i].Agent < states[j].Agent })
	return states
}

// Len returns how many agents the board holds.
func (b *Board) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.agents.len()
}

func (a *agentEntry) callEvent(uniqueID string, answered bool, now time.Time) {
	for i := range a.calls {
		if a.calls[i].uniqueID == uniqueID {
			c := a.calls[i]
			c.answered = c.answered || answered
			c.last = now
			// The latest active call goes last.
			copy(a.calls[i:], a.calls[i+1:])
			a.calls[len(a.calls)-1] = c
			return
		}
	}
	if len(a.calls) == maxAgentCalls {
		copy(a.calls, a.calls[1:])
		a.calls = a.calls[:len(a.calls)-1]
	}
	a.calls = append(a.calls, agentCall{uniqueID: uniqueID, answered: answered, last: now})
}

func (a *agentEntry) hangup(uniqueID string) {
	for i := range a.calls {
		if a.calls[i].uniqueID == uniqueID {
			a.calls = append(a.calls[:i], a.calls[i+1:]...)
			return
		}
	}
}

// expire drops the calls idle for d at now and returns how many.
func (a *agentEntry) expire(now time.Time, d time.Duration) int {
	kept := a.calls[:0]
	for _, c := range a.calls {
		if now.Before(c.last.Add(d)) {
			kept = append(kept, c)
		}
	}
	n := len(a.calls) - len(kept)
	clear(a.calls[len(kept):])
	a.calls = kept
	return n
}

// sync derives the call fields of the state from the calls in progress.
func (a *agentEntry) sync() {
	s := &a.state
	s.Calls = len(a.calls)
	s.OnCall = len(a.calls) > 0
	if s.OnCall {
		last := a.calls[len(a.calls)-1]
		s.UniqueID, s.Answered = last.uniqueID, last.answered
	} else {
		s.UniqueID, s.Answered = "", false
	}
}
