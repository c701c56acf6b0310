package ivtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/stomptest"

	"github.com/go-stomp/stomp/v3"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/instantvoice/instantvoice-go/internal/wire"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// inFlight sends n requests without waiting and checks that each reply
// reaches its own request.
func inFlight(t *testing.T, c *client, n int) {
	t.Helper()
	ids := make([]string, n)
	chans := make([]chan wire.Reply, n)
	for i := range ids {
		ids[i], chans[i] = c.start("AgentInfo", A{"accountcode": "default", "user": "1001"})
	}
	timeout := time.After(30 * time.Second)
	for i, ch := range chans {
		select {
		case r := <-ch:
			if r.Code != 0 || r.ID != ids[i] {
				t.Fatalf("reply %d: %+v %s", i, r, r.Payload)
			}
		case <-timeout:
			t.Fatalf("only %d of %d replies", i, n)
		}
	}
}

func TestThousandInFlight(t *testing.T) {
	p := NewPlatform(t, WithAgent("default", "1001", "", ""))
	t.Run("separate connections", func(t *testing.T) {
		inFlight(t, newClient(t, p, p.Key()), 1024)
	})
	t.Run("one connection", func(t *testing.T) {
		// The trap of go-stomp's server: one connection holding the reply
		// subscription and pipelining requests. Replies are read on their
		// own goroutine, as a client must with go-stomp.
		c := &client{t: t, key: p.Key(), waiters: map[string]chan wire.Reply{}, done: make(chan struct{})}
		c.init()
		t.Cleanup(func() { <-c.done })
		conn := stomptest.Client(t, p.STOMPAddr())
		c.send = conn
		var err error
		if c.sub, err = conn.Subscribe(replyPrefix+c.key, stomp.AckAuto); err != nil {
			t.Fatal(err)
		}
		go c.read()
		if err := conn.Send(probeTopic, "", nil, stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
		inFlight(t, c, 1024)
	})
	t.Run("several connections", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			c := newClient(t, p, p.Key())
			wg.Add(1)
			go func() {
				defer wg.Done()
				inFlight(t, c, 1024)
			}()
		}
		wg.Wait()
	})
	if s := p.Stats(); s.Requests != 6*1024 || s.Replies != 6*1024 || s.Malformed != 0 {
		t.Fatalf("Stats = %+v", s)
	}
}

func TestDropReplies(t *testing.T) {
	p := NewPlatform(t)
	c := newClient(t, p, p.Key())
	p.DropReplies(1, "QueueAdd")
	c.ok("QueueList", A{"accountcode": "default"}) // not QueueAdd: answered
	_, ch := c.start("QueueAdd", A{"accountcode": "default", "name": "1"})
	select {
	case r := <-ch:
		t.Fatalf("dropped reply arrived: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	// The platform acted on it all the same.
	if got := string(c.ok("QueueList", A{"accountcode": "default"})); got != `["1"]` {
		t.Fatalf("QueueList = %s", got)
	}
	c.expect(codes.Duplicate, "QueueAdd", A{"accountcode": "default", "name": "1"})
	p.DropReplies(2)
	_, ch1 := c.start("QueueList", A{"accountcode": "default"})
	_, ch2 := c.start("AgentList", A{"accountcode": "default"})
	c.ok("SipUserList", A{"accountcode": "default"})
	select {
	case r := <-ch1:
		t.Fatalf("dropped reply arrived: %+v", r)
	case r := <-ch2:
		t.Fatalf("dropped reply arrived: %+v", r)
	default:
	}
	if s := p.Stats(); s.DroppedReplies != 3 {
		t.Fatalf("Stats = %+v", s)
	}
}

func TestReplyFunc(t *testing.T) {
	p := NewPlatform(t)
	c := newClient(t, p, p.Key())
	p.SetReplyFunc(func(req Request, reply []byte) [][]byte {
		switch req.Method {
		case "QueueList": // twice, and a stray with another identifier first
			return [][]byte{[]byte(`[0, [], "someone-else"]`), reply, reply}
		case "AgentList": // malformed
			return [][]byte{[]byte(`[0, [1, 2`)}
		}
		return [][]byte{reply}
	})
	c.ok("QueueList", A{"accountcode": "default"})
	_, ch := c.start("AgentList", A{"accountcode": "default"})
	c.ok("SipUserList", A{"accountcode": "default"})
	select {
	case r := <-ch:
		t.Fatalf("malformed reply matched: %+v", r)
	default:
	}
	c.mu.Lock()
	strays := append([]wire.Reply(nil), c.strays...)
	c.mu.Unlock()
	// The stray, the duplicate, the malformed body.
	if len(strays) != 3 || strays[0].ID != "someone-else" || strays[2].Code != -999 {
		t.Fatalf("strays = %+v", strays)
	}
	p.SetReplyFunc(nil)
	c.ok("AgentList", A{"accountcode": "default"})
}

func TestDo(t *testing.T) {
	p := NewPlatform(t)
	if _, err := p.Do("AgentAdd", A{"accountcode": "default", "user": "1001"}); err != nil {
		t.Fatal(err)
	}
	_, err := p.Do("AgentAdd", A{"accountcode": "default", "user": "1001"})
	var e *codes.Error
	if !errors.As(err, &e) || e.Code != codes.Duplicate || e.Method != "AgentAdd" || !errors.Is(err, codes.ErrDuplicate) {
		t.Fatalf("err = %v", err)
	}
	list, err := p.Do("AgentList", A{"accountcode": "default"})
	if err != nil || fmt.Sprint(list) != "[1001]" {
		t.Fatalf("AgentList = %v, %v", list, err)
	}
	if _, err := p.Do("Nope", nil); !errors.Is(err, codes.ErrInvalid) {
		t.Fatalf("unknown method: %v", err)
	}
	if _, err := Start(WithSeed("AgentAdd", A{"accountcode": "nope", "user": "1"})); !errors.Is(err, codes.ErrNotFound) {
		t.Fatalf("failing seed: %v", err)
	}
	// A nil option is an error, never skipped.
	p2, err := Start(WithQueue("default", "7000"), nil)
	if want := "ivtest: Start: invalid argument: option 2 is nil"; !errors.Is(err, errs.ErrInvalidArgument) || err == nil || err.Error() != want {
		t.Errorf("Start with a nil option: %v, want %q", err, want)
	}
	if p2 != nil {
		p2.Close()
	}
}

func TestManyPlatforms(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := Start(WithQueue("default", "7000"))
			if err != nil {
				errs <- err
				return
			}
			defer p.Close()
			if _, err := p.Do("QueueInfo", A{"accountcode": "default", "name": "7000"}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCloseWithClientsAndTraffic(t *testing.T) {
	p, err := Start(WithAgent("default", "1001", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal("second Close:", err)
	}

	// Close while clients are attached, subscribed to busy topics, and
	// sending: every goroutine ends (goleak checks in TestMain).
	p, err = Start(WithAgent("default", "1001", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	// Heavy reading and heavy writing on separate connections: a go-stomp
	// connection that does both when its socket closes can leave its read
	// goroutine blocked for ever (its processing goroutine returns on the
	// write error while the read channel is full).
	opts := []func(*stomp.Conn) error{stomp.ConnOpt.Login(stompx.DefaultLogin, stompx.DefaultPasscode),
		stomp.ConnOpt.HeartBeat(0, 0), stomp.ConnOpt.Logger(stomptest.QuietLogger{}),
		stomp.ConnOpt.MsgSendTimeout(time.Second)} // a Send blocked on a closed connection gives up sooner
	conn, err := stomp.Dial("tcp", p.STOMPAddr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := stomp.Dial("tcp", p.STOMPAddr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := conn.Subscribe(events.AllAgents, stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for range sub.C {
		}
	}()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if p.PublishRaw(events.AllAgents, []byte(`{}`)) != nil {
				return
			}
			if i%64 == 63 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	go func() {
		defer wg.Done()
		body, _ := wire.AppendRequest(nil, "AgentInfo", p.Key(), A{"accountcode": "default", "user": "1001"}, "x")
		for {
			select {
			case <-stop:
				return
			default:
			}
			if sender.Send(stompx.DefaultRequestQueue, "", body) != nil {
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs")
	}
	close(stop)
	wg.Wait()
	// The platform closed the connections: go-stomp drains what it has
	// read, then ends the subscription. (MustDisconnect while it still
	// holds unread frames would leave its read goroutine blocked.)
	<-drained
	conn.MustDisconnect()
	sender.MustDisconnect()
	if err := p.PublishRaw("/topic/x", nil); err == nil {
		t.Fatal("PublishRaw after Close")
	}
	if _, err := p.InboundCall("default", "", "1001", "1", Answer); err == nil {
		t.Fatal("InboundCall after Close")
	}
	if err := p.Sync(context.Background()); err == nil {
		t.Fatal("Sync after Close")
	}
}

func TestUniqueIDsAndClock(t *testing.T) {
	p, c := agentSetup(t)
	login(c, "1001")
	uid, err := p.OutboundCall("default", "1001", "6100", Answer)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(uid, ".")
	if len(parts) != 3 || parts[0] != "1700000000" || parts[1] != "1" {
		t.Fatalf("uniqueid %q", uid)
	}
}

func TestNoSecretsInLogs(t *testing.T) {
	var buf syncBuffer
	// Checked last, once the clients have gone and the platform has closed.
	t.Cleanup(func() {
		out := buf.String()
		if strings.Contains(out, "secretkey42") || strings.Contains(out, stompx.DefaultPasscode) {
			t.Errorf("a secret reached the log:\n%s", out)
		}
		if out == "" {
			t.Error("nothing was logged")
		}
	})
	p := NewPlatform(t, WithLogger(newTestSlog(&buf)), WithKey("secretkey42"))
	c := newClient(t, p, "secretkey42")
	c.ok("QueueList", A{"accountcode": "default"})
	c.sendRaw(`["QueueList", "secretkey42", "bad"]`)
	c.sendRaw(`garbage`)
	c.sendRaw(`["QueueList", "bad key", {}]`)
	c.ok("QueueList", A{"accountcode": "default"})
	if err := p.PublishRaw(replyPrefix+"secretkey42", []byte("x")); err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
