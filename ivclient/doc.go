// Package ivclient is the typed client of the InstantVoice platform's
// integration API: its 41 methods (AgentLogin, NewCall, QueueAdd, ...) as Go
// methods with typed arguments and results, over an interchangeable
// Transport: STOMP (package stompx, which also delivers call events) or SOAP
// (package soapx, the IVWS web service).
//
// A minimal use, against the platform's broker:
//
//	t, err := stompx.Dial(ctx, "acd.example.com:61613")
//	if err != nil { ... }
//	c, err := ivclient.New(t, "f054bbd2f5ebab9")
//	if err != nil { ... }
//	defer c.Close() // closes t too, unless ivclient.KeepTransportOpen()
//
//	if err := c.AgentLogin(ctx, "default", "default_1001", "SIP/default_0001"); err != nil {
//		if errors.Is(err, codes.ErrDuplicate) { ... } // already logged in
//	}
//
// # Guarantees
//
//   - Concurrency: a Client is safe for use by many goroutines, and many
//     clients (one per access key) may share one transport. Every reply
//     reaches exactly the call that asked for it.
//   - Context: every method takes a context first and returns, wrapped, the
//     context's error when its deadline or cancellation ends the call
//     (errors.Is(err, context.DeadlineExceeded)). A call whose context has
//     no deadline gets one of DefaultCallTimeout (WithCallTimeout,
//     WithoutCallTimeout), so that a reply that never comes never blocks a
//     goroutine for ever.
//   - Errors: a non-zero return code of the platform comes back as a
//     *codes.Error that matches its sentinel (errors.Is(err,
//     codes.ErrNotFound)) and names the method. A key or argument the client
//     can tell is wrong fails before anything is sent, with ErrInvalidKey or
//     an *ArgError matching ErrInvalidArgument; so does a nil context, in
//     every function of the SDK that takes one, and a bad or nil option of
//     every constructor ("ivclient: New: invalid argument: WithCallTimeout:
//     d must be positive, got 0s"). Every error of a method
//     reads "instantvoice: <Method>: " and then what failed, with the
//     transport's own prefix ("instantvoice: QueueList: stompx: connection
//     lost: EOF"): the client, and only the client, names the method.
//   - No retries: the client never re-sends a call on its own. A call whose
//     connection dropped fails with ErrConnectionLost: it may or may not have
//     reached the platform (a re-sent NewCall would dial a customer twice).
//   - Reconnection belongs to the transport: stompx reconnects by itself and
//     restores event subscriptions behind the same values (events published
//     meanwhile are lost), and calls made while it reconnects wait within
//     their deadline, or fail at once with ErrConnectionLost under
//     stompx.WithFailFast; soapx has no session to restore.
//   - Events come from the broker: subscribe with stompx.Transport.Subscribe
//     (SOAP has none). Event order is per topic only (see package events).
//   - Secrets: the access key never appears in an error or a log line.
//
// # Metrics and traces
//
// WithObserver hands every finished call (its method, duration and error)
// to a function of the partner's, with the call's context: per-method
// counters and latency, or a child span of the caller's trace (see its
// Examples).
//
// # Wire irregularities absorbed
//
// The platform names arguments differently per method and per transport
// (NewCall's agent is "Agent" over STOMP and "User" over SOAP; AgentAdd's
// password is "pass" and "passwd"), returns numbers as strings and strings as
// numbers, sends Python-quoted lists (['1002', '1004']) and tuple text
// (('0001',)), and uses other field names in XML (requisendinfo, agents_id,
// call_limit). The client declares each method's names once, in struct
// tags, and decodes every result leniently into the types of this package,
// keeping the fields it does not name in Extra.
package ivclient
