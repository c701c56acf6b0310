package ivclient_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/soapx"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// The examples run against the fake platform of package ivtest. Against a
// real platform, dial its broker ("acd.example.com:61613") or its IVWS
// endpoint ("http://acd.example.com:7789/") and use one of its access keys.
// The examples of the methods start the platform and the client with a small
// helper (newExampleClient, in example_helpers_test.go) that does what
// Example does.

// A client over STOMP, the platform's broker: the transport that also
// delivers call events.
func Example() {
	p, err := ivtest.Start(ivtest.WithAgent("default", "1001", "", "Alice"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t, err := stompx.Dial(ctx, p.STOMPAddr()) // the platform's login and passcode by default
	if err != nil {
		log.Fatal(err)
	}
	c, err := ivclient.New(t, p.Key())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close() // closes t too

	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_1001"); err != nil {
		log.Fatal(err)
	}
	info, err := c.AgentInfo(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.User, info.Name, info.AgentStatus)

	err = c.AgentLogin(ctx, "default", "1001", "SIP/default_1001")
	fmt.Println("already logged in:", errors.Is(err, codes.ErrDuplicate))
	// Output:
	// default_1001 Alice LOGIN
	// already logged in: true
}

// A client over SOAP, the platform's IVWS web service. The methods, their
// results and their errors are the same as over STOMP; call events need
// STOMP (stompx.Transport.Subscribe).
func Example_soap() {
	p, err := ivtest.Start(ivtest.WithAgent("default", "1001", "", "Alice"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	t, err := soapx.New(p.SOAPURL()) // "http://acd.example.com:7789/"; the WSDL is at ?wsdl
	if err != nil {
		log.Fatal(err)
	}
	c, err := ivclient.New(t, p.Key())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := c.AgentInfo(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Name, info.AgentStatus)

	_, err = c.AgentInfo(ctx, "default", "4040")
	fmt.Println("not found:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// Alice LOGOFF
	// not found: true
}

// A client over STOMP with TLS. The fake platform's broker speaks plain
// STOMP, so a loopback proxy (startTLSProxy, in example_helpers_test.go)
// terminates TLS in front of it with a self-signed certificate; the
// transport trusts that certificate's authority through RootCAs. Against a
// broker with a certificate from a public authority, stompx.WithTLS(nil)
// is enough.
func Example_tls() {
	p, err := ivtest.Start(ivtest.WithQueue("default", "7015"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	addr, roots, stop := startTLSProxy(p.STOMPAddr())
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t, err := stompx.Dial(ctx, addr, stompx.WithTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}))
	if err != nil {
		log.Fatal(err)
	}
	c, err := ivclient.New(t, p.Key())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	queues, err := c.QueueList(ctx, "default")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("queues over TLS:", queues)

	// Without the authority, the certificate is refused.
	_, err = stompx.Dial(ctx, addr, stompx.WithTLS(&tls.Config{MinVersion: tls.VersionTLS12}))
	fmt.Println("untrusted certificate refused:", err != nil)
	// Output:
	// queues over TLS: [7015]
	// untrusted certificate refused: true
}

// Call events: subscribe first, then act, so that no event is missed. A
// Tracker folds the events into one record per call.
func Example_subscribe() {
	c, t, done := newExampleEvents(ivtest.WithAgent("default", "1001", "", "Alice"))
	defer done()
	ctx := context.Background()

	sub, err := t.Subscribe(ctx, events.AllAgents) // or events.AgentTopic("default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	tracker, err := events.NewTracker(events.WithFinished(func(call events.Call) {
		fmt.Printf("call record: %s %s %s answered=%v reason=%s\n",
			call.Agent, call.Direction, call.CallerID, call.Answered(), call.Reason)
	}))
	if err != nil {
		log.Fatal(err)
	}

	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_1001"); err != nil {
		log.Fatal(err)
	}
	if err := c.NewCall(ctx, "default", "1001", "6100", ""); err != nil {
		log.Fatal(err)
	}
	for ev := range sub.C() {
		fmt.Printf("%s %s callerid=%q reason=%q\n", ev.Type, ev.Agent, ev.CallerID, ev.Reason)
		tracker.Apply(ev)
		switch ev.Type {
		case events.DConnect: // the remote party answered
			if err := c.Hangup(ctx, "default", ev.UniqueID); err != nil {
				log.Fatal(err)
			}
		case events.Hangup:
			return
		}
	}
	// Output:
	// LOGIN default_1001 callerid="" reason=""
	// NEWCALL default_1001 callerid="6100" reason=""
	// CONNECT default_1001 callerid="6100" reason=""
	// DNEWCALL default_1001 callerid="6100" reason=""
	// DCONNECT default_1001 callerid="6100" reason=""
	// HANGUP default_1001 callerid="6100" reason="BYCALLER"
	// call record: default_1001 OUTBOUND 6100 answered=true reason=BYCALLER
}

// ---- Agent sessions and calls ----

func ExampleClient_AgentLogin() {
	c, t, done := newExampleEvents(ivtest.WithAgent("default", "1001", "", "Alice"))
	defer done()
	ctx := context.Background()

	sub, err := t.Subscribe(ctx, events.AgentTopic("default", "1001"))
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	// "1001" is sent as "default_1001", the name the platform expects.
	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_1001"); err != nil {
		log.Fatal(err)
	}
	ev := <-sub.C()
	fmt.Println(ev.Type, ev.Agent)

	err = c.AgentLogin(ctx, "default", "default_1001", "SIP/default_1001")
	fmt.Println("already logged in:", errors.Is(err, codes.ErrDuplicate))
	// Output:
	// LOGIN default_1001
	// already logged in: true
}

func ExampleClient_AgentLogoff() {
	c, _, done := newExampleClient(ivtest.WithAgent("default", "1001", "", "Alice"))
	defer done()
	ctx := context.Background()

	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_1001"); err != nil {
		log.Fatal(err)
	}
	if err := c.AgentLogoff(ctx, "default", "1001"); err != nil {
		log.Fatal(err)
	}
	info, err := c.AgentInfo(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.AgentStatus)

	err = c.AgentLogoff(ctx, "default", "1001")
	fmt.Println("already logged off:", errors.Is(err, codes.ErrDuplicate))
	// Output:
	// LOGOFF
	// already logged off: true
}

func ExampleClient_AgentPause() {
	c, t, done := newExampleEvents(ivtest.WithAgent("default", "1001", "", "Alice"))
	defer done()
	ctx := context.Background()

	err := c.AgentPause(ctx, "default", "1001", "2")
	fmt.Println("logged off:", errors.Is(err, codes.ErrNotAllowed))

	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_1001"); err != nil {
		log.Fatal(err)
	}
	sub, err := t.Subscribe(ctx, events.AgentTopic("default", "1001"))
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	// The reason is a pause number of Telephony/Agent Pauses: 2 is "Lunch".
	if err := c.AgentPause(ctx, "default", "1001", "2"); err != nil {
		log.Fatal(err)
	}
	ev := <-sub.C()
	fmt.Println(ev.Type, ev.Direction) // PAUSE carries the description in Direction
	// Output:
	// logged off: true
	// PAUSE Lunch
}

func ExampleClient_AgentUnpause() {
	c, _, done := newExampleClient(ivtest.WithAgent("default", "1001", "", "Alice"))
	defer done()
	ctx := context.Background()

	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_1001"); err != nil {
		log.Fatal(err)
	}
	if err := c.AgentPause(ctx, "default", "1001", "1"); err != nil {
		log.Fatal(err)
	}
	if err := c.AgentUnpause(ctx, "default", "1001"); err != nil {
		log.Fatal(err)
	}
	info, err := c.AgentInfo(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.AgentStatus)

	err = c.AgentUnpause(ctx, "default", "1001")
	fmt.Println("not paused:", errors.Is(err, codes.ErrDuplicate))
	// Output:
	// LOGIN
	// not paused: true
}

// NewCall rings the agent, then the number, and bridges them; the call's
// progress arrives as events.
func ExampleClient_NewCall() {
	c, t, done := newExampleEvents(ivtest.WithAgent("default", "1001", "", "Alice"))
	defer done()
	ctx := context.Background()

	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_1001"); err != nil {
		log.Fatal(err)
	}
	sub, err := t.Subscribe(ctx, events.AgentTopic("default", "1001"))
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	// "order-42" is the partner's own identifier for the call.
	if err := c.NewCall(ctx, "default", "1001", "6100", "order-42"); err != nil {
		log.Fatal(err)
	}
	for ev := range sub.C() {
		fmt.Printf("%s callerid=%s direction=%q\n", ev.Type, ev.CallerID, ev.Direction)
		if ev.Type == events.DConnect { // the number answered
			break
		}
	}
	// Output:
	// NEWCALL callerid=6100 direction="OUTBOUND"
	// CONNECT callerid=6100 direction=""
	// DNEWCALL callerid=6100 direction=""
	// DCONNECT callerid=6100 direction=""
}

// Hangup ends a call by its uniqueid, which the call's events carry.
func ExampleClient_Hangup() {
	c, t, done := newExampleEvents(ivtest.WithAgent("default", "1001", "", "Alice"))
	defer done()
	ctx := context.Background()

	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_1001"); err != nil {
		log.Fatal(err)
	}
	sub, err := t.Subscribe(ctx, events.AgentTopic("default", "1001"))
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	if err := c.NewCall(ctx, "default", "1001", "6100", ""); err != nil {
		log.Fatal(err)
	}
	for ev := range sub.C() {
		switch ev.Type {
		case events.NewCall:
			if err := c.Hangup(ctx, "default", ev.UniqueID); err != nil {
				log.Fatal(err)
			}
		case events.Hangup:
			fmt.Println(ev.Type, ev.Reason)
			err = c.Hangup(ctx, "default", ev.UniqueID)
			fmt.Println("call already gone:", errors.Is(err, codes.ErrNotFound))
			return
		}
	}
	// Output:
	// HANGUP BYCALLER
	// call already gone: true
}

// BlindTransfer sends the agent's answered calls elsewhere: here, to another
// agent, who receives the call as a new inbound call.
func ExampleClient_BlindTransfer() {
	c, p, t, done := newExampleEventsPlatform(
		ivtest.WithAgent("default", "1001", "", "Alice"),
		ivtest.WithAgent("default", "1002", "", "Bob"),
	)
	defer done()
	ctx := context.Background()

	for _, agent := range []string{"1001", "1002"} {
		if err := c.AgentLogin(ctx, "default", agent, "SIP/default_"+agent); err != nil {
			log.Fatal(err)
		}
	}
	err := c.BlindTransfer(ctx, "default", "1001", "1002")
	fmt.Println("no call to transfer:", errors.Is(err, codes.ErrItemEmpty))

	// A customer calls Alice, who answers.
	if _, err := p.InboundCall("default", "", "1001", "2198765456", ivtest.Answer); err != nil {
		log.Fatal(err)
	}
	sub, err := t.Subscribe(ctx, events.AllAgents) // one topic: the agents' events in the order they happened
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	if err := c.BlindTransfer(ctx, "default", "1001", "1002"); err != nil {
		log.Fatal(err)
	}
	for ev := range sub.C() {
		fmt.Printf("%s %s callerid=%s direction=%q reason=%q\n", ev.Agent, ev.Type, ev.CallerID, ev.Direction, ev.Reason)
		if ev.Type == events.Connect {
			break
		}
	}
	// Output:
	// no call to transfer: true
	// default_1001 HANGUP callerid=2198765456 direction="" reason="BTRANSFER"
	// default_1002 NEWCALL callerid=2198765456 direction="INBOUND" reason=""
	// default_1002 CONNECT callerid=2198765456 direction="" reason=""
}

func ExampleClient_SendSms() {
	c, p, done := newExampleClient()
	defer done()
	ctx := context.Background()

	if err := c.SendSms(ctx, "default", "552188283288", "Your order has shipped"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.SentSMS()) // what the fake platform sent

	err := c.SendSms(ctx, "default", "", "no number")
	fmt.Println("refused before sending:", errors.Is(err, ivclient.ErrInvalidArgument))
	// Output:
	// [{default 552188283288 Your order has shipped}]
	// refused before sending: true
}

func ExampleClient_NewCallBack() {
	c, p, done := newExampleClient()
	defer done()
	ctx := context.Background()

	cb := ivclient.CallBack{
		Accountcode: "default",
		Mcdu:        "6100",       // the MCDU that will execute the callback
		Originator:  "2177277722", // the number to call back
		Language:    "en_US",
	}
	if err := c.NewCallBack(ctx, cb); err != nil {
		log.Fatal(err)
	}
	for _, b := range p.CallBacks() { // the fake platform's callback list
		fmt.Println(b.Originator, b.Mcdu, b.Language)
	}

	err := c.NewCallBack(ctx, cb)
	fmt.Println("already on the list:", errors.Is(err, codes.ErrDuplicate))
	// Output:
	// 2177277722 6100 en_US
	// already on the list: true
}

// ---- Agents ----

func ExampleClient_AgentAdd() {
	c, _, done := newExampleClient()
	defer done()
	ctx := context.Background()

	err := c.AgentAdd(ctx, ivclient.Agent{Accountcode: "default", User: "1001", Pass: "1234", Name: "Alice"})
	if err != nil {
		log.Fatal(err)
	}
	info, err := c.AgentInfo(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.User, info.Name)

	err = c.AgentAdd(ctx, ivclient.Agent{Accountcode: "default", User: "1001"})
	fmt.Println("exists:", errors.Is(err, codes.ErrDuplicate))

	err = c.AgentAdd(ctx, ivclient.Agent{Accountcode: "default", User: "alice"})
	fmt.Println("refused before sending:", errors.Is(err, ivclient.ErrInvalidArgument))
	// Output:
	// default_1001 Alice
	// exists: true
	// refused before sending: true
}

func ExampleClient_AgentList() {
	c, _, done := newExampleClient(
		ivtest.WithAgent("default", "1001", "", "Alice"),
		ivtest.WithAgent("default", "1002", "", "Bob"),
	)
	defer done()
	ctx := context.Background()

	agents, err := c.AgentList(ctx, "default")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(agents)

	_, err = c.AgentList(ctx, "nosuchaccount")
	fmt.Println("unknown accountcode:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// [1001 1002]
	// unknown accountcode: true
}

func ExampleClient_AgentInfo() {
	c, _, done := newExampleClient(ivtest.WithAgent("default", "1001", "1234", "Alice"))
	defer done()
	ctx := context.Background()

	info, err := c.AgentInfo(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("user:", info.User)
	fmt.Println("name:", info.Name)
	fmt.Println("status:", info.AgentStatus)

	_, err = c.AgentInfo(ctx, "default", "4040")
	var ce *codes.Error
	if errors.As(err, &ce) {
		fmt.Println(ce.Code, ce.Method)
	}
	// Output:
	// user: default_1001
	// name: Alice
	// status: LOGOFF
	// RESPONSE_NOT_FOUND AgentInfo
}

// AgentModify changes the fields it is given and leaves the others alone.
func ExampleClient_AgentModify() {
	c, _, done := newExampleClient(ivtest.WithAgent("default", "1002", "1234", "Bob"))
	defer done()
	ctx := context.Background()

	if err := c.AgentModify(ctx, "default", "1002", ivclient.Agent{Name: "Robert"}); err != nil {
		log.Fatal(err)
	}
	info, err := c.AgentInfo(ctx, "default", "1002")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Name, info.Pass)

	err = c.AgentModify(ctx, "default", "4040", ivclient.Agent{Name: "Nobody"})
	fmt.Println("unknown agent:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// Robert 1234
	// unknown agent: true
}

func ExampleClient_AgentDelete() {
	c, _, done := newExampleClient(
		ivtest.WithAgent("default", "1001", "", "Alice"),
		ivtest.WithAgent("default", "1002", "", "Bob"),
	)
	defer done()
	ctx := context.Background()

	if err := c.AgentDelete(ctx, "default", "1002"); err != nil {
		log.Fatal(err)
	}
	agents, err := c.AgentList(ctx, "default")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(agents)

	err = c.AgentDelete(ctx, "default", "1002")
	fmt.Println("already deleted:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// [1001]
	// already deleted: true
}

// ---- Agent lines ----

func ExampleClient_AgentLineAdd() {
	c, _, done := newExampleClient(ivtest.WithAgent("default", "1001", "", "Alice"))
	defer done()
	ctx := context.Background()

	// Line 2 only places calls.
	err := c.AgentLineAdd(ctx, "default", "1001",
		ivclient.Line{Number: 1},
		ivclient.Line{Number: 2, Inbound: ivclient.Ptr(false)})
	if err != nil {
		log.Fatal(err)
	}
	lines, err := c.AgentLineList(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range lines {
		fmt.Printf("line %d inbound=%v outbound=%v\n", l.Number, l.Inbound, l.Outbound)
	}

	err = c.AgentLineAdd(ctx, "default", "1001", ivclient.Line{Number: 2})
	fmt.Println("exists:", errors.Is(err, codes.ErrDuplicate))
	// Output:
	// line 1 inbound=true outbound=true
	// line 2 inbound=false outbound=true
	// exists: true
}

func ExampleClient_AgentLineList() {
	c, _, done := newExampleClient(
		ivtest.WithAgent("default", "1001", "", "Alice"),
		ivtest.WithSeed("AgentLineAdd", map[string]any{"accountcode": "default", "user": "1001",
			"lines": []any{map[string]any{"linenumber": "1"}}}),
	)
	defer done()
	ctx := context.Background()

	lines, err := c.AgentLineList(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range lines {
		fmt.Println(l.Number, l.Status, l.Inbound, l.Outbound)
	}
	// Output:
	// 1 IDLE true true
}

func ExampleClient_AgentLineModify() {
	c, _, done := newExampleClient(
		ivtest.WithAgent("default", "1001", "", "Alice"),
		ivtest.WithSeed("AgentLineAdd", map[string]any{"accountcode": "default", "user": "1001",
			"lines": []any{map[string]any{"linenumber": "1"}}}),
	)
	defer done()
	ctx := context.Background()

	// Line 1 stops receiving calls; nil leaves outbound as it is.
	if err := c.AgentLineModify(ctx, "default", "1001", 1, ivclient.Ptr(false), nil); err != nil {
		log.Fatal(err)
	}
	lines, err := c.AgentLineList(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("line %d inbound=%v outbound=%v\n", lines[0].Number, lines[0].Inbound, lines[0].Outbound)

	err = c.AgentLineModify(ctx, "default", "1001", 9, ivclient.Ptr(true), nil)
	fmt.Println("no line 9:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// line 1 inbound=false outbound=true
	// no line 9: true
}

func ExampleClient_AgentLineDelete() {
	c, _, done := newExampleClient(
		ivtest.WithAgent("default", "1001", "", "Alice"),
		ivtest.WithSeed("AgentLineAdd", map[string]any{"accountcode": "default", "user": "1001",
			"lines": []any{map[string]any{"linenumber": "1"}, map[string]any{"linenumber": "2"}}}),
	)
	defer done()
	ctx := context.Background()

	if err := c.AgentLineDelete(ctx, "default", "1001", 2); err != nil {
		log.Fatal(err)
	}
	lines, err := c.AgentLineList(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("lines left:", len(lines))

	// An agent keeps at least one line: change it with AgentLineModify.
	err = c.AgentLineDelete(ctx, "default", "1001", 1)
	fmt.Println("only line:", errors.Is(err, codes.ErrNotAllowed))
	// Output:
	// lines left: 1
	// only line: true
}

// ---- Queue memberships ----

func ExampleClient_AgentQueueAdd() {
	c, _, done := newExampleClient(
		ivtest.WithQueue("default", "7015"),
		ivtest.WithQueue("default", "7016"),
		ivtest.WithAgent("default", "1001", "", "Alice"),
	)
	defer done()
	ctx := context.Background()

	err := c.AgentQueueAdd(ctx, "default", "1001",
		ivclient.QueueMembership{Name: "7015", Priority: 1},
		ivclient.QueueMembership{Name: "7016"})
	if err != nil {
		log.Fatal(err)
	}
	queues, err := c.AgentQueueList(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	for _, q := range queues {
		fmt.Println(q.Name, q.Priority)
	}

	err = c.AgentQueueAdd(ctx, "default", "1001", ivclient.QueueMembership{Name: "9999"})
	fmt.Println("no such queue:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// 7015 1
	// 7016 0
	// no such queue: true
}

func ExampleClient_AgentQueueList() {
	c, _, done := newExampleClient(agentInQueues()...)
	defer done()
	ctx := context.Background()

	queues, err := c.AgentQueueList(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	for _, q := range queues {
		fmt.Printf("queue %s priority %d\n", q.Name, q.Priority)
	}
	// Output:
	// queue 7015 priority 1
	// queue 7016 priority 0
}

func ExampleClient_AgentQueueMembers() {
	c, _, done := newExampleClient(agentInQueues(
		ivtest.WithAgent("default", "1002", "", "Bob"),
		ivtest.WithSeed("AgentQueueAdd", map[string]any{"accountcode": "default", "user": "1002",
			"queues": []any{map[string]any{"name": "7015", "priority": "5"}}}),
	)...)
	defer done()
	ctx := context.Background()

	members, err := c.AgentQueueMembers(ctx, "default", "7015")
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range members {
		fmt.Printf("agent %s priority %d\n", m.User, m.Priority)
	}
	// Output:
	// agent 1001 priority 1
	// agent 1002 priority 5
}

func ExampleClient_AgentQueueModify() {
	c, _, done := newExampleClient(agentInQueues()...)
	defer done()
	ctx := context.Background()

	if err := c.AgentQueueModify(ctx, "default", "1001", "7015", 9); err != nil {
		log.Fatal(err)
	}
	queues, err := c.AgentQueueList(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(queues[0].Name, queues[0].Priority)
	// Output:
	// 7015 9
}

func ExampleClient_AgentQueueDelete() {
	c, _, done := newExampleClient(agentInQueues()...)
	defer done()
	ctx := context.Background()

	if err := c.AgentQueueDelete(ctx, "default", "1001", "7016"); err != nil {
		log.Fatal(err)
	}
	queues, err := c.AgentQueueList(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("queues left:", len(queues))

	// An agent stays in at least one queue: change it with AgentQueueModify.
	err = c.AgentQueueDelete(ctx, "default", "1001", "7015")
	fmt.Println("only queue:", errors.Is(err, codes.ErrNotAllowed))
	// Output:
	// queues left: 1
	// only queue: true
}

// ---- Agent permission groups ----

func ExampleClient_AgentAddPermission() {
	c, _, done := newExampleClient(
		ivtest.WithPermissionGroups("123", "456"),
		ivtest.WithAgent("default", "1001", "", "Alice"),
	)
	defer done()
	ctx := context.Background()

	if err := c.AgentAddPermission(ctx, "default", "1001", "123"); err != nil {
		log.Fatal(err)
	}
	group, err := c.AgentInfoPermission(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("group:", group)

	err = c.AgentAddPermission(ctx, "default", "1001", "456")
	fmt.Println("already in a group:", errors.Is(err, codes.ErrDuplicate))
	// Output:
	// group: 123
	// already in a group: true
}

func ExampleClient_AgentInfoPermission() {
	c, _, done := newExampleClient(agentInGroup(ivtest.WithAgent("default", "1002", "", "Bob"))...)
	defer done()
	ctx := context.Background()

	group, err := c.AgentInfoPermission(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("group:", group)

	_, err = c.AgentInfoPermission(ctx, "default", "1002")
	fmt.Println("no group:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// group: 123
	// no group: true
}

func ExampleClient_AgentModifyPermission() {
	c, _, done := newExampleClient(agentInGroup()...)
	defer done()
	ctx := context.Background()

	if err := c.AgentModifyPermission(ctx, "default", "1001", "456"); err != nil {
		log.Fatal(err)
	}
	group, err := c.AgentInfoPermission(ctx, "default", "1001")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("group:", group)
	// Output:
	// group: 456
}

func ExampleClient_AgentDeletePermission() {
	c, _, done := newExampleClient(agentInGroup()...)
	defer done()
	ctx := context.Background()

	if err := c.AgentDeletePermission(ctx, "default", "1001"); err != nil {
		log.Fatal(err)
	}
	_, err := c.AgentInfoPermission(ctx, "default", "1001")
	fmt.Println("no group:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// no group: true
}

// ---- Queues ----

func ExampleClient_QueueAdd() {
	c, _, done := newExampleClient()
	defer done()
	ctx := context.Background()

	err := c.QueueAdd(ctx, ivclient.Queue{
		Accountcode: "default",
		Name:        "7015",
		Description: "Support",
		Timeout:     ivclient.Ptr(120), // optional settings are pointers: nil keeps the platform's default
		JoinEmpty:   "no",
	})
	if err != nil {
		log.Fatal(err)
	}
	info, err := c.QueueInfo(ctx, "default", "7015")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Description, info.Timeout, info.JoinEmpty, info.DialTimeout)

	err = c.QueueAdd(ctx, ivclient.Queue{Accountcode: "default", Name: "7015"})
	fmt.Println("exists:", errors.Is(err, codes.ErrDuplicate))
	// Output:
	// Support 120 no 10
	// exists: true
}

// The same call over SOAP gives the same result.
func ExampleClient_QueueList() {
	c, _, done := newExampleSOAPClient(
		ivtest.WithQueue("default", "7015"),
		ivtest.WithQueue("default", "7016"),
	)
	defer done()
	ctx := context.Background()

	queues, err := c.QueueList(ctx, "default")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(queues)
	// Output:
	// [7015 7016]
}

func ExampleClient_QueueInfo() {
	c, _, done := newExampleClient(
		ivtest.WithSeed("QueueAdd", map[string]any{"accountcode": "default", "name": "7015", "description": "Support"}),
	)
	defer done()
	ctx := context.Background()

	q, err := c.QueueInfo(ctx, "default", "7015")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("description:", q.Description)
	fmt.Println("service levels:", q.SLAnsweredBefore1, q.SLAnsweredBefore2, q.SLAnsweredBefore3)
	fmt.Println("callers waiting:", q.Len)

	_, err = c.QueueInfo(ctx, "default", "9999")
	fmt.Println("unknown queue:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// description: Support
	// service levels: 30 60 60
	// callers waiting: 0
	// unknown queue: true
}

func ExampleClient_QueueModify() {
	c, _, done := newExampleClient(
		ivtest.WithSeed("QueueAdd", map[string]any{"accountcode": "default", "name": "7015", "description": "Support"}),
	)
	defer done()
	ctx := context.Background()

	err := c.QueueModify(ctx, "default", "7015", ivclient.Queue{Description: "Technical support", MaxLen: ivclient.Ptr(5)})
	if err != nil {
		log.Fatal(err)
	}
	q, err := c.QueueInfo(ctx, "default", "7015")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(q.Description, q.MaxLen)
	// Output:
	// Technical support 5
}

func ExampleClient_QueueDelete() {
	c, _, done := newExampleClient(
		ivtest.WithQueue("default", "7015"),
		ivtest.WithQueue("default", "7016"),
	)
	defer done()
	ctx := context.Background()

	if err := c.QueueDelete(ctx, "default", "7016"); err != nil {
		log.Fatal(err)
	}
	queues, err := c.QueueList(ctx, "default")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(queues)

	err = c.QueueDelete(ctx, "default", "7016")
	fmt.Println("already deleted:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// [7015]
	// already deleted: true
}

// ---- SIP users ----

func ExampleClient_SipUserAdd() {
	c, _, done := newExampleClient()
	defer done()
	ctx := context.Background()

	err := c.SipUserAdd(ctx, ivclient.SipUser{
		Accountcode: "default",
		Name:        "1010",
		Secret:      "creative-password",
		CallLimit:   ivclient.Ptr(2), // sent as call-limit over STOMP, call_limit over SOAP
	})
	if err != nil {
		log.Fatal(err)
	}
	u, err := c.SipUserInfo(ctx, "default", "1010")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Name, u.CallLimit, u.Host, u.Context) // the platform names SIP users "<accountcode>_<name>"

	err = c.SipUserAdd(ctx, ivclient.SipUser{Accountcode: "default", Name: "1010"})
	fmt.Println("exists:", errors.Is(err, codes.ErrDuplicate))
	// Output:
	// default_1010 2 dynamic instantvoice_agent
	// exists: true
}

// A platform that prints the list the Python way, [0, ['1010', '1011']],
// gives the same result.
func ExampleClient_SipUserList() {
	c, _, done := newExampleClient(
		ivtest.WithPythonLists(),
		ivtest.WithSipUser("default", "1010"),
		ivtest.WithSipUser("default", "1011"),
	)
	defer done()
	ctx := context.Background()

	users, err := c.SipUserList(ctx, "default")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(users)
	// Output:
	// [1010 1011]
}

// The result is the same over SOAP, whose reply names some fields otherwise
// (call_limit, ignoreexpire).
func ExampleClient_SipUserInfo() {
	c, _, done := newExampleSOAPClient(
		ivtest.WithSeed("SipUserAdd", map[string]any{"accountcode": "default", "name": "1010",
			"secret": "creative-password", "call-limit": "2"}),
	)
	defer done()
	ctx := context.Background()

	u, err := c.SipUserInfo(ctx, "default", "1010")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("name:", u.Name) // "<accountcode>_<name>"
	fmt.Println("secret:", u.Secret)
	fmt.Println("call limit:", u.CallLimit)
	fmt.Printf("caller id: %q\n", u.CallerID) // "" when the platform sends nil

	_, err = c.SipUserInfo(ctx, "default", "9999")
	fmt.Println("unknown SIP user:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// name: default_1010
	// secret: creative-password
	// call limit: 2
	// caller id: ""
	// unknown SIP user: true
}

func ExampleClient_SipUserModify() {
	c, _, done := newExampleClient(
		ivtest.WithSeed("SipUserAdd", map[string]any{"accountcode": "default", "name": "1010", "secret": "creative-password"}),
	)
	defer done()
	ctx := context.Background()

	err := c.SipUserModify(ctx, "default", "1010", ivclient.SipUser{Secret: "new-secret", Port: ivclient.Ptr(5070)})
	if err != nil {
		log.Fatal(err)
	}
	u, err := c.SipUserInfo(ctx, "default", "1010")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.Secret, u.Port)
	// Output:
	// new-secret 5070
}

func ExampleClient_SipUserDelete() {
	c, _, done := newExampleClient(
		ivtest.WithSipUser("default", "1010"),
		ivtest.WithSipUser("default", "1011"),
	)
	defer done()
	ctx := context.Background()

	if err := c.SipUserDelete(ctx, "default", "1011"); err != nil {
		log.Fatal(err)
	}
	users, err := c.SipUserList(ctx, "default")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(users)

	err = c.SipUserDelete(ctx, "default", "1011")
	fmt.Println("already deleted:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// [1010]
	// already deleted: true
}

// ---- SIP user permission groups ----

func ExampleClient_SipUserAddPermission() {
	c, _, done := newExampleClient(
		ivtest.WithPermissionGroups("123", "456"),
		ivtest.WithSipUser("default", "1010"),
	)
	defer done()
	ctx := context.Background()

	if err := c.SipUserAddPermission(ctx, "default", "1010", "123"); err != nil {
		log.Fatal(err)
	}
	group, err := c.SipUserInfoPermission(ctx, "default", "1010")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("group:", group)

	err = c.SipUserAddPermission(ctx, "default", "1010", "456")
	fmt.Println("already in a group:", errors.Is(err, codes.ErrDuplicate))
	// Output:
	// group: 123
	// already in a group: true
}

// Over SOAP, where the platform answers {code, location}, the result is the
// same as over STOMP.
func ExampleClient_SipUserInfoPermission() {
	c, _, done := newExampleSOAPClient(sipUserInGroup()...)
	defer done()
	ctx := context.Background()

	group, err := c.SipUserInfoPermission(ctx, "default", "1010")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("group:", group)

	_, err = c.SipUserInfoPermission(ctx, "default", "9999")
	fmt.Println("unknown SIP user:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// group: 123
	// unknown SIP user: true
}

func ExampleClient_SipUserModifyPermission() {
	c, _, done := newExampleClient(sipUserInGroup()...)
	defer done()
	ctx := context.Background()

	if err := c.SipUserModifyPermission(ctx, "default", "1010", "456"); err != nil {
		log.Fatal(err)
	}
	group, err := c.SipUserInfoPermission(ctx, "default", "1010")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("group:", group)

	err = c.SipUserModifyPermission(ctx, "default", "1010", "nosuchgroup")
	fmt.Println("unknown group:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// group: 456
	// unknown group: true
}

func ExampleClient_SipUserDeletePermission() {
	c, _, done := newExampleClient(sipUserInGroup()...)
	defer done()
	ctx := context.Background()

	if err := c.SipUserDeletePermission(ctx, "default", "1010"); err != nil {
		log.Fatal(err)
	}
	err := c.SipUserDeletePermission(ctx, "default", "1010")
	fmt.Println("no group left:", errors.Is(err, codes.ErrNotFound))
	// Output:
	// no group left: true
}
