package events

import (
	"bytes"
	"encoding/json"
	"sync"
)

// DefaultPollLimit is how many events a Poller holds between polls, unless
// WithPollLimit says otherwise.
const DefaultPollLimit = 10000

// Poller offers the old COM client's PollEvents to partners moving from it:
// feed it events (Apply, or Run), and PollEvents returns the events that
// arrived since the last poll, as the JSON array the COM method returned.
//
// It holds at most its limit of events (WithPollLimit): past it, the
// oldest are dropped and counted (Dropped). Poll at least as often as the
// COM client asked (every 10 seconds). A redelivered event (Event.Redelivered)
// that the poller already took is not added again: it recognises the last
// DefaultDedupeWindow events it took (WithDedupeWindow). A Poller is safe
// for concurrent use.
type Poller struct {
	mu      sync.Mutex
	buf     []pollEvent // a ring of n events from start
	start   int
	n       int
	limit   int
	dropped uint64
	seen    dedupe
}

// pollEvent is the part of an Event that PollEvents returns, with the COM
// client's field names in its order; the rest (Raw, Extra) is not held.
type pollEvent struct {
	Direction string `json:"direction"`
	CallerID  string `json:"callerid"`
	Type      Type   `json:"type"`
	UniqueID  string `json:"uniqueid"`
	Agent     string `json:"agent"`
	Reason    string `json:"reason,omitempty"`
}

// NewPoller returns an empty poller. It fails only on a bad option, with an
// error wrapping ivclient.ErrInvalidArgument.
func NewPoller(opts ...PollerOption) (*Poller, error) {
	cfg, err := sinkSetup("events: NewPoller", opts, PollerOption.applyPoller)
	if err != nil {
		return nil, err
	}
	return &Poller{limit: cfg.pollLimit, seen: newDedupe(cfg.window)}, nil
}

// Apply adds one event, dropping the oldest held if the poller is full.
func (p *Poller) Apply(ev Event) {
	agent := agentOf(ev)
	pe := pollEvent{Type: ev.Type, Direction: ev.Direction, CallerID: ev.CallerID,
		UniqueID: ev.UniqueID, Agent: agent, Reason: ev.Reason}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.seen.take(ev, agent) {
		return
	}
	if p.n == p.limit {
		p.buf[p.start] = pe
		p.start = (p.start + 1) % len(p.buf)
		p.dropped++
		return
	}
	if p.n == len(p.buf) { // grow, up to the limit
		size := min(max(2*len(p.buf), 16), p.limit)
		nb := make([]pollEvent, size)
		m := copy(nb, p.buf[p.start:])
		copy(nb[m:], p.buf[:p.start])
		p.buf, p.start = nb, 0
	}
	p.buf[(p.start+p.n)%len(p.buf)] = pe
	p.n++
}

// PollEvents returns the events that arrived since the last call, oldest
// first, as a JSON array of objects with the COM client's field names in its
// order: direction, callerid, type, uniqueid, agent, plus reason when the
// event had one. With no events it returns "[]". Strings are escaped as
// encoding/json escapes them, except that <, > and & are kept as they are;
// invalid UTF-8 becomes U+FFFD.
//
//	[{"direction":"OUTBOUND","callerid":"1234","type":"NEWCALL","uniqueid":"1282779516.1.6","agent":"default_1001"}]
func (p *Poller) PollEvents() string {
	p.mu.Lock()
	buf, start, n := p.buf, p.start, p.n
	p.buf, p.start, p.n = nil, 0, 0
	p.mu.Unlock()

	list := make([]pollEvent, n)
	for i := range list {
		list[i] = buf[(start+i)%len(buf)]
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	// A slice of structs of strings always encodes.
	_ = enc.Encode(list)
	return string(bytes.TrimSuffix(out.Bytes(), []byte("\n")))
}

// Len returns how many events are waiting for the next poll.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// Dropped returns how many events were dropped, in all, because the poller
// was full.
func (p *Poller) Dropped() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}
