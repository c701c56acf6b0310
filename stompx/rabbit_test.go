package stompx_test

// Integration tests against a real RabbitMQ with its STOMP plugin:
//
//	bash scripts/rabbitmq.sh start
//	IV_RABBITMQ_ADDR=127.0.0.1:61613 go test -race -run Rabbit ./stompx
//
// Without IV_RABBITMQ_ADDR they skip, unless IV_REQUIRE_BROKER is set (as
// CI does), in which case they fail. Each test uses its own request queue,
// key and topics, so they can share the broker with other packages' tests.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

func rabbitAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("IV_RABBITMQ_ADDR")
	if addr == "" {
		if os.Getenv("IV_REQUIRE_BROKER") != "" {
			t.Fatal("IV_REQUIRE_BROKER is set but IV_RABBITMQ_ADDR is empty")
		}
		t.Skip("set IV_RABBITMQ_ADDR (e.g. 127.0.0.1:61613) to run against RabbitMQ")
	}
	return addr
}

func randName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// rabbitPlatform attaches ivtest's request processor to RabbitMQ on a
// request queue of its own, answering every request with its arguments.
func rabbitPlatform(t testing.TB, addr string) (*ivtest.Platform, string) {
	t.Helper()
	queue := "/queue/" + randName("stompx.config.")
	p := ivtest.NewPlatform(t, ivtest.WithExternalBroker(addr, testLogin, testPasscode), ivtest.WithRequestQueue(queue))
	echoPlatform(p)
	return p, queue
}

// rabbitPublish publishes bodies on dest from a plain go-stomp connection,
// waiting for RabbitMQ's receipt.
func rabbitPublish(t *testing.T, addr, dest string, bodies ...[]byte) {
	t.Helper()
	c, nc := dialRaw(t, addr)
	defer nc.Close()
	for _, b := range bodies {
		if err := c.Send(dest, "", b, stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Disconnect()
}

func TestRabbitDialDefaults(t *testing.T) {
	addr := rabbitAddr(t)
	// No options at all: the platform's login, virtual host "/", heart-beats.
	tr := dial(t, addr)
	if tr.State() != stompx.Connected {
		t.Fatalf("state %v", tr.State())
	}
	p, queue := rabbitPlatform(t, addr)
	tr2 := dial(t, addr, stompx.WithRequestQueue(queue))
	ctx := ctxT(t, 30*time.Second)
	if err := echo(ctx, tr2, p.Key(), "hello"); err != nil {
		t.Fatal(err)
	}
}

func TestRabbitWrongPasscode(t *testing.T) {
	addr := rabbitAddr(t)
	const secret = "Wr0ngPassc0de-xyzzy"
	_, err := stompx.Dial(ctxT(t, 10*time.Second), addr, stompx.WithLogin(testLogin, secret))
	if !errors.Is(err, stompx.ErrConnectRefused) || strings.Contains(err.Error(), secret) {
		t.Fatalf("got %v", err)
	}
}

func TestRabbitInFlight1024(t *testing.T) {
	addr := rabbitAddr(t)
	p, queue := rabbitPlatform(t, addr)
	tr := dial(t, addr, stompx.WithRequestQueue(queue))
	ctx := ctxT(t, 2*time.Minute)
	if err := echo(ctx, tr, p.Key(), "warm"); err != nil {
		t.Fatal(err)
	}
	echoAtOnce(t, ctx, tr, p.Key(), 1024)
}

// Subscribe returns only once RabbitMQ has the subscription: an event
// published right after is always received.
func TestRabbitSubscribeConfirmed(t *testing.T) {
	addr := rabbitAddr(t)
	tr := dial(t, addr)
	pub, nc := dialRaw(t, addr)
	defer nc.Close()
	ctx := ctxT(t, time.Minute)
	for i := 0; i < 30; i++ {
		topic := events.AgentTopic(randName("stx"), "1001")
		sub, err := tr.Subscribe(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Send(topic, "", eventBody("LOGIN", "x_1001", fmt.Sprint(i)), stomp.SendOpt.Receipt); err != nil {
			t.Fatal(err)
		}
		if ev := recv(t, sub); ev.UniqueID != fmt.Sprint(i) {
			t.Fatalf("%+v", ev)
		}
		if err := sub.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// RabbitMQ's real wildcard: /topic/iv.agents.# receives every agent's
// topic; a closed subscription receives nothing more.
func TestRabbitWildcardAndUnsubscribe(t *testing.T) {
	addr := rabbitAddr(t)
	tr := dial(t, addr)
	ctx := ctxT(t, 30*time.Second)
	acct := randName("stx")
	all, err := tr.Subscribe(ctx, events.AllAgents)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	one, err := tr.Subscribe(ctx, events.AgentTopic(acct, "1001"))
	if err != nil {
		t.Fatal(err)
	}
	topic := events.AgentTopic(acct, "1002")
	rabbitPublish(t, addr, topic, eventBody("NEWCALL", acct+"_1002", "u1"))
	for {
		ev := recv(t, all) // other tests may publish agents' events too
		if ev.Topic == topic {
			if ev.UniqueID != "u1" {
				t.Fatalf("%+v", ev)
			}
			break
		}
	}
	if err := one.Close(); err != nil {
		t.Fatal(err)
	}
	rabbitPublish(t, addr, events.AgentTopic(acct, "1001"), eventBody("HANGUP", acct+"_1001", "u2"))
	for {
		ev := recv(t, all)
		if ev.Topic == events.AgentTopic(acct, "1001") {
			break
		}
	}
	if one.Delivered() != 0 {
		t.Fatalf("closed subscription got %d events", one.Delivered())
	}
}

// Kill the TCP connections to RabbitMQ under load.
func TestRabbitKillUnderLoad(t *testing.T) {
	addr := rabbitAddr(t)
	p, queue := rabbitPlatform(t, addr)
	px := newProxy(t, addr)
	var states stateLog
	tr := dial(t, px.addr(), fast, stompx.WithRequestQueue(queue), stompx.WithStateHandler(states.add))
	ctx := ctxT(t, time.Minute)
	topic := events.AgentTopic(randName("stx"), "1001")
	sub, err := tr.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	load := startCallLoad(t, ctx, tr, p.Key(), 10*time.Second, false)
	load.waitMore(t, 100)
	px.kill()
	states.waitFor(t, stompx.Connected, stompx.Reconnecting, stompx.Connected)
	load.waitMore(t, 100)
	load.finish()
	rabbitPublish(t, addr, topic, eventBody("LOGIN", "x_1001", "after"))
	if ev := recv(t, sub); ev.UniqueID != "after" {
		t.Fatalf("%+v", ev)
	}
	t.Logf("ok %d lost %d %+v", load.ok.Load(), load.lost.Load(), tr.Stats())
}

// An idle connection outlives several heart-beat periods.
func TestRabbitIdleHeartBeats(t *testing.T) {
	addr := rabbitAddr(t)
	tr := dial(t, addr, stompx.WithHeartBeat(500*time.Millisecond, 500*time.Millisecond))
	time.Sleep(3 * time.Second)
	if st := tr.Stats(); st.ConnectionsLost != 0 || tr.State() != stompx.Connected {
		t.Fatalf("state %v %+v", tr.State(), st)
	}
	if _, err := tr.Subscribe(ctxT(t, 10*time.Second), events.AgentTopic(randName("stx"), "1")); err != nil {
		t.Fatal(err)
	}
}

func TestRabbitSubscribeDuringFlood(t *testing.T) {
	addr := rabbitAddr(t)
	p, queue := rabbitPlatform(t, addr)
	tr := dial(t, addr, stompx.WithRequestQueue(queue))
	subscribeDuringFlood(t, tr, p.Key())
}
