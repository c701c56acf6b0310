package ivtest_test

import (
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
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
	if err := p.Hangup(uid, "BYCALLER"); err != nil {
		log.Fatal(err)
	}
	_, err = p.Do("AgentLogin", map[string]any{"Accountcode": "default", "User": "default_1001", "Interface": "SIP/default_0001"})
	fmt.Println(errors.Is(err, codes.ErrDuplicate)) // already logged in
	// Output:
	// true default_1001 INBOUND 2198765456 true
	// true
}
