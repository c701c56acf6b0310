package console

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/fakeplatform"
)

// client is one open stream. out carries whole SSE messages; the
// broadcaster drops a client whose buffer is full.
type client struct {
	out  chan []byte
	gone chan struct{} // closed by the broadcaster when it drops the client
	new  bool          // not sent its snapshot yet
	from *position     // where the page's Last-Event-ID says it stopped; nil for a new page
}

// position is how far a page has been sent the events and the requests:
// the sequence numbers of the last of each. It is the id of every message
// of the stream, so that a page that reconnects (EventSource sends the id
// of the last message it received as Last-Event-ID) resumes where it was.
type position struct{ ev, req int64 }

// id is the SSE id of the message that brings a page to p: the console's
// epoch (so that an id from another run of the simulator is not taken for
// one of this run) and the two sequence numbers.
func (c *Console) id(p position) string {
	return c.epoch + "-" + strconv.FormatInt(p.ev, 10) + "-" + strconv.FormatInt(p.req, 10)
}

// parseID reads an id of this console; ok is false for any other.
func (c *Console) parseID(s string) (p position, ok bool) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 || parts[0] != c.epoch {
		return p, false
	}
	ev, err1 := strconv.ParseInt(parts[1], 10, 64)
	req, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || ev < 0 || req < 0 {
		return p, false
	}
	return position{ev, req}, true
}

func (c *Console) serveStream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	cl := &client{out: make(chan []byte, clientBuffer), gone: make(chan struct{}), new: true}
	if p, ok := c.parseID(r.Header.Get("Last-Event-ID")); ok {
		cl.from = &p
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		http.Error(w, "the console is closed", http.StatusServiceUnavailable)
		return
	}
	c.clients[cl] = true
	c.mu.Unlock()
	defer c.drop(cl)
	c.kick()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("retry: 1000\n\n"))
	fl.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case msg := <-cl.out:
			if _, err := w.Write(msg); err != nil {
				return
			}
			fl.Flush()
		case <-keepalive.C:
			if _, err := w.Write([]byte(": keepalive\n\n")); err != nil {
				return
			}
			fl.Flush()
		case <-cl.gone:
			return
		case <-r.Context().Done():
			return
		case <-c.done:
			return
		}
	}
}

func (c *Console) drop(cl *client) {
	c.mu.Lock()
	if c.clients[cl] {
		delete(c.clients, cl)
		close(cl.gone)
	}
	c.mu.Unlock()
}

// kick wakes the broadcaster early, for a new page.
func (c *Console) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// broadcast sends a batch every Interval while a page is open.
func (c *Console) broadcast() {
	defer close(c.finished)
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	var last snapshot
	var sent position
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		case <-c.wake:
		}
		c.mu.Lock()
		n := len(c.clients)
		c.mu.Unlock()
		if n == 0 {
			c.mu.Lock()
			last, sent = snapshot{}, position{c.evs.seq, c.reqs.seq}
			c.mu.Unlock()
			continue
		}
		// The rings' ends first: the state read after them has the
		// effects of every event up to there, so a page never sees an
		// event before the state it changed.
		c.mu.Lock()
		hi := position{c.evs.seq, c.reqs.seq}
		c.mu.Unlock()
		cur := c.read()
		b, reached := c.batch(&last, cur, sent, hi, batchRows, false)
		delta, _ := json.Marshal(b)
		c.send(cur, reached, delta)
		last, sent = cur, reached
	}
}

// send queues delta for every page, and its first message for a page
// that has none yet: a snapshot of the state with the events and requests
// after where the page stopped (its Last-Event-ID) when it resumes, or
// with the last initialRows of each when it is new. A page whose buffer
// is full is dropped and counted: its EventSource reconnects and resumes.
func (c *Console) send(cur snapshot, hi position, delta []byte) {
	c.mu.Lock()
	var starting []*client
	for cl := range c.clients {
		if cl.new {
			starting = append(starting, cl)
		}
	}
	c.mu.Unlock()
	first := make(map[*client][]byte, len(starting))
	var fresh []byte
	for _, cl := range starting {
		if from := cl.from; from != nil && from.ev <= hi.ev && from.req <= hi.req {
			b, _ := c.batch(&snapshot{}, cur, *from, hi, c.evs.size(), true)
			b.Resumed = true
			first[cl], _ = json.Marshal(b)
			continue
		}
		if fresh == nil {
			b, _ := c.batch(&snapshot{}, cur, position{hi.ev - initialRows, hi.req - initialRows}, hi, initialRows, true)
			b.SkippedEvents, b.SkippedRequests = 0, 0 // a new page has missed nothing
			fresh, _ = json.Marshal(b)
		}
		first[cl] = fresh
	}
	id := c.id(hi)
	c.mu.Lock()
	defer c.mu.Unlock()
	for cl := range c.clients {
		msg := delta
		if cl.new {
			m, ok := first[cl]
			if !ok {
				continue // arrived just now: the next batch has its snapshot
			}
			msg, cl.new = m, false
		}
		select {
		case cl.out <- sse(id, msg):
		default: // too slow: it reconnects and resumes
			delete(c.clients, cl)
			close(cl.gone)
			c.drops++
		}
	}
}

func sse(id string, b []byte) []byte {
	out := make([]byte, 0, len(id)+len(b)+16)
	out = append(out, "id: "...)
	out = append(out, id...)
	out = append(out, "\ndata: "...)
	out = append(out, b...)
	return append(out, "\n\n"...)
}

// snapshot is the platform's state as rows, each encoded, by key.
type snapshot struct {
	agents, calls, queues, sms, callbacks map[string][]byte
	stats                                 fakeplatform.Stats
}

func (c *Console) read() snapshot {
	s := snapshot{agents: map[string][]byte{}, calls: map[string][]byte{}, queues: map[string][]byte{},
		sms: map[string][]byte{}, callbacks: map[string][]byte{}}
	put := func(m map[string][]byte, key string, v any) {
		if b, err := json.Marshal(v); err == nil {
			m[key] = b
		}
	}
	for _, a := range c.p.Agents() {
		put(s.agents, a.Accountcode+"_"+a.User, agentRow(a))
	}
	for _, call := range c.p.Calls() {
		put(s.calls, call.UniqueID, callRow(call))
	}
	for _, q := range c.p.Queues() {
		put(s.queues, q.Accountcode+"_"+q.Name, map[string]any{"key": q.Accountcode + "_" + q.Name,
			"accountcode": q.Accountcode, "name": q.Name, "members": orEmpty(q.Members)})
	}
	for i, m := range c.p.SentSMS() {
		k := strconv.Itoa(i)
		put(s.sms, k, map[string]any{"key": k, "accountcode": m.Accountcode, "number": m.Number, "text": m.Text})
	}
	for i, cb := range c.p.CallBacks() {
		k := strconv.Itoa(i)
		put(s.callbacks, k, map[string]any{"key": k, "accountcode": cb.Accountcode, "originator": cb.Originator,
			"ruleid": cb.RuleID, "language": cb.Language, "queue_id": cb.QueueID, "email": cb.Email})
	}
	s.stats = c.p.Stats()
	return s
}

// table is the change of one kind of row: rows added or changed, and the
// keys of rows gone.
type table struct {
	Upsert []json.RawMessage `json:"upsert,omitempty"`
	Delete []string          `json:"delete,omitempty"`
}

func diff(prev, cur map[string][]byte) *table {
	t := &table{}
	for k, b := range cur {
		if p, ok := prev[k]; !ok || string(p) != string(b) {
			t.Upsert = append(t.Upsert, b)
		}
	}
	for k := range prev {
		if _, ok := cur[k]; !ok {
			t.Delete = append(t.Delete, k)
		}
	}
	if len(t.Upsert) == 0 && len(t.Delete) == 0 {
		return nil
	}
	return t
}

// batch is one message of the stream.
type batch struct {
	Full            bool              `json:"full,omitempty"`    // the tables are replaced
	Resumed         bool              `json:"resumed,omitempty"` // with Full: the page keeps its events and requests
	Now             int64             `json:"now"`               // ms since the epoch
	Agents          *table            `json:"agents,omitempty"`
	Calls           *table            `json:"calls,omitempty"`
	Queues          *table            `json:"queues,omitempty"`
	SMS             *table            `json:"sms,omitempty"`
	Callbacks       *table            `json:"callbacks,omitempty"`
	Events          []json.RawMessage `json:"events,omitempty"`
	Requests        []json.RawMessage `json:"requests,omitempty"`
	SkippedEvents   int64             `json:"skipped_events,omitempty"`
	SkippedRequests int64             `json:"skipped_requests,omitempty"`
	Stats           map[string]int64  `json:"stats"`
}

// batch describes the change from prev to cur, with the events and
// requests after lo, none after hi and at most max of each (the oldest:
// the rest waits for the next batch), those the rings no longer hold
// counted as skipped. It returns the position the batch brings a page to.
func (c *Console) batch(prev *snapshot, cur snapshot, lo, hi position, max int, full bool) (batch, position) {
	b := batch{Full: full, Now: time.Now().UnixMilli(),
		Agents: diff(prev.agents, cur.agents), Calls: diff(prev.calls, cur.calls), Queues: diff(prev.queues, cur.queues),
		SMS: diff(prev.sms, cur.sms), Callbacks: diff(prev.callbacks, cur.callbacks),
		Stats: map[string]int64{"requests": cur.stats.Requests + cur.stats.SOAPRequests, "events": cur.stats.Events,
			"replies": cur.stats.Replies, "dropped": cur.stats.DroppedReplies, "lenient": cur.stats.Lenient}}
	c.mu.Lock()
	var reached position
	evs, skippedEvs, reachedEv := c.evs.take(lo.ev, hi.ev, max)
	reqs, skippedReqs, reachedReq := c.reqs.take(lo.req, hi.req, max)
	reached = position{reachedEv, reachedReq}
	b.Stats["page_drops"] = c.drops
	c.mu.Unlock()
	b.SkippedEvents, b.SkippedRequests = skippedEvs, skippedReqs
	for _, n := range evs {
		if row, err := json.Marshal(eventRow(n)); err == nil {
			b.Events = append(b.Events, row)
		}
	}
	for _, n := range reqs {
		if row, err := json.Marshal(requestRow(n.Request)); err == nil {
			b.Requests = append(b.Requests, row)
		}
	}
	return b, reached
}

func agentRow(a fakeplatform.AgentState) map[string]any {
	return map[string]any{"key": a.Accountcode + "_" + a.User, "accountcode": a.Accountcode, "user": a.User,
		"name": a.Name, "status": a.Status, "pause": a.PauseReason, "interface": a.Interface,
		"since": a.Since.UnixMilli(), "lines": a.Lines, "queues": orEmpty(a.Queues)}
}

func callRow(c fakeplatform.Call) map[string]any {
	return map[string]any{"key": c.UniqueID, "uniqueid": c.UniqueID, "accountcode": c.Accountcode,
		"agent": c.Agent, "direction": c.Direction, "callerid": c.CallerID, "answered": c.Answered,
		"peer": c.Peer, "external_id": c.ExternalID, "started": c.Started.UnixMilli()}
}

func eventRow(n fakeplatform.Notice) map[string]any {
	row := map[string]any{"time": n.Time.UnixMilli(), "topic": n.Topic, "body": string(n.Body)}
	var ev struct{ Type, Agent, UniqueID, CallerID, Direction, Reason string }
	if strings.HasPrefix(n.Topic, events.TopicPrefix) && json.Unmarshal(n.Body, &ev) == nil {
		row["type"], row["agent"], row["uniqueid"] = ev.Type, ev.Agent, ev.UniqueID
		row["callerid"], row["direction"], row["reason"] = ev.CallerID, ev.Direction, ev.Reason
	} else {
		row["type"] = "(raw)"
	}
	if n.Raw {
		row["raw"] = true
	}
	return row
}

// requestRow is a request as the page shows it: never its key, nor its
// body (which holds the key).
func requestRow(r *fakeplatform.Request) map[string]any {
	args := make(map[string]any, len(r.Args))
	for k, v := range r.Args {
		if !strings.EqualFold(k, "key") {
			args[k] = v
		}
	}
	row := map[string]any{"time": r.Time.UnixMilli(), "method": r.Method, "transport": r.Transport,
		"code": int(r.Code), "code_name": codeName(r.Code), "description": r.Description, "args": args}
	if r.HasID {
		row["id"] = r.ID
	}
	if len(r.Lenient) > 0 {
		row["lenient"] = r.Lenient
	}
	return row
}

func codeName(c codes.Code) string { return c.String() }

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
