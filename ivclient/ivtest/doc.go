// Package ivtest runs a fake InstantVoice platform in-process, for tests,
// examples and programs that need a platform to talk to.
//
// A Platform is a STOMP broker on a free loopback port with the platform's
// request processor attached to it, and an IVWS SOAP endpoint. The processor
// implements all 41 integration methods of the platform's reference over
// real state (accountcodes, agents with their lines, queue memberships and
// status, queues, SIP users, permission groups, calls), answers with the
// platform's return codes and reply shapes, and publishes the call events
// the reference describes.
//
//	func TestLogin(t *testing.T) {
//		p := ivtest.NewPlatform(t, ivtest.WithAgent("default", "1001", "", "Alice"))
//		tr, err := stompx.Dial(ctx, p.STOMPAddr())
//		...
//		c, err := ivclient.New(tr, p.Key())
//		err = c.AgentLogin(ctx, "default", "default_1001", "SIP/default_0001")
//	}
//
// Start is the same for programs; Close stops everything and leaves no
// goroutine behind. Many platforms can run in one process. To reach the
// same platform from another process or language, run it as a server with
// go run ./examples/simulator (STOMP on 127.0.0.1:61613, IVWS on
// http://127.0.0.1:7789/).
//
// # Guarantees
//
//   - Concurrency: every method of Platform is safe for concurrent use, and
//     requests from any number of clients and keys are served at once.
//   - Readiness: Start (and NewPlatform) returns once the processor's
//     subscription is in place, so the first request sent after it is
//     served. The call flows return once their events have reached the
//     broker; PublishRaw and PublishEvent once their message is queued
//     behind everything published before; Sync waits until all of it has
//     reached the broker.
//   - Order: each agent's events are published in order, and the events a
//     request causes are published before its reply.
//   - Close is idempotent, answers the requests already read, closes the
//     connections of clients still attached, and waits for every goroutine.
//   - Secrets: the platform never logs access keys or passcodes.
//
// Where the fake differs from the platform: the embedded broker matches
// topics exactly (see STOMP below). Over IVWS the action methods return
// their code as their xs:integer result and the *InfoPermission methods
// as {code, location}, as the reference shows; an Info or List method that
// fails answers a SOAP fault whose faultcode names the code
// (SOAP-ENV:Client.RESPONSE_NOT_FOUND), where the reference shows no
// failure at all. Like the platform, it gives AgentInfo's user and
// QueueInfo's name as "<accountcode>_<number>" over STOMP and as the bare
// number over IVWS.
//
// # State
//
// A new platform has the accountcode "default" (WithAccountcodes adds
// more), the pause reasons 1 "Break", 2 "Lunch" and 3 "Meeting"
// (WithPauseReason), and no agents, queues, SIP users or permission groups
// unless seeded (WithAgent, WithQueue, WithSipUser, WithPermissionGroups,
// WithSeed, or Do at any time). Key returns a key allowed every method;
// WithKey adds keys limited to some methods.
//
// Numbers (agent users, queue and SIP user names) identify by value: "0015"
// and "15" name the same queue, as they would in the platform's integer
// columns, and are shown as given except where the reference shows numbers
// (AgentList, AgentQueueList's "name"). Agent users are accepted as the
// bare number ("1001") or as "<accountcode>_<number>" ("default_1001").
// Argument names match case-insensitively and with the aliases the
// platform's two interfaces use (User/Agent, pass/passwd,
// call-limit/call_limit, ignoreregexpire/ignoreexpire,
// requiresendinfo/requisendinfo); an empty value counts as absent, as IVWS
// sends empty elements for unset fields; numbers may be sent as JSON
// numbers or strings. A name the reference does not give the argument over
// the transport the request came on (User in a NewCall over STOMP, whose
// example has Agent; Agent over IVWS, whose XML has User) is accepted but
// counted as lenient: see Lenient below.
//
// # Return codes
//
// Every method checks, in order: the method exists (else RESPONSE_INVALID);
// the key may call it (else PERMISSION_DENIED, also for unknown keys); the
// mandatory arguments are there (else RESPONSE_MISSING_ARGS); the values make
// sense, a number where the reference asks for an integer, yes/no where it
// asks for yes or no, and so on (else RESPONSE_INVALID); the targets exist,
// accountcode, agent, queue, SIP user, line, membership, permission group,
// pause number, call uniqueid (else RESPONSE_NOT_FOUND); then the method's
// own rules:
//
//   - creating what exists (an agent, queue, SIP user, line or membership),
//     AgentAddPermission/SipUserAddPermission when a group is already set,
//     NewCallBack for a number already on the callback list:
//     RESPONSE_DUPLICATE.
//   - AgentLogin of a logged-in agent, AgentLogoff of a logged-off one,
//     AgentPause of a paused one, AgentUnpause of one that is not paused:
//     RESPONSE_DUPLICATE (the request repeats one already acted on).
//   - AgentPause, AgentUnpause, NewCall and BlindTransfer for an agent who
//     is not logged in: RESPONSE_NOT_ALLOWED.
//   - AgentLogin beyond WithLicensedAgents' number of logged-in agents:
//     RESPONSE_NO_LICENSE.
//   - NewCall for an agent whose lines are all disabled for outbound
//     calls: RESPONSE_DISABLED ("an agent must have at least one line
//     configured to make and receive calls"); the call flows refuse a
//     direction the agent's lines disable the same way, and a blind
//     transfer does not reach such an agent.
//   - AgentLineDelete of a line that has a call: RESPONSE_NOT_ALLOWED.
//   - QueueDelete of a queue that has members: RESPONSE_NOTEMPTY ("this
//     request requires the target to be empty").
//   - AgentDelete of a logged-in agent: RESPONSE_NOT_ALLOWED (the reference
//     is silent; a real ACD most likely refuses it, as it refuses to
//     renumber one).
//   - AgentLineDelete of an agent's only line and AgentQueueDelete of its
//     only queue, which the reference forbids: RESPONSE_NOT_ALLOWED ("the
//     server is not allowed to perform the requested operation").
//   - AgentModify that renumbers or moves a logged-in agent, or moves an
//     agent with queue memberships to another accountcode; QueueModify that
//     moves a queue with members to another accountcode: RESPONSE_NOT_ALLOWED.
//   - BlindTransfer for an agent with no answered call: RESPONSE_ITEM_EMPTY.
//   - *DeletePermission, *ModifyPermission and *InfoPermission when no group
//     is set: RESPONSE_NOT_FOUND.
//
// AgentDelete also removes the agent's memberships and permission group,
// and ends with HANGUP (UNKNOWN) a call the agent kept after logging off.
// Success replies carry "Successful <Method>", or the payload of a list or
// info method.
//
// # STOMP
//
// The processor reads requests on /queue/config (WithRequestQueue) and
// replies on /topic/<key> with [code, payload, "identifier"], the
// identifier only when the request carried one. A request that is not an
// array, or whose arguments are not an object, or that is not JSON at all
// (the reference's own examples with a missing comma or "1',"), gets
// RESPONSE_INVALID when a lenient scan can read its key (and its
// identifier, when the body ends with `}, "identifier"]`); one with no
// usable key (none, an empty one, or one with spaces, control characters
// or '/') is dropped and counted in Stats().Malformed. Replies are JSON; WithPythonLists prints the lists of
// QueueList and SipUserList the way the reference shows them,
// [0, ['1002', '0015']].
//
// It reads on one connection and publishes on another, through an
// unbounded queue, so it never blocks the goroutine that reads requests
// and never sends on the connection it reads (go-stomp's client deadlocks
// when it does under load). The embedded broker is written on go-stomp's
// frame package rather than on its server package, whose single routing
// goroutine blocks on a slow client: that deadlocks when one connection
// pipelines more than about 144 requests, can wedge when a subscriber
// leaves while its topic is published, and cannot be stopped (server.Serve
// never returns). This broker never waits on a client: each connection has
// its own writer goroutine and queue, and a client that stops reading for
// good (64 MiB queued) is sent an ERROR and disconnected. It supports STOMP
// 1.0 to 1.2, heart-beats, receipts on every frame (a receipt proves the
// broker has acted on the connection's earlier frames, SUBSCRIBE included),
// and transactions. Like go-stomp's server it matches plain topic
// subscriptions exactly, so every event is published to the agent's topic
// and to the literal wildcard topic events.AllAgents, "/topic/iv.agents.#"
// (WithEventWildcards adds ">" or others).
//
// Queues and acknowledgements behave as on RabbitMQ 3.10, so that workers
// using durable subscriptions (stompx.SubscribeDurable) can be tested
// without RabbitMQ: a SUBSCRIBE to a topic pattern with durable:true,
// auto-delete:false and x-queue-name:Q makes (or joins) the named queue Q,
// bound to the pattern with RabbitMQ's topic matching ('#' zero or more
// words, '*' one); another topic on the same name adds a binding, and
// bindings outlive every consumer until the queue is deleted (UNSUBSCRIBE
// with durable:true and x-queue-name, or x-expires). Events published
// while nobody consumes wait in the queue; consumers share it round robin
// within their prefetch-count; ack:client-individual deliveries are
// settled by ACK, requeued by NACK, and requeued for the next consumer,
// redelivered:true, when their connection ends. A topic subscription
// with client acks and no queue name has a queue of its own, as on
// RabbitMQ: its prefetch-count holds, NACK requeues, and what it left
// unsettled goes with it. NACKed and returned messages go back where
// RabbitMQ puts them (a classic queue: in their places; a quorum queue: a
// NACKed one at the tail). A SUBSCRIBE with exclusive:true and
// x-queue-name makes a queue owned by its connection and deleted with it:
// another connection that asks for it gets RabbitMQ's resource_locked
// ERROR and is closed, as on RabbitMQ. /amq/queue/<name>
// sends to and consumes one existing queue. The queue arguments
// x-max-length, x-max-length-bytes, x-message-ttl, x-expires,
// x-dead-letter-exchange ("" or "amq.topic"), x-dead-letter-routing-key
// and x-queue-type apply, and a SUBSCRIBE whose arguments differ from the
// queue's is refused with RabbitMQ's precondition_failed text; so is an
// ACK of an unknown delivery, which closes the connection. A SEND's
// expiration header (milliseconds) drops the message if it waits longer,
// /queue/config included (PauseRequests shows it). Every queue holds at
// most 100,000 messages, or 64 MiB of bodies, waiting or unacknowledged;
// past either the oldest waiting are dropped and counted
// (Stats.BrokerOverflows, BrokerQueue.Dropped); give a durable
// subscription stompx.WithMaxBacklog for a lower bound. BrokerQueue shows
// a queue's state. The details, and what was verified on RabbitMQ, are in
// the module's internal/fakebroker.
//
// WithExternalBroker attaches the processor to another broker, RabbitMQ
// for instance, which routes wildcards itself; the processor then
// publishes each event to its agent's topic only, and reconnects by itself
// when the broker restarts.
//
// # Events and call flows
//
// AgentLogin, AgentLogoff, AgentPause (with the pause's description in
// "direction") and AgentUnpause publish LOGIN, LOGOUT, PAUSE and UNPAUSE.
// NewCall publishes NEWCALL (OUTBOUND) and CONNECT for the agent's leg,
// then DNEWCALL and DCONNECT for the remote party; the call stays up until
// Hangup (the method, which ends it with BYCALLER, or BYCALLEE for an
// inbound call, or Platform.EndCall with any reason), unless
// WithNewCallOutcome / SetNewCallOutcome chose another Outcome. Events are
// JSON objects with direction, callerid, type, uniqueid and agent, and
// reason on HANGUP; each agent's events are published in order, and the
// events a request causes are published before its reply.
//
// # Lines and calls
//
// An agent line carries one call at a time, as a phone line does: a call
// to or from an agent takes its lowest-numbered free line enabled for the
// call's direction, and frees it when it ends. AgentLineList shows a line
// with a call as RINGING (an inbound call not yet answered) or INUSE, with
// the call's uniqueid, the id of the queue it came from (queues_id) and
// when the status changed (linestatusts); an idle line shows IDLE, as in
// the reference, which shows no other value: RINGING and INUSE are
// Asterisk's extension states, of which IDLE is one. AgentInfo keeps the
// agent's status (LOGIN, or PAUSE: a paused agent may still be on a call)
// during a call: the reference shows no status for an agent on a call,
// and gives the call's state to the lines.
//
// A busy agent, each of whose lines for the direction has a call, takes
// no other. NewCall ("this method call the agent and then call the
// destination"; "We always return 0 on success") is accepted with code 0
// and the call ends at once: the platform calls the agent's phone first
// and finds it busy, so the agent's topic gets NEWCALL (OUTBOUND) and
// HANGUP (BUSY, "The destination was busy") on a leg that holds no line,
// and no DNEWCALL; the call in progress is untouched. OutboundCall plays
// the same and returns that leg's uniqueid. InboundCall does not ring a
// busy agent and returns RESPONSE_ITEM_FULL (the caller would hear busy);
// an AgentCall to it ends the caller's leg with HANGUP (BUSY), one from it
// gets RESPONSE_ITEM_FULL; a blind transfer to a queue passes it over for
// the next member.
//
// An agent with no line configured (AgentAdd makes none: the reference's
// AgentLineAdd example adds line 1 to the agent its AgentAdd example made)
// could neither make nor receive calls on the platform. The fake takes it
// to have the default line 1, both ways, so that tests that never
// configure lines keep working, and counts each such call as lenient.
//
// # Lenient
//
// What the fake accepts that the platform, as its reference describes it,
// might refuse is served, but counted by kind (Lenient, Stats.Lenient),
// marked on the request (Request.Lenient), shown in the simulator's
// console, and logged at Info the first time a kind is seen (Debug after):
// an argument under a name the reference does not give it over that
// transport, and a call of an agent with no line. A test that holds its
// code to the reference asserts that Lenient is empty; ivclient sends the
// reference's names over each transport, so it adds nothing to it.
//
// Tests and programs play calls with InboundCall, OutboundCall, AgentCall,
// TransferCall and EndCall (a call played with Ring rings until
// AnswerCall); each returns once its events have reached the broker.
// PublishRaw and PublishEvent publish anything, malformed included;
// DropReplies withholds replies and DelayReplies holds them (over STOMP and
// IVWS), SetReplyFunc rewrites them (over STOMP); Requests and Stats show
// what the platform received and did, Agents, Queues and Calls its state,
// and Watch each event and request as it happens (the simulator's console
// is built on these); Sync waits until everything produced so far has
// reached the broker; Reset returns the platform to its seeds between
// tests.
//
// # The broker in this API
//
// A partner's test talks to the platform, not to its broker, and ivtest
// shows the embedded broker only where such a test needs it:
//
//   - PauseRequests and ResumeRequests play the platform's consumer being
//     down: a test proves that a request whose deadline passed while it
//     waited is never executed, and that a caller that retries does not
//     act twice. DropReplies and DelayReplies cannot show this: the
//     platform acts on those requests.
//   - BrokerQueue shows a durable subscription's queue (stompx.
//     SubscribeDurable, events.Consume): a worker's test waits for its
//     bindings before publishing, and checks that nothing is left
//     unacknowledged or ready after a restart, or that an overflow was
//     dropped (Dropped), without RabbitMQ's management API.
//   - Stats.BrokerOverflows counts what the embedded broker dropped from
//     full queues, so that a test missing events can tell a drop from a
//     bug in its own consumer: every drop is counted somewhere a test can
//     read it.
//
// The broker's limits (100,000 messages, 64 MiB a queue) are stated above
// rather than exported: a test that needs an overflow sets a lower bound
// with stompx.WithMaxBacklog or x-max-length.
//
// # Where the code is
//
// ivtest is the part a partner's test uses: Platform, Start, NewPlatform,
// the options, and the values the platform reports (Request, Notice,
// Stats, ...), which are named here and defined with the platform's state.
// The rest is in the module's internal packages, which the simulator
// (go run ./examples/simulator, ivctl sim) also runs on, without the
// testing package: internal/fakeplatform is the platform's state, its 41
// methods, the call flows and fault injection; its processor package
// serves them over STOMP, and internal/fakeivws over IVWS (SOAP, with the
// WSDL); internal/fakebroker is the embedded STOMP broker.
package ivtest
