// Package console is the simulator's web console: one page that shows the
// fake platform (package ivtest) live, agents and their state, queues,
// calls in progress, the events as published, the requests received, SMS
// and callbacks, and drives it through the simulator's HTTP control
// interface, the same one scripts use.
//
// The page is a Go template with a little plain JavaScript and CSS, all
// embedded: there is no build step. It is kept current by server-sent
// events (GET /console/stream): a broadcaster reads the platform's state
// (Platform.Agents, Calls, Queues, SentSMS, CallBacks, Stats) at most every
// 250 ms while a page is open, and sends each page what changed since the
// last batch, row by row, with the events and requests that arrived in
// between (Platform.Watch). The state shown is always read from the
// platform, never kept in a copy; only the recent events and requests,
// which the platform does not keep as state, are held in bounded rings so
// that a page opened later can show them.
//
// A batch carries at most batchRows events and as many requests, the
// oldest not yet sent: a burst is spread over the next batches, never cut.
// Every message carries an SSE id, the sequence numbers of the last event
// and request it brings the page to. A page that falls behind (its buffer
// of clientBuffer batches full, some 8 s) is disconnected and counted (the
// page_drops stat, shown on the page); its EventSource reconnects with the
// id of the last message it received as Last-Event-ID, and the console
// resumes it: a snapshot of the state (the tables replaced) with every
// event and request after that id, so that the page keeps its lists and
// loses none. When the rings no longer hold all of them, the page is sent
// what they hold and told how many it missed, and it shows a "missed N
// events" row in its list and counts them. A page that reconnects with no
// id, or one of another run, starts from a new snapshot.
//
// The console never shows an access key: a request is shown with its
// method, transport, arguments (a "key" argument removed) and the code
// and description the platform answered.
package console

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/fakeplatform"
)

//go:embed assets
var assets embed.FS

// Interval is how often the console sends a batch of changes.
const Interval = 250 * time.Millisecond

// Ring sizes: the recent events and requests a page opened now is shown,
// and a page that reconnects is resumed from. A page is dropped once
// clientBuffer batches wait for it (8 s at Interval); at the simulator's
// heaviest traffic (about 200 events a second) that is some 1,600 events,
// plus the second EventSource waits before it reconnects. eventRing holds
// 8,192 (40 s at that rate: a page resumes after a drop with room to
// spare) for a few MB (a notice is a few hundred bytes). Requests come
// from clients, at a far lower rate.
const (
	eventRing    = 8192
	requestRing  = 4096
	initialRows  = 300 // of each, in a new page's first snapshot
	batchRows    = 400 // of each, at most, in one batch; more wait for the next ones
	clientBuffer = 32  // batches waiting for a page before it is dropped
)

// Info is what the page says about the platform it shows.
type Info struct {
	Accountcode string
	STOMPAddr   string
	SOAPURL     string
}

// Console serves the page and its stream for one platform.
type Console struct {
	p    *fakeplatform.Platform
	info Info
	page *template.Template
	stop func()

	epoch string // this console's run, in its stream's ids

	mu       sync.Mutex
	drops    int64 // pages dropped for falling behind
	evs      ring
	reqs     ring
	clients  map[*client]bool
	wake     chan struct{}
	closed   bool
	done     chan struct{}
	finished chan struct{}
}

// New watches p and returns its console; Close stops it.
func New(p *fakeplatform.Platform, info Info) *Console {
	return newConsole(p, info, eventRing, requestRing)
}

func newConsole(p *fakeplatform.Platform, info Info, evs, reqs int) *Console {
	c := &Console{p: p, info: info, clients: map[*client]bool{}, wake: make(chan struct{}, 1),
		done: make(chan struct{}), finished: make(chan struct{}),
		epoch: strconv.FormatInt(time.Now().UnixNano(), 36),
		evs:   newRing(evs), reqs: newRing(reqs)}
	c.page = template.Must(template.New("index.html").Funcs(template.FuncMap{"split": strings.Fields}).ParseFS(assets, "assets/index.html"))
	c.stop = p.Watch(c.observe)
	go c.broadcast()
	return c
}

// Close stops watching the platform, ends every stream and waits for the
// broadcaster to return.
func (c *Console) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.finished
		return
	}
	c.closed = true
	close(c.done)
	c.mu.Unlock()
	c.stop()
	<-c.finished
}

// Handle registers the console's routes on mux: GET / (the page), GET
// /console/assets/ and GET /console/stream.
func (c *Console) Handle(mux *http.ServeMux) {
	sub, _ := fs.Sub(assets, "assets")
	mux.Handle("GET /console/assets/", http.StripPrefix("/console/assets/", http.FileServerFS(sub)))
	mux.HandleFunc("GET /{$}", c.servePage)
	mux.HandleFunc("GET /console/stream", c.serveStream)
}

func (c *Console) servePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// Only this page's own script and style run, whatever an event or a
	// request carries (values are set as text besides).
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	data := struct {
		Info
		Reasons  []string
		Outcomes []string
	}{c.info, events.HangupReasons(), []string{"NOANSWER", "BUSY", "FAILED", "QUEUEGIVEUP", "QUEUEMISSED"}}
	c.page.Execute(w, data)
}

// observe records what the platform did; it runs under the platform's
// lock at times, so it only keeps the notice (encoded when a page needs
// it).
func (c *Console) observe(n fakeplatform.Notice) {
	c.mu.Lock()
	if n.Request != nil {
		c.reqs.add(n)
	} else {
		c.evs.add(n)
	}
	c.mu.Unlock()
}

// ring holds the last notices of a stream, each with its sequence number.
type ring struct {
	rows []fakeplatform.Notice
	next int   // where the next row goes
	seq  int64 // of the newest row; rows[i] holds seq-(filled-1-age)
	n    int   // rows held
}

func newRing(size int) ring { return ring{rows: make([]fakeplatform.Notice, size)} }

// size is how many rows the ring holds at most.
func (r *ring) size() int { return len(r.rows) }

func (r *ring) add(n fakeplatform.Notice) {
	r.rows[r.next] = n
	r.next = (r.next + 1) % len(r.rows)
	r.seq++
	if r.n < len(r.rows) {
		r.n++
	}
}

// take returns the oldest rows after sequence number after, none after
// upto and at most limit; how many rows after it the ring no longer holds
// (skipped); and the sequence number it brings a reader to, that of the
// last row returned or skipped.
func (r *ring) take(after, upto int64, limit int) (rows []fakeplatform.Notice, skipped, reached int64) {
	if after >= upto {
		return nil, 0, after
	}
	start := after + 1
	if oldest := r.seq - int64(r.n) + 1; start < oldest {
		skipped = min(oldest, upto+1) - start
		start = oldest
	}
	if start > upto {
		return nil, skipped, upto
	}
	end := min(upto, start+int64(limit)-1)
	for s := start; s <= end; s++ {
		i := (r.next - 1 - int(r.seq-s)) % len(r.rows)
		if i < 0 {
			i += len(r.rows)
		}
		rows = append(rows, r.rows[i])
	}
	return rows, skipped, end
}
