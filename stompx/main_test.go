package stompx_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-stomp's embedded server never stops its routing goroutine, and
		// its per-connection goroutines end on their own schedule (they are
		// the test broker's, not the transport's).
		goleak.IgnoreAnyFunction("github.com/go-stomp/stomp/v3/server.(*requestProcessor).Serve"),
		goleak.IgnoreAnyFunction("github.com/go-stomp/stomp/v3/server/client.(*Conn).readLoop"),
		goleak.IgnoreAnyFunction("github.com/go-stomp/stomp/v3/server/client.(*Conn).processLoop"),
		goleak.IgnoreAnyFunction("github.com/go-stomp/stomp/v3/server/client.(*Conn).cleanupConn"),
		// go-stomp never ends a subscription whose SUBSCRIBE was still in
		// its write queue when the connection died: its reader goroutine
		// waits for ever (the transport's pump lets go, conn.forEach). The
		// tests that drop connections in a loop hit that now and then.
		goleak.IgnoreTopFunction("github.com/go-stomp/stomp/v3.(*Subscription).readLoop"),
	)
}
