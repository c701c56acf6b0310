package ivtest

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/stomptest"

	"github.com/go-stomp/stomp/v3"
	"go.uber.org/goleak"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/wire"
	"github.com/instantvoice/instantvoice-go/stompx"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitFor = 5 * time.Second

// replyPrefix is the prefix of a key's reply topic, /topic/<key>.
const replyPrefix = "/topic/"

// probeTopic is a topic nobody subscribes to: a SEND to it with a receipt
// proves the broker has acted on the connection's earlier frames.
const probeTopic = "/topic/ivtest.probe"

// client is a raw request/reply client: it subscribes to /topic/<key> on
// one connection, sends on another, and matches replies by identifier.
type client struct {
	t    testing.TB
	key  string
	send *stomp.Conn
	sub  *stomp.Subscription

	mu      sync.Mutex
	waiters map[string]chan wire.Reply
	strays  []wire.Reply
	seq     atomic.Int64
	prefix  string // of identifiers: clients on one key see each other's replies
	done    chan struct{}
}

var clientSeq atomic.Int64

func (c *client) init() {
	c.prefix = "c" + strconv.FormatInt(clientSeq.Add(1), 10) + "-"
}

func newClient(t testing.TB, p *Platform, key string) *client {
	t.Helper()
	c := &client{t: t, key: key, waiters: map[string]chan wire.Reply{}, done: make(chan struct{})}
	c.init()
	t.Cleanup(func() { <-c.done }) // after the connections close
	recv := stomptest.Client(t, p.STOMPAddr())
	c.send = stomptest.Client(t, p.STOMPAddr())
	var err error
	c.sub, err = recv.Subscribe(replyPrefix+key, stomp.AckAuto)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	go c.read()
	// A receipt on the subscribing connection proves the subscription is
	// in place.
	if err := recv.Send(probeTopic, "", nil, stomp.SendOpt.Receipt); err != nil {
		t.Fatalf("probe: %v", err)
	}
	return c
}

func (c *client) read() {
	defer close(c.done)
	for msg := range c.sub.C {
		if msg.Err != nil {
			continue
		}
		r, err := wire.ParseReply(msg.Body)
		if err != nil {
			c.mu.Lock()
			c.strays = append(c.strays, wire.Reply{Code: -999, Payload: json.RawMessage(msg.Body)})
			c.mu.Unlock()
			continue
		}
		c.mu.Lock()
		ch := c.waiters[r.ID]
		delete(c.waiters, r.ID)
		if ch == nil {
			c.strays = append(c.strays, r)
		}
		c.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
}

// waiter registers interest in the reply with identifier id.
func (c *client) waiter(id string) chan wire.Reply {
	ch := make(chan wire.Reply, 1)
	c.mu.Lock()
	c.waiters[id] = ch
	c.mu.Unlock()
	return ch
}

// start sends a request and returns the channel its reply arrives on.
func (c *client) start(method string, args any) (string, chan wire.Reply) {
	id := c.prefix + strconv.FormatInt(c.seq.Add(1), 10)
	ch := make(chan wire.Reply, 1)
	c.mu.Lock()
	c.waiters[id] = ch
	c.mu.Unlock()
	body, err := wire.AppendRequest(nil, method, c.key, args, id)
	if err != nil {
		c.t.Errorf("encode: %v", err)
		return id, ch
	}
	if err := c.send.Send(stompx.DefaultRequestQueue, "", body); err != nil {
		c.t.Errorf("send: %v", err)
	}
	return id, ch
}

func (c *client) call(method string, args any) wire.Reply {
	c.t.Helper()
	_, ch := c.start(method, args)
	select {
	case r := <-ch:
		return r
	case <-time.After(waitFor):
		c.t.Fatalf("%s: no reply", method)
		return wire.Reply{}
	}
}

// ok calls method and fails the test unless it succeeds; it returns the
// payload.
func (c *client) ok(method string, args any) json.RawMessage {
	c.t.Helper()
	r := c.call(method, args)
	if r.Code != 0 {
		c.t.Fatalf("%s(%v): code %v %s", method, args, codes.Code(r.Code), r.Payload)
	}
	return r.Payload
}

// expect calls method and checks the return code.
func (c *client) expect(code codes.Code, method string, args any) json.RawMessage {
	c.t.Helper()
	r := c.call(method, args)
	if codes.Code(r.Code) != code {
		c.t.Fatalf("%s(%v): code %v %s, want %v", method, args, codes.Code(r.Code), r.Payload, code)
	}
	return r.Payload
}

// sendRaw sends a request body as it is.
func (c *client) sendRaw(body string) {
	c.t.Helper()
	if err := c.send.Send(stompx.DefaultRequestQueue, "", []byte(body)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// listener collects the events of some topics.
type listener struct {
	t  testing.TB
	ch chan events.Event
}

func listen(t testing.TB, p *Platform, topics ...string) *listener {
	t.Helper()
	l := &listener{t: t, ch: make(chan events.Event, 4096)}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // after the connection closes
	conn := stomptest.Client(t, p.STOMPAddr())
	for _, topic := range topics {
		sub, err := conn.Subscribe(topic, stomp.AckAuto)
		if err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for msg := range sub.C {
				if msg.Err != nil {
					continue
				}
				ev, err := events.Decode(msg.Body)
				if err != nil {
					ev = events.Event{Type: "MALFORMED", Raw: msg.Body}
				}
				ev.Topic = msg.Destination
				select {
				case l.ch <- ev:
				default:
					l.t.Errorf("listener overflow")
				}
			}
		}()
	}
	if err := conn.Send(probeTopic, "", nil, stomp.SendOpt.Receipt); err != nil {
		t.Fatalf("probe: %v", err)
	}
	return l
}

func (l *listener) next() events.Event {
	l.t.Helper()
	select {
	case ev := <-l.ch:
		return ev
	case <-time.After(waitFor):
		l.t.Fatal("no event")
		return events.Event{}
	}
}

// expect reads the next events and checks their types.
func (l *listener) expect(types ...events.Type) []events.Event {
	l.t.Helper()
	out := make([]events.Event, len(types))
	for i, typ := range types {
		out[i] = l.next()
		if out[i].Type != typ {
			l.t.Fatalf("event %d: got %s (%s), want %s", i, out[i].Type, out[i].Raw, typ)
		}
	}
	return out
}

// none checks that no event is pending, after p has published everything.
func (l *listener) none(p *Platform) {
	l.t.Helper()
	if err := p.Sync(ctxT(l.t)); err != nil {
		l.t.Fatal(err)
	}
	select {
	case ev := <-l.ch:
		l.t.Fatalf("unexpected event %s", ev.Raw)
	case <-time.After(50 * time.Millisecond):
	}
}

func testLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}
