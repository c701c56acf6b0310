// Package stompx is the STOMP transport of the InstantVoice SDK: it sends
// the platform's requests to /queue/config, matches each reply on
// /topic/<key> to its caller, and delivers call events from event topics.
// It is built on github.com/go-stomp/stomp/v3 and works with the
// platform's broker (RabbitMQ's STOMP adapter) as shipped, with ActiveMQ
// (WithWildcard(">")), and with the fake platform of package ivtest.
//
// Minimal use:
//
//	t, err := stompx.Dial(ctx, "acd.example.com:61613")
//	if err != nil {
//		return err
//	}
//	c, err := ivclient.New(t, key) // c.Close closes t too
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	sub, err := t.Subscribe(ctx, events.AgentTopic("default", "1001")) // before acting
//	if err != nil {
//		return err
//	}
//	defer sub.Close()
//	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_0001"); err != nil {
//		return err
//	}
//	for ev := range sub.C() {
//		fmt.Println(ev.Type, ev.UniqueID) // LOGIN, then the agent's calls
//	}
//
// A Transport is safe for use by many goroutines, and any number of clients
// (one per access key) may share it. It keeps two STOMP connections to the
// broker: one sends requests, the other receives replies and events.
//
// # Guarantees
//
// Correlation. Every request carries a fresh UUID as its identifier. Before
// the first request with a key is sent, the transport subscribes to that
// key's reply topic and waits until the broker confirms it (one
// subscription per key, shared by every call with that key). A reply is
// handed only to the pending call whose identifier it carries, on that
// call's key; replies with an unknown or missing identifier, duplicates and
// unparseable replies are counted (Stats) and dropped. Many clients may
// share a key: each sees the others' replies and ignores them.
//
// Deadlines. Every call and subscription honours its context: when it ends
// first, the error wraps ctx.Err() and nothing is left behind. A request
// still queued when its caller gives up is not sent.
//
// Request expiry. A request that was sent carries the broker's expiry
// header, computed from the call's deadline when it is sent (RabbitMQ's
// and ivtest's "expiration", ActiveMQ's "expires"): a request still
// waiting in /queue/config when its caller has given up (the platform's
// consumer is down, say) is dropped by the broker, never executed later. A
// call whose deadline passes before it could be sent sends nothing; a call
// without a deadline carries no header. WithoutRequestExpiry turns this off.
//
// Durable events. SubscribeDurable receives events through a durable queue
// the broker keeps for a name (RabbitMQ and ivtest's broker): events wait
// while no consumer is connected, the consumers of one name (in any
// process) share them, and each event is settled by Subscription.Ack (or
// events.Run once its sinks have taken it), at least once: an event whose
// consumer died before acking is delivered again, with Redelivered set. A
// durable subscription never drops an event; the broker's prefetch bounds
// what is in flight. Each durable subscription has a STOMP connection of
// its own, so that a broker refusal (a queue whose arguments differ, which
// RabbitMQ answers by closing the connection) disturbs nothing else.
// DeleteDurable removes a queue. Plain subscriptions (Subscribe) keep no
// events while disconnected and give each subscriber every event.
//
// One active worker. WithSingleActive makes one consumer of a name, in any
// process, the active one: the broker grants it an exclusive lock queue
// on its own connection, the others wait as standbys and try about once a
// second, and the lock goes with the active consumer's connection (a
// consumer granted it checks that it holds it before it takes events), so
// a standby takes over within about a second of its death (once the broker
// notices, for a cut network: the heart-beat timeout). WithActiveChange
// reports the changes. Events of a lost connection reach no handler of
// events.Consume or events.ConsumeCalls; the broker delivers them again.
//
// Dead letters. Subscription.Reject moves an event of a durable
// subscription to its name's dead letters (a durable queue of their own)
// with the cause and the time, then settles it: at least once, a crash
// between the two leaves the event in both places. DeadLetters lists them,
// ReplayDeadLetters sends them back to the name's queue (which must
// exist: ErrDurableNotFound; at least once, a crash mid-replay may leave a
// letter both replayed and still dead), PurgeDeadLetters deletes them,
// and DeleteDurable deletes them with the name's queue. Each reads up to
// an end marker it puts behind the last letter, so a listing is complete
// whatever the link's speed, and one runs at a time per name. The
// name's queue keeps its arguments: queues made before this existed work
// as they are.
//
// Prefetch. A durable subscription's default prefetch,
// DefaultDurablePrefetch (30,000), lets events.ConsumeCalls hold every
// event of 5,000 calls in progress; its buffer costs about 5.5 MB per
// subscription, plus the bodies of the events in flight.
//
// No deadlock. Requests are sent on a connection of their own, and every
// go-stomp subscription is drained at once by a goroutine that never sends,
// so go-stomp's client cannot wedge and the broker can always deliver to the
// transport, however many calls are in flight (1,024 and more on one
// transport, against ivtest and RabbitMQ). One limit remains in go-stomp's
// own server package (which ivtest does not use): its single router blocks
// while writing to a connection, so a SUBSCRIBE it receives while hundreds
// of calls are in flight can wedge it for good; the transport notices the
// missing confirmation (after 30s) and reconnects, but that server stays stuck.
//
// Connection loss. Calls in flight when the connection drops fail at once
// with an error wrapping ivclient.ErrConnectionLost; they are never re-sent
// (a re-sent NewCall would dial a customer twice), because the request may
// or may not have reached the platform. Unless WithoutReconnect, the
// transport reconnects by itself with exponential backoff and jitter,
// trying every address (WithAddrs), forever by default; it restores the
// reply subscriptions first, then every event subscription, behind the same
// *events.Subscription values. Calls made meanwhile wait within their
// deadline (WithFailFast: fail at once). Events published while the
// connection was down are lost. State changes (Connecting, Connected,
// Reconnecting, Closed, each with its cause) are delivered in order to
// WithStateHandler on a goroutine of their own.
//
// First connection. Dial is not retried: it tries each address once and
// returns the error, unless WithRetryOnFailedConnect. A refused login
// (ErrConnectRefused) is final. A Subscribe whose connection drops before
// the broker confirmed it fails with ivclient.ErrConnectionLost and is not
// retried either.
//
// Event order. The events of one topic arrive in the order the broker sent
// them; there is no order across topics, and an event that matches two
// topics of one subscription (an agent's topic and events.AllAgents) arrives
// twice.
//
// Slow consumers. Each subscription buffers events (WithEventBuffer); the
// events a consumer cannot take are dropped and counted, and replies and
// heart-beats keep flowing (WithBlockingEvents trades that for no drops).
//
// Heart-beats. Both directions are negotiated explicitly (WithHeartBeat,
// 10s by default); a broker silent for about twice its period is taken as
// gone. An idle connection is never dropped by mistake, even by a broker
// that declines to send heart-beats.
//
// Secrets. The passcode and the access keys never appear in errors or log
// lines (reply destinations are logged as /topic/[redacted]); the default
// logger logs nothing, and go-stomp's own logging goes through it.
//
// Close fails every pending call at once with an error wrapping
// ivclient.ErrClosed, ends every subscription with such an error, and
// returns when every goroutine of the transport has finished.
package stompx
