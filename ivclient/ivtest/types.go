package ivtest

import "github.com/instantvoice/instantvoice-go/internal/fakeplatform"

// The values a Platform reports. They are defined with the platform's
// state, in the module's internal/fakeplatform, and named here; go doc
// shows an alias without its fields, so each is spelled out below.

// Request is one request the platform received, over STOMP or SOAP:
//
//	Method      string         // as sent; empty when the request was too broken to say
//	Key         string         // the access key
//	Args        map[string]any // as decoded: strings, json.Number, []any, map[string]any
//	ID          string         // the identifier, when HasID
//	HasID       bool           // whether the request carried an identifier
//	Body        []byte         // the message body as received
//	Code        codes.Code     // the return code the platform answered with
//	Description string         // the description of a non-zero Code, as the reply carries it
//	Transport   string         // "stomp" or "soap"
//	Time        time.Time      // when the platform answered (its clock, WithClock)
//	Lenient     []string       // what it accepted that the reference does not describe (see Platform.Lenient); nil for most
type Request = fakeplatform.Request

// A ReplyFunc rewrites the platform's reply to one request. reply is the
// encoded reply, [code, payload, "identifier"]; the function returns the
// bodies to publish on the request's reply topic, in order. Returning none
// withholds the reply; returning other bodies (malformed JSON, another
// request's identifier, the same reply twice, a huge body) feeds a client
// hostile replies. It runs on the processor's goroutine: it must not block.
//
//	type ReplyFunc func(req Request, reply []byte) [][]byte
type ReplyFunc = fakeplatform.ReplyFunc

// AgentState is an agent as the platform holds it:
//
//	Accountcode string
//	User        string    // the agent's number, as added
//	Name        string    // AgentAdd's name
//	Status      string    // "LOGOFF", "LOGIN" or "PAUSE", as AgentInfo reports it
//	PauseReason string    // the pause reason's description, when paused
//	Interface   string    // the login interface, when logged in
//	Since       time.Time // when Status last changed (the platform's clock, to the second)
//	Lines       int       // the agent's lines; with none it can neither take nor place a call
//	Queues      []string  // the queues it is a member of, in the order added
type AgentState = fakeplatform.AgentState

// QueueState is a queue and its members:
//
//	Accountcode string
//	Name        string
//	Members     []string // agent numbers, by priority then in the order added
type QueueState = fakeplatform.QueueState

// Call is one agent's side of a call in progress:
//
//	UniqueID    string
//	Accountcode string
//	Agent       string    // "<accountcode>_<number>"
//	Direction   string    // "INBOUND" or "OUTBOUND"
//	CallerID    string    // the remote party: the caller of an inbound call, what the agent dialed otherwise
//	Answered    bool
//	Peer        string    // the other agent's uniqueid in an agent-to-agent call
//	ExternalID  string    // NewCall's External_id
//	Started     time.Time // when the agent's leg began (the platform's clock)
type Call = fakeplatform.Call

// SMS is a text message sent with SendSms:
//
//	Accountcode string
//	Number      string
//	Text        string
type SMS = fakeplatform.SMS

// Notice is one thing the platform did, as Watch reports it: it published
// an event (Topic is the agent's topic, Body the event as sent) or a raw
// message (Raw, from PublishRaw), or it served a request (Request, over
// STOMP or SOAP):
//
//	Time    time.Time // the platform's clock
//	Topic   string
//	Body    []byte // shared: do not modify
//	Raw     bool
//	Request *Request
type Notice = fakeplatform.Notice

// Stats counts what the platform has done:
//
//	Requests        int64 // messages read from the request queue
//	SOAPRequests    int64 // operations POSTed to the IVWS endpoint
//	Replies         int64 // replies published (each body a ReplyFunc returns counts)
//	DroppedReplies  int64 // replies withheld by DropReplies or a ReplyFunc
//	Malformed       int64 // requests dropped unanswered: they named no key to reply to
//	Events          int64 // events published, each counted once however many topics carry it
//	PublishErrors   int64 // messages the broker refused or lost
//	Reconnects      int64 // times the processor replaced a lost broker connection
//	Lenient         int64 // acceptances the reference does not describe, each kind once per request (Platform.Lenient)
//	BrokerOverflows int64 // messages the embedded broker dropped from full queues (see BrokerQueue)
type Stats = fakeplatform.Stats

// LenientCount is how many times the platform accepted one kind of
// request that the platform's reference does not describe:
//
//	Kind  string // "NewCall over STOMP: user for Agent", "an agent with no line configured took a call on line 1"
//	Count int64
type LenientCount = fakeplatform.LenientCount

// BrokerQueue describes one queue of the embedded broker (see
// Platform.BrokerQueue):
//
//	Name      string            // the queue's name: x-queue-name, or Q for /queue/Q
//	Durable   bool              // declared durable:true
//	Bindings  []string          // the topics bound to it, "/topic/iv.agents.#", in the order they were bound
//	Args      map[string]string // the queue arguments it was declared with, "x-max-length": "5"
//	Ready     int               // messages waiting for a consumer
//	Unacked   int               // messages delivered and not yet acknowledged
//	Consumers int               // subscriptions consuming it
//	Dropped   uint64            // oldest messages dropped: x-max-length, x-max-length-bytes or the broker's bound
//	Expired   uint64            // messages dropped because their TTL or expiration passed while they waited
type BrokerQueue = fakeplatform.BrokerQueue

// Outcome says how the called party responds in a call flow.
//
// Answer (the empty outcome) answers the call, which then stays up until
// EndCall or the Hangup method. An outcome named after an unanswered hangup
// reason (NOANSWER, BUSY, FAILED, UNKNOWN, QUEUEGIVEUP, QUEUEMISSED, PICKUP)
// ends the call before it is answered, with a HANGUP carrying that reason.
// Any other hangup reason (BYCALLER, BYCALLEE, ATRANSFER, BTRANSFER, MSSTOP,
// MSSTART, MSGONE) answers the call and ends it at once with that reason.
// Ring leaves the call ringing until AnswerCall or EndCall.
type Outcome = fakeplatform.Outcome

// Common outcomes; any of the 14 hangup reasons is an Outcome too, for
// example Outcome(events.ReasonByCallee).
const (
	Answer      = fakeplatform.Answer
	NoAnswer    = fakeplatform.NoAnswer
	Busy        = fakeplatform.Busy
	Failed      = fakeplatform.Failed
	QueueMissed = fakeplatform.QueueMissed
	QueueGiveUp = fakeplatform.QueueGiveUp
	Ring        = fakeplatform.Ring // not a hangup reason: the call rings until AnswerCall or EndCall
)
