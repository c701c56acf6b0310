// Package events decodes InstantVoice call events, delivers them through
// subscriptions, and folds them into call records and agent states.
//
// The platform publishes a JSON object on /topic/iv.agents.<accountcode>_<number>
// for every call and agent state change: NEWCALL, DNEWCALL, CONNECT, DCONNECT,
// HANGUP, LOGIN, LOGOUT, PAUSE and UNPAUSE. Decode turns one into an Event;
// a Subscription (from stompx.Transport.Subscribe or ivclient.Client.Subscribe)
// delivers them on a channel. (A transport of your own makes Subscriptions
// with a Feed.)
//
// A minimal consumer:
//
//	s, err := client.Subscribe(ctx, events.AllAgents)
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//	for ev := range s.C() {
//		fmt.Println(ev.Agent, ev.Type, ev.UniqueID, ev.Reason)
//	}
//	return s.Err() // why the subscription ended
//
// The state this package keeps for you, fed with Apply or with Run:
//   - Tracker folds events into calls (Call: agent, direction, caller id, the
//     time of each event, hangup reason, ring and talk durations) and hands
//     over each finished call once, expiring calls whose HANGUP never comes;
//   - Board knows every agent's state: logged in, paused, on a call, since when;
//   - Poller returns the events since the last poll as the old COM client's
//     PollEvents JSON.
//
// Production consumers, on a durable subscription (stompx's
// SubscribeDurable, with WithSingleActive for one worker at a time):
//   - Consume hands each event to a Handler that returns an error, and
//     settles (Subscription.Ack) the event only after the handler returned
//     nil. An agent's events are handled in order, one at a time; agents run
//     concurrently on WithLanes goroutines. A failed event is tried again in
//     place, after a doubling backoff, while its agent's later events wait
//     (WithRetry, never holding it unsettled past WithMaxHold); after the
//     last attempt it is dead-lettered (Subscription.Reject, with the
//     handler's error) where the transport can, otherwise acked and reported
//     to the subscription's error handler as a drop, and the agent goes on.
//   - ConsumeCalls folds the events into calls, as a Tracker does, and hands
//     each call over whole, once, settling its events only after the handler
//     returned nil for it: a worker that dies mid-call leaves them with the
//     broker, and the next worker finishes the call. Calls that never end are
//     handed over Expired, long ones Open (before the broker's
//     consumer_timeout), and a call handed over twice (after a worker died
//     while settling it) has Redelivered set.
//
// A worker that writes call records:
//
//	err := events.ConsumeCalls(ctx, sub, func(ctx context.Context, c events.Call) error {
//		return db.MergeCallRecord(ctx, c) // an error: tried again, then dead-lettered
//	}, events.WithLanes(16))
//
// Delivery is at least once: a handler may see an event (or a call) again
// after a crash or a lost connection, marked Redelivered; make it
// idempotent, keyed by Agent and UniqueID. A Redelivered call may also be
// partial: after a takeover the new worker may receive only the events its
// predecessor left unsettled (a HANGUP alone, say), so a call record is
// merged, never overwritten: a field the call leaves empty (Direction,
// CallerID, NewCallAt, ...) keeps what the record holds. The platform's
// events carry no timestamp: times are when the consumer received them,
// redelivery times for redelivered events (see Call).
//
// Topics: AgentTopic("default", "1001") is one agent's; AllAgents
// ("/topic/iv.agents.#") is every agent's on RabbitMQ, the platform's broker.
// On ActiveMQ, whose wildcard is '>', use AllAgentsTopic(">"), or dial stompx
// WithWildcard(">"), which rewrites AllAgents for you.
//
// Guarantees:
//   - Order is per topic only: the events of one topic arrive in the order
//     the broker delivered them; a subscription to several topics may
//     interleave them in any order, and an event that matches two of its
//     topics (an agent's topic and AllAgents) arrives twice.
//   - Decode never panics, keeps unknown types and fields, and fails only on
//     a body that is not a JSON object; a Subscription counts such bodies
//     (Malformed) and goes on.
//   - A Subscription never blocks its transport unless made blocking
//     (stompx.WithBlockingEvents) or settled by Ack (a durable one):
//     a consumer that falls behind loses the events beyond the buffer, and
//     they are counted (Dropped) and signalled (ErrSlowConsumer, once per
//     slow period).
//   - Reconnection is the transport's: stompx restores a subscription
//     behind the same *Subscription after the connection drops, so C stays
//     open, but the events published while it was down are lost (a durable
//     subscription, stompx.Transport.SubscribeDurable, keeps them). C is closed
//     only when the consumer calls Close or the transport ends the
//     subscription for good; Err then says why.
//   - Close is idempotent, and Err is set before C is closed. Run returns
//     when ctx is done or the subscription ends. Consume and ConsumeCalls
//     start their lanes' goroutines and wait for every one before they
//     return; nothing else here starts a goroutine.
//   - Subscription, Tracker, Board and Poller are safe for concurrent use;
//     Tracker, Board and Poller are bounded in memory.
package events

import (
	"strings"
)

// Type is the type of a call event.
type Type string

// The event types the platform sends.
const (
	NewCall  Type = "NEWCALL"  // a new call for the agent
	DNewCall Type = "DNEWCALL" // NewCall method: the remote party is being called
	Connect  Type = "CONNECT"  // the call was answered by the destination
	DConnect Type = "DCONNECT" // NewCall method: the remote party answered
	Hangup   Type = "HANGUP"   // the call ended; Reason says why
	Login    Type = "LOGIN"    // the agent logged in
	Logout   Type = "LOGOUT"   // the agent logged out
	Pause    Type = "PAUSE"    // the agent paused; Direction holds the pause description
	Unpause  Type = "UNPAUSE"  // the agent unpaused
)

// Known reports whether t is one of the types the reference defines.
func (t Type) Known() bool {
	switch t {
	case NewCall, DNewCall, Connect, DConnect, Hangup, Login, Logout, Pause, Unpause:
		return true
	}
	return false
}

// Hangup reasons, as the reference lists them.
const (
	ReasonByCaller    = "BYCALLER"    // answered, the calling party hung up
	ReasonByCallee    = "BYCALLEE"    // answered, the called party hung up
	ReasonNoAnswer    = "NOANSWER"    // the destination did not answer
	ReasonFailed      = "FAILED"      // the dial failed
	ReasonBusy        = "BUSY"        // the destination was busy
	ReasonUnknown     = "UNKNOWN"     // an unknown error
	ReasonATransfer   = "ATRANSFER"   // attended transfer by the agent
	ReasonBTransfer   = "BTRANSFER"   // blind transfer by the agent
	ReasonQueueGiveUp = "QUEUEGIVEUP" // the caller hung up while waiting in a queue
	ReasonQueueMissed = "QUEUEMISSED" // a queue call reached the agent, who did not answer
	ReasonPickup      = "PICKUP"      // another agent picked the call up
	ReasonMSStop      = "MSSTOP"      // the media server stopped
	ReasonMSStart     = "MSSTART"     // calls left over when the media server restarted
	ReasonMSGone      = "MSGONE"      // the ACD lost the media server
)

// HangupReasons lists the 14 hangup reasons in the reference's order.
func HangupReasons() []string {
	return []string{ReasonByCaller, ReasonByCallee, ReasonNoAnswer, ReasonFailed, ReasonBusy,
		ReasonUnknown, ReasonATransfer, ReasonBTransfer, ReasonQueueGiveUp, ReasonQueueMissed,
		ReasonPickup, ReasonMSStop, ReasonMSStart, ReasonMSGone}
}

// AllAgents is the topic that receives every agent's events on RabbitMQ (the
// platform's broker). Brokers that spell the multi-level wildcard '>'
// (ActiveMQ) need AllAgentsTopic(">").
const AllAgents = "/topic/iv.agents.#"

// TopicPrefix is the prefix of every agent's event topic.
const TopicPrefix = "/topic/iv.agents."

// AgentTopic returns the event topic of one agent:
// AgentTopic("default", "1001") is "/topic/iv.agents.default_1001". A number
// already given as "<accountcode>_<number>" is not prefixed twice.
func AgentTopic(accountcode, number string) string {
	if accountcode != "" && !strings.HasPrefix(number, accountcode+"_") {
		number = accountcode + "_" + number
	}
	return TopicPrefix + number
}

// AllAgentsTopic returns the all-agents topic with the broker's multi-level
// wildcard: "#" for RabbitMQ, ">" for ActiveMQ.
func AllAgentsTopic(wildcard string) string {
	if wildcard == "" {
		wildcard = "#"
	}
	return TopicPrefix + wildcard
}
