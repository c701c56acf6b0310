package ivtest

import (
	"context"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/fakeplatform"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// Platform is a running fake InstantVoice platform. Its methods are safe
// for concurrent use.
type Platform struct {
	p *fakeplatform.Platform
}

// Start runs a fake InstantVoice platform on loopback: a STOMP broker with
// the platform's request processor on it (or the processor alone, attached
// to WithExternalBroker), and an IVWS SOAP endpoint serving its WSDL. It
// returns when the processor's subscription is in place, so the first
// request sent after it returns is served. Close stops it. A nil option
// is an error matching ivclient.ErrInvalidArgument.
func Start(opts ...Option) (*Platform, error) {
	p, err := fakeplatform.Start(opts...)
	if err != nil {
		return nil, err
	}
	return &Platform{p: p}, nil
}

// NewPlatform is Start for tests: it fails tb on error and closes the
// platform in tb.Cleanup.
func NewPlatform(tb testing.TB, opts ...Option) *Platform {
	tb.Helper()
	p, err := Start(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// STOMPAddr returns the broker's address, "127.0.0.1:port".
func (p *Platform) STOMPAddr() string { return p.p.STOMPAddr() }

// SOAPURL returns the IVWS endpoint, "http://127.0.0.1:port/"; the WSDL is
// at SOAPURL()+"?wsdl".
func (p *Platform) SOAPURL() string { return p.p.SOAPURL() }

// Key returns an access key allowed to call every method.
func (p *Platform) Key() string { return p.p.Key() }

// Close stops the SOAP endpoint, the processor (after publishing the
// replies to the requests it has read) and the embedded broker, and waits
// for every goroutine of the platform to return. Connections of clients
// still attached to the embedded broker are closed. Close is idempotent.
func (p *Platform) Close() error { return p.p.Close() }

// Reset returns the platform to the state Start gave it, for a test that
// must not see what an earlier one did: every call in progress ends with
// HANGUP (MSSTART, the reason the platform gives the calls that a
// restarting media server leaves behind), every agent still logged in is
// logged off with LOGOUT, the state (agents, queues, SIP
// users, permission groups, pause reasons, SMS, callbacks, the NewCall
// outcome) is replaced by the one the options describe, the seeds
// (WithSeed, WithAgent, ...) run again, and the request log,
// DropReplies and DelayReplies are cleared. Keys, the broker, its connections and
// subscriptions (and their queues), the ReplyFunc, Stats, Lenient and a
// PauseRequests in force are kept. It returns once the
// events it caused have reached the broker. Requests served while it runs
// may see a platform whose seeds have not all run yet.
func (p *Platform) Reset() error { return p.p.Reset() }

// Do runs one platform method directly, without a transport, with the key
// of Key. It returns the reply payload (a description string, a list or a
// map with the reference's JSON field names) or, for a non-zero return code,
// a *codes.Error. Events the method causes are published as usual.
func (p *Platform) Do(method string, args map[string]any) (any, error) { return p.p.Do(method, args) }

// Agents returns every agent, by accountcode then in the order added.
func (p *Platform) Agents() []AgentState { return p.p.Agents() }

// Queues returns every queue with its members, by accountcode then in the
// order added.
func (p *Platform) Queues() []QueueState { return p.p.Queues() }

// Calls returns the calls in progress, oldest first.
func (p *Platform) Calls() []Call { return p.p.Calls() }

// SentSMS returns the text messages sent with SendSms, oldest first.
func (p *Platform) SentSMS() []SMS { return p.p.SentSMS() }

// CallBacks returns the callback list NewCallBack appends to, oldest first;
// LocationID and QueueID are the permission group's and the queue's ids,
// when given.
func (p *Platform) CallBacks() []ivclient.CallBack { return p.p.CallBacks() }

// InboundCall plays a call from callerID that reaches agent user, from the
// queue named queue (empty for a direct call). The agent gets NEWCALL
// (INBOUND, callerid callerID) and, if o answers, CONNECT; the call then
// stays up until EndCall (or the Hangup method), or ends at once with o's reason (use QueueMissed
// for a queue call the agent did not answer). The agent must be logged in
// and not paused, and a member of the queue. It returns the call's
// uniqueid once the events have reached the broker.
//
// The call takes the agent's lowest free line enabled for inbound calls.
// An agent whose lines all have a call is busy: the platform does not ring
// it (it gets no event; a direct caller hears busy, a queue rings another
// member), and InboundCall returns a *codes.Error with
// RESPONSE_ITEM_FULL. One whose lines all disable inbound calls gets
// RESPONSE_DISABLED.
func (p *Platform) InboundCall(accountcode, queue, user, callerID string, o Outcome) (string, error) {
	return p.p.InboundCall(accountcode, queue, user, callerID, o)
}

// OutboundCall plays the NewCall flow for a logged-in agent, as the NewCall
// method does but with the outcome given: NEWCALL (OUTBOUND, callerid
// exten) and CONNECT on the agent's leg, DNEWCALL and, if o answers,
// DCONNECT for the remote party. It returns the call's uniqueid once the
// events have reached the broker. The call takes the agent's lowest free
// line enabled for outbound calls. When each has a call the agent is busy
// and, as with the NewCall method, the call still starts but ends at once:
// the agent gets NEWCALL (OUTBOUND) and HANGUP (BUSY), no DNEWCALL, and o
// is not used; OutboundCall returns that call's uniqueid and no error.
// Lines all disabled for outbound calls fail with RESPONSE_DISABLED.
func (p *Platform) OutboundCall(accountcode, user, exten string, o Outcome) (string, error) {
	return p.p.OutboundCall(accountcode, user, exten, o)
}

// AgentCall plays a call from agent from to agent to, both of accountcode
// and logged in. Each agent receives only its own events, on its own leg
// with its own uniqueid: from gets NEWCALL (OUTBOUND, callerid to's
// number), to gets NEWCALL (INBOUND, callerid from's number); if o
// answers, to then from get CONNECT. Hanging up either leg ends both. It
// returns the uniqueids of from's and to's legs.
//
// Each leg takes a free line of its agent (from's enabled for outbound
// calls, to's for inbound ones). When to is busy, every such line with a
// call, to is not rung: from gets NEWCALL (OUTBOUND) and HANGUP (BUSY),
// and toID is empty. When from is busy it fails with RESPONSE_ITEM_FULL.
func (p *Platform) AgentCall(accountcode, from, to string, o Outcome) (fromID, toID string, err error) {
	return p.p.AgentCall(accountcode, from, to, o)
}

// AnswerCall answers a call that Ring left ringing: an inbound call's
// agent gets CONNECT; an outbound call's remote party answers (DCONNECT);
// in an agent-to-agent call the called agent answers, and both get
// CONNECT. A call already answered is an error.
func (p *Platform) AnswerCall(uniqueID string) error { return p.p.AnswerCall(uniqueID) }

// TransferCall redirects every answered call of agent user to exten, as
// the BlindTransfer method does: each of the agent's legs ends with HANGUP
// (BTRANSFER); when exten is another logged-in agent of the accountcode, or
// a queue with a logged-in, unpaused member, that agent gets NEWCALL
// (INBOUND, the remote party's caller id) and CONNECT. It returns the
// uniqueids of the new legs.
func (p *Platform) TransferCall(accountcode, user, exten string) ([]string, error) {
	return p.p.TransferCall(accountcode, user, exten)
}

// EndCall ends the call with the given uniqueid with reason, one of the 14
// hangup reasons (events.HangupReasons). Every leg of the call gets HANGUP
// with the reason.
func (p *Platform) EndCall(uniqueID, reason string) error { return p.p.EndCall(uniqueID, reason) }

// SetNewCallOutcome sets how the remote party answers the calls that later
// NewCall requests place (see Outcome).
func (p *Platform) SetNewCallOutcome(o Outcome) error { return p.p.SetNewCallOutcome(o) }

// PublishEvent publishes e as the platform would, on the topic of e.Agent
// (and on the all-agents topics of the embedded broker). The body has the
// fields direction, callerid, type, uniqueid and agent, "reason" when e has
// one, and e.Extra's fields; e.Raw, e.Topic and e.Received are ignored. It
// returns once the event is queued, as PublishRaw does.
func (p *Platform) PublishEvent(e events.Event) error { return p.p.PublishEvent(e) }

// PublishRaw publishes body, as it is, on topic (a destination such as
// "/topic/iv.agents.default_1001", or "/topic/<key>" to inject a reply). It
// returns once the message is queued behind everything published before.
// Nothing checks the body: it is the way to feed a client malformed events
// and replies.
func (p *Platform) PublishRaw(topic string, body []byte) error { return p.p.PublishRaw(topic, body) }

// Sync waits until every reply and event the platform has produced so far
// has been accepted by the broker: a subscriber to their topics gets them
// before anything published after Sync returns.
func (p *Platform) Sync(ctx context.Context) error { return p.p.Sync(ctx) }

// DropReplies makes the platform act on the next n requests but withhold
// their replies, so that a test can prove that a reply that never comes
// ends in the caller's deadline. With methods, only replies to those
// methods are withheld (and counted). DropReplies(0) cancels.
func (p *Platform) DropReplies(n int, methods ...string) { p.p.DropReplies(n, methods...) }

// DelayReplies makes the platform act on the next n requests at once but
// hold their replies for d (a SOAP response included), so that a test can
// see a slow platform; with methods, only requests for those methods. A
// reply held past the caller's deadline arrives late, as the platform's
// would. DelayReplies(0, 0) cancels; DropReplies applies first.
func (p *Platform) DelayReplies(n int, d time.Duration, methods ...string) {
	p.p.DelayReplies(n, d, methods...)
}

// SetReplyFunc installs f for every following request; nil restores plain
// replies. DropReplies is applied first.
func (p *Platform) SetReplyFunc(f ReplyFunc) { p.p.SetReplyFunc(f) }

// PauseRequests stops the platform from taking requests off its request
// queue, as if its consumer were down, until ResumeRequests: requests wait
// in the embedded broker's queue, and those sent with an expiration header
// (stompx sends one from the call's deadline) are dropped when it passes,
// never executed. Replies and events already produced are still published.
// It returns an error with WithExternalBroker.
func (p *Platform) PauseRequests() error { return p.p.PauseRequests() }

// ResumeRequests ends PauseRequests: the requests still waiting, and not
// expired, are served in order.
func (p *Platform) ResumeRequests() error { return p.p.ResumeRequests() }

// Requests returns the requests received so far, oldest first (at most the
// last 10,000).
func (p *Platform) Requests() []Request { return p.p.Requests() }

// Stats returns the platform's counters.
func (p *Platform) Stats() Stats { return p.p.Stats() }

// Lenient returns what the platform accepted leniently since it started,
// by kind, the most frequent first (see Request.Lenient). Reset keeps it,
// as it keeps Stats.
func (p *Platform) Lenient() []LenientCount { return p.p.Lenient() }

// Watch calls fn with every Notice from now until stop is called. fn runs
// on the goroutine that published or served, at times with the platform's
// lock held: it must return quickly and must not call the Platform. stop
// is idempotent; once it returns, fn is not called again.
func (p *Platform) Watch(fn func(Notice)) (stop func()) { return p.p.Watch(fn) }

// BrokerQueue describes the queue name of the embedded broker: the queue
// of a durable subscription (its x-queue-name; stompx names the queue of
// SubscribeDurable's name "iv.events.<name>"), or Q for /queue/Q. It
// reports false when no such queue exists (deleted, expired, never made),
// and always with WithExternalBroker. Messages whose expiry has passed are
// counted as Expired, not Ready.
func (p *Platform) BrokerQueue(name string) (BrokerQueue, bool) { return p.p.BrokerQueue(name) }
