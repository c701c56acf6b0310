package ivtest

import (
	"errors"
	"strings"
	"testing"

	"github.com/instantvoice/instantvoice-go/ivclient"
)

// Every option checks its value when Start applies it, and fails Start with
// an error that names it and matches ivclient.ErrInvalidArgument, before
// anything listens or any seed runs.
func TestOptionErrors(t *testing.T) {
	const start = "ivtest: Start: invalid argument: "
	for _, c := range []struct {
		o    Option
		want string
	}{
		{WithSTOMPAddr("no port"), "WithSTOMPAddr: address no port: missing port in address"},
		{WithSOAPAddr(""), "WithSOAPAddr: missing port in address"},
		{WithSTOMPLogin("agent\nx", "secret"), "WithSTOMPLogin: login and passcode must not contain line breaks or NUL"},
		{WithSTOMPLogin("agent", "sec\x00ret"), "WithSTOMPLogin: login and passcode must not contain line breaks or NUL"},
		{WithExternalBroker("127.0.0.1", "", ""), "WithExternalBroker: address 127.0.0.1: missing port in address"},
		{WithExternalBroker("127.0.0.1:1", "a", "b\r"), "WithExternalBroker: login and passcode must not contain line breaks or NUL"},
		{WithRequestQueue("queue/config"), `WithRequestQueue: the destination must start with '/', got "queue/config"`},
		{WithRequestQueue("/"), `WithRequestQueue: the destination must start with '/', got "/"`},
		{WithEventWildcards("#", ""), `WithEventWildcards: a wildcard is not empty and has no '/', line break or NUL, got ""`},
		{WithAccountcodes("acme", " "), "WithAccountcodes: empty accountcode"},
		{WithKey("bad key!"), "WithKey: a key is 1 to 20 ASCII letters and digits"},
		{WithKey("key1", "AgentLogon"), `WithKey: unknown method "AgentLogon"`},
		{WithPermissionGroups(""), "WithPermissionGroups: empty name"},
		{WithPauseReason("one", "Break"), `WithPauseReason: number must be digits, got "one"`},
		{WithSeed("NoSuchMethod", nil), `WithSeed: unknown method "NoSuchMethod"`},
		{WithAgent("", "1001", "", ""), "WithAgent: accountcode is required"},
		{WithAgent("default", "", "", "Alice"), "WithAgent: user is required"},
		{WithAgent("default", "alice", "", ""), `WithAgent: user must be digits, got "alice"`},
		{WithAgent("default", "1001", "pw", ""), `WithAgent: pass must be digits, got "pw"`},
		{WithQueue("default", ""), "WithQueue: name is required"},
		{WithQueue("default", "sales"), `WithQueue: name must be digits, got "sales"`},
		{WithSipUser("", "1010"), "WithSipUser: accountcode is required"},
		{WithSipUser("default", ""), "WithSipUser: name is required"},
		{WithLogger(nil), "WithLogger: nil logger"},
		{WithClock(nil), "WithClock: nil function"},
		{WithNewCallOutcome("LATER"), `WithNewCallOutcome: "LATER" is neither a hangup reason nor Ring`},
		{WithLicensedAgents(-1), "WithLicensedAgents: n must be at least 0, got -1"},
	} {
		p, err := Start(WithQueue("default", "7000"), c.o)
		if p != nil {
			p.Close()
		}
		if !errors.Is(err, ivclient.ErrInvalidArgument) || err == nil || err.Error() != start+c.want {
			t.Errorf("err = %v; want %q, matching ErrInvalidArgument", err, start+c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%v: the passcode reaches the error", err)
		}
	}
	// The values that are allowed.
	p, err := Start(WithAgent("default", "1001", "", ""), WithAgent("default", "1002", "1234", "Bob"),
		WithQueue("default", "7000"), WithSipUser("default", "1010"), WithLicensedAgents(0),
		WithSTOMPLogin("", ""), WithEventWildcards())
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
}
