package events

import (
	"sync"
	"unicode/utf8"
)

// DefaultPollLimit is how many events a Poller holds between polls, unless
// NewPoller is given another limit.
const DefaultPollLimit = 10000

// Poller offers the old COM client's PollEvents to partners moving from it:
// feed it events (Apply, or Run), and PollEvents returns the events that
// arrived since the last poll, as the JSON array the COM method returned.
//
// It holds at most its limit of events: past it, the oldest are dropped and
// counted (Dropped). Poll at least as often as the COM client asked (every
// 10 seconds). A Poller is safe for concurrent use.
type Poller struct {
	mu      sync.Mutex
	buf     []pollEvent // a ring of n events from start
	start   int
	n       int
	limit   int
	dropped uint64
}

// pollEvent is the part of an Event that PollEvents returns; the rest (Raw,
// Extra) is not held.
type pollEvent struct {
	typ                                          Type
	direction, callerID, uniqueID, agent, reason string
}

// NewPoller returns a poller holding at most limit events between polls
// (values below 1 mean DefaultPollLimit).
func NewPoller(limit int) *Poller {
	if limit < 1 {
		limit = DefaultPollLimit
	}
	return &Poller{limit: limit}
}

// Apply adds one event, dropping the oldest held if the poller is full.
func (p *Poller) Apply(ev Event) {
	pe := pollEvent{typ: ev.Type, direction: ev.Direction, callerID: ev.CallerID,
		uniqueID: ev.UniqueID, agent: agentOf(ev), reason: ev.Reason}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == p.limit {
		p.buf[p.start] = pe
		p.start = (p.start + 1) % len(p.buf)
		p.dropped++
		return
	}
	if p.n == len(p.buf) { // grow, up to the limit
		size := 2 * len(p.buf)
		if size < 16 {
			size = 16
		}
		if size > p.limit {
			size = p.limit
		}
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
// event had one. With no events it returns "[]".
//
//	[{"direction":"OUTBOUND","callerid":"1234","type":"NEWCALL","uniqueid":"1282779516.1.6","agent":"default_1001"}]
func (p *Poller) PollEvents() string {
	p.mu.Lock()
	buf, start, n := p.buf, p.start, p.n
	p.buf, p.start, p.n = nil, 0, 0
	p.mu.Unlock()

	size := 2
	for i := 0; i < n; i++ {
		e := &buf[(start+i)%len(buf)]
		size += 80 + len(e.direction) + len(e.callerID) + len(e.typ) + len(e.uniqueID) + len(e.agent) + len(e.reason)
	}
	out := make([]byte, 0, size)
	out = append(out, '[')
	for i := 0; i < n; i++ {
		e := &buf[(start+i)%len(buf)]
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"direction":`...)
		out = appendJSONString(out, e.direction)
		out = append(out, `,"callerid":`...)
		out = appendJSONString(out, e.callerID)
		out = append(out, `,"type":`...)
		out = appendJSONString(out, string(e.typ))
		out = append(out, `,"uniqueid":`...)
		out = appendJSONString(out, e.uniqueID)
		out = append(out, `,"agent":`...)
		out = appendJSONString(out, e.agent)
		if e.reason != "" {
			out = append(out, `,"reason":`...)
			out = appendJSONString(out, e.reason)
		}
		out = append(out, '}')
	}
	out = append(out, ']')
	return string(out)
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

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML characters aside): quotes, backslashes and control
// characters, U+2028 and U+2029; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
