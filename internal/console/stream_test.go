package console

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/fakeplatform"
)

// testTopic is where the tests publish their numbered events.
const testTopic = "/topic/iv.agents.default_1001"

// streamed is one message of the stream as a page reads it.
type streamed struct {
	id  string
	b   batch
	evs []int // the numbered events it brings, in order
}

// sseStream is an EventSource, reduced: it reads the stream's messages and
// keeps the id of the last one, which it sends as Last-Event-ID when it
// reconnects.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	sc     *bufio.Scanner
	lastID string
}

func openStream(t *testing.T, ctx context.Context, url, lastID string) *sseStream {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/console/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		t.Fatalf("GET /console/stream: %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	return &sseStream{t: t, resp: resp, sc: sc, lastID: lastID}
}

// next reads the next message that carries data.
func (s *sseStream) next() streamed {
	s.t.Helper()
	var m streamed
	var data string
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "":
			if data == "" {
				continue // the retry field, a keepalive
			}
			if err := json.Unmarshal([]byte(data), &m.b); err != nil {
				s.t.Fatalf("a message that is not a batch: %v", err)
			}
			if m.id == "" {
				s.t.Fatal("a message with no id")
			}
			s.lastID = m.id
			for _, raw := range m.b.Events {
				var row struct{ Topic, Body string }
				json.Unmarshal(raw, &row)
				if row.Topic != testTopic {
					continue
				}
				n, err := strconv.Atoi(row.Body)
				if err != nil {
					s.t.Fatalf("event %q", row.Body)
				}
				m.evs = append(m.evs, n)
			}
			return m
		case strings.HasPrefix(line, "id: "):
			m.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
	s.t.Fatalf("the stream ended: %v", s.sc.Err())
	return m
}

// until reads messages until one brings event n, and returns the events
// they brought and the number they said were skipped.
func (s *sseStream) until(n int) (evs []int, skipped int64) {
	s.t.Helper()
	for {
		m := s.next()
		evs = append(evs, m.evs...)
		skipped += m.b.SkippedEvents
		if len(m.evs) > 0 && m.evs[len(m.evs)-1] >= n {
			return evs, skipped
		}
	}
}

func (s *sseStream) close() { s.resp.Body.Close() }

// serve starts a platform and its console (with rings of the given sizes)
// behind an HTTP server.
func serve(t *testing.T, evRing, reqRing int) (*fakeplatform.Platform, *Console, string) {
	t.Helper()
	p, err := fakeplatform.Start()
	if err != nil {
		t.Fatal(err)
	}
	c := newConsole(p, Info{Accountcode: "default"}, evRing, reqRing)
	mux := http.NewServeMux()
	c.Handle(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		c.Close()
		srv.Close()
		p.Close()
	})
	return p, c, srv.URL
}

func publish(t *testing.T, p *fakeplatform.Platform, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := p.PublishRaw(testTopic, []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
}

func want(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// A page whose stream breaks reconnects with the id of the last message
// it read and is sent every event after it, once: none lost, none twice,
// its list kept (the snapshot says so) and nothing counted as missed.
func TestStreamResume(t *testing.T) {
	p, _, url := serve(t, eventRing, requestRing)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // against a hang only
	defer cancel()

	s := openStream(t, ctx, url, "")
	first := s.next()
	if !first.b.Full || first.b.Resumed || first.b.SkippedEvents != 0 {
		t.Fatalf("a new page's first message: full %v, resumed %v, skipped %d", first.b.Full, first.b.Resumed, first.b.SkippedEvents)
	}
	publish(t, p, 1, 50)
	got, skipped := s.until(50)
	s.close() // the stream breaks; the console goes on
	publish(t, p, 51, 120)

	s = openStream(t, ctx, url, s.lastID)
	defer s.close()
	m := s.next()
	if !m.b.Full || !m.b.Resumed {
		t.Fatalf("a resumed page's first message: full %v, resumed %v", m.b.Full, m.b.Resumed)
	}
	got = append(got, m.evs...)
	skipped += m.b.SkippedEvents
	publish(t, p, 121, 150)
	more, sk := s.until(150)
	got, skipped = append(got, more...), skipped+sk
	if fmt.Sprint(got) != fmt.Sprint(want(1, 150)) || skipped != 0 {
		t.Errorf("events across the reconnection: %v, %d skipped; want 1..150, none skipped", got, skipped)
	}
}

// A page that reconnects after the ring has moved past its id is sent
// what the ring holds, and told how many it missed: what it received and
// what it was told it missed add up to every event, none twice.
func TestStreamResumeGap(t *testing.T) {
	const ringSize = 16
	p, _, url := serve(t, ringSize, ringSize)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // against a hang only
	defer cancel()

	s := openStream(t, ctx, url, "")
	s.next()
	publish(t, p, 1, 10)
	got, _ := s.until(10)
	s.close()
	publish(t, p, 11, 100)

	s = openStream(t, ctx, url, s.lastID)
	defer s.close()
	m := s.next()
	if !m.b.Full || !m.b.Resumed {
		t.Fatalf("the first message after the gap: full %v, resumed %v", m.b.Full, m.b.Resumed)
	}
	if fmt.Sprint(m.evs) != fmt.Sprint(want(100-ringSize+1, 100)) || m.b.SkippedEvents != 100-10-ringSize {
		t.Errorf("after the gap: %v, %d missed; want %d..100, %d missed", m.evs, m.b.SkippedEvents, 100-ringSize+1, 100-10-ringSize)
	}
	if got := len(got) + len(m.evs) + int(m.b.SkippedEvents); got != 100 {
		t.Errorf("received and missed: %d, want 100", got)
	}
}

// An id the console did not give (another run of the simulator, or
// garbage) starts the page afresh: a new snapshot, nothing said missed.
func TestStreamForeignID(t *testing.T) {
	p, c, url := serve(t, eventRing, requestRing)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // against a hang only
	defer cancel()
	publish(t, p, 1, 5)
	for _, id := range []string{"x-1-0", c.epoch + "-a-b", c.epoch + "-1", c.epoch + "--1-0"} {
		s := openStream(t, ctx, url, id)
		m := s.next()
		s.close()
		if !m.b.Full || m.b.Resumed || m.b.SkippedEvents != 0 || fmt.Sprint(m.evs) != fmt.Sprint(want(1, 5)) {
			t.Errorf("Last-Event-ID %q: full %v, resumed %v, skipped %d, events %v; want a new page's snapshot of 1..5",
				id, m.b.Full, m.b.Resumed, m.b.SkippedEvents, m.evs)
		}
	}
}

// A page whose buffer is full is dropped, its stream ended, and counted in
// the stats every page is sent.
func TestStreamDropCounted(t *testing.T) {
	_, c, _ := serve(t, eventRing, requestRing)
	slow := &client{out: make(chan []byte), gone: make(chan struct{})} // no room: full at once
	c.mu.Lock()
	c.clients[slow] = true
	c.mu.Unlock()
	c.send(snapshot{}, position{}, []byte(`{}`))
	select {
	case <-slow.gone:
	default:
		t.Fatal("the slow page was not dropped")
	}
	if b, _ := c.batch(&snapshot{}, snapshot{}, position{}, position{}, batchRows, false); b.Stats["page_drops"] != 1 {
		t.Errorf("page_drops: %d, want 1", b.Stats["page_drops"])
	}
}

// A burst of more events than one batch carries is spread over the next
// batches, none skipped, in order.
func TestStreamBurst(t *testing.T) {
	p, _, url := serve(t, eventRing, requestRing)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // against a hang only
	defer cancel()
	s := openStream(t, ctx, url, "")
	defer s.close()
	s.next()
	publish(t, p, 1, 3*batchRows)
	got, skipped := s.until(3 * batchRows)
	if fmt.Sprint(got) != fmt.Sprint(want(1, 3*batchRows)) || skipped != 0 {
		t.Errorf("a burst of %d events: %d received, %d skipped; want all, in order", 3*batchRows, len(got), skipped)
	}
}
