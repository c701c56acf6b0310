package ivtest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/soapx"
)

// A platform with one agent, logged in with Do, taking a call from a queue.
// Any STOMP or SOAP client can reach it at STOMPAddr and SOAPURL.
func ExampleStart() {
	p, err := ivtest.Start(
		ivtest.WithClock(func() time.Time { return time.Unix(1700000000, 0) }),
		ivtest.WithQueue("default", "7000"),
		ivtest.WithAgent("default", "1001", "1234", "Alice"),
		ivtest.WithSeed("AgentQueueAdd", map[string]any{"accountcode": "default", "user": "1001",
			"queues": []any{map[string]any{"name": "7000", "priority": "0"}}}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	if _, err := p.Do("AgentLogin", map[string]any{"Accountcode": "default", "User": "default_1001", "Interface": "SIP/default_0001"}); err != nil {
		log.Fatal(err)
	}
	uid, err := p.InboundCall("default", "7000", "1001", "2198765456", ivtest.Answer)
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range p.Calls() {
		fmt.Println(c.UniqueID == uid, c.Agent, c.Direction, c.CallerID, c.Answered)
	}
	if err := p.EndCall(uid, "BYCALLER"); err != nil {
		log.Fatal(err)
	}
	_, err = p.Do("AgentLogin", map[string]any{"Accountcode": "default", "User": "default_1001", "Interface": "SIP/default_0001"})
	fmt.Println(errors.Is(err, codes.ErrDuplicate)) // already logged in
	// Output:
	// true default_1001 INBOUND 2198765456 true
	// true
}

// Reset between tests: what one test did (a queue it added, a call it left
// up, an agent it logged in) is gone, and the seeds are back.
func ExamplePlatform_Reset() {
	p, err := ivtest.Start(ivtest.WithQueue("default", "7000"), ivtest.WithAgent("default", "1001", "", "Alice"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	// One test: a request of the code under test, state set up with Do
	// (which is not a request), a call left up.
	tr, err := soapx.New(p.SOAPURL())
	if err != nil {
		log.Fatal(err)
	}
	c, err := ivclient.New(tr, p.Key())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.QueueAdd(context.Background(), ivclient.Queue{Accountcode: "default", Name: "7100"}); err != nil {
		log.Fatal(err)
	}
	p.Do("AgentLogin", map[string]any{"Accountcode": "default", "User": "1001", "Interface": "SIP/default_1001"})
	if _, err := p.OutboundCall("default", "1001", "6100", ivtest.Answer); err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(p.Calls()), "call,", len(p.Requests()), "request:", p.Requests()[0].Method)

	// The next.
	if err := p.Reset(); err != nil { // the call ends with HANGUP MSSTART
		log.Fatal(err)
	}
	_, err = p.Do("QueueInfo", map[string]any{"accountcode": "default", "name": "7100"})
	fmt.Println(len(p.Calls()), "calls,", len(p.Requests()), "requests; queue 7100 gone:", errors.Is(err, codes.ErrNotFound))
	info, _ := p.Do("AgentInfo", map[string]any{"accountcode": "default", "user": "1001"})
	fmt.Println("agent 1001:", info.(map[string]any)["agentstatus"])
	// Output:
	// 1 call, 1 request: QueueAdd
	// 0 calls, 0 requests; queue 7100 gone: true
	// agent 1001: LOGOFF
}
