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
}

func (c *Console) serveStream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	cl := &client{out: make(chan []byte, 32), gone: make(chan struct{}), new: true}
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
	var evSeq, reqSeq int64
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
			last = snapshot{}
			continue
		}
		// The rings' ends first: the state read after them has the
		// effects of every event up to there, so a page never sees an
		// event before the state it changed.
		c.mu.Lock()
		evHi, reqHi := c.evs.seq, c.reqs.seq
		c.mu.Unlock()
		cur := c.read()
		delta, _ := json.Marshal(c.batch(&last, cur, evSeq, evHi, reqSeq, reqHi, false))
		var full []byte
		c.mu.Lock()
		anyNew := false
		for cl := range c.clients {
			anyNew = anyNew || cl.new
		}
		c.mu.Unlock()
		if anyNew {
			full, _ = json.Marshal(c.batch(&snapshot{}, cur, evHi-initialRows, evHi, reqHi-initialRows, reqHi, true))
		}
		c.mu.Lock()
		for cl := range c.clients {
			msg := delta
			if cl.new {
				if full == nil {
					continue // arrived just now: the next batch has its snapshot
				}
				msg, cl.new = full, false
			}
			select {
			case cl.out <- sse(msg):
			default: // too slow: it reconnects and starts again
				delete(c.clients, cl)
				close(cl.gone)
			}
		}
		c.mu.Unlock()
		last, evSeq, reqSeq = cur, evHi, reqHi
	}
}

func sse(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	out = append(out, "data: "...)
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
	Full            bool              `json:"full,omitempty"`
	Now             int64             `json:"now"` // ms since the epoch
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
// requests after the sequence numbers evLo and reqLo up to evHi and reqHi.
func (c *Console) batch(prev *snapshot, cur snapshot, evLo, evHi, reqLo, reqHi int64, full bool) batch {
	b := batch{Full: full, Now: time.Now().UnixMilli(),
		Agents: diff(prev.agents, cur.agents), Calls: diff(prev.calls, cur.calls), Queues: diff(prev.queues, cur.queues),
		SMS: diff(prev.sms, cur.sms), Callbacks: diff(prev.callbacks, cur.callbacks),
		Stats: map[string]int64{"requests": cur.stats.Requests + cur.stats.SOAPRequests, "events": cur.stats.Events,
			"replies": cur.stats.Replies, "dropped": cur.stats.DroppedReplies, "lenient": cur.stats.Lenient}}
	c.mu.Lock()
	evs, skippedEvs := c.evs.since(evLo, evHi, batchRows)
	reqs, skippedReqs := c.reqs.since(reqLo, reqHi, batchRows)
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
	if full {
		b.SkippedEvents, b.SkippedRequests = 0, 0
	}
	return b
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
