package fakeplatform

import (
	"errors"
	"fmt"

	"github.com/instantvoice/instantvoice-go/internal/fakebroker"
)

// The embedded broker (internal/fakebroker) as a partner's test sees it: a
// queue's state, to check what a durable subscription holds, and pausing
// the request queue, to test request expiry and a platform that stops
// consuming.

// BrokerQueue describes the queue name of the embedded broker: the queue
// of a durable subscription (its x-queue-name; stompx names the queue of
// SubscribeDurable's name "iv.events.<name>"), or Q for /queue/Q. It
// reports false when no such queue exists (deleted, expired, never made),
// and always with WithExternalBroker. Messages whose expiry has passed are
// counted as Expired, not Ready.
func (p *Platform) BrokerQueue(name string) (BrokerQueue, bool) {
	if p.broker == nil {
		return BrokerQueue{}, false
	}
	q, ok := p.broker.Queue(name)
	if !ok {
		return BrokerQueue{}, false
	}
	return BrokerQueue{Name: q.Name, Durable: q.Durable, Bindings: q.Bindings, Args: q.Args, Ready: q.Ready,
		Unacked: q.Unacked, Consumers: q.Consumers, Dropped: q.Dropped, Expired: q.Expired}, true
}

// BrokerQueue describes one queue of the embedded broker.
type BrokerQueue struct {
	Name      string            // the queue's name: x-queue-name, or Q for /queue/Q
	Durable   bool              // declared durable:true
	Bindings  []string          // the topics bound to it, "/topic/iv.agents.#", in the order they were bound
	Args      map[string]string // the queue arguments it was declared with, "x-max-length": "5"
	Ready     int               // messages waiting for a consumer
	Unacked   int               // messages delivered and not yet acknowledged
	Consumers int               // subscriptions consuming it
	Dropped   uint64            // oldest messages dropped: x-max-length, x-max-length-bytes or MaxQueueBacklog
	Expired   uint64            // messages dropped because their TTL or expiration passed while they waited
}

// MaxQueueBacklog and MaxQueueBacklogBytes bound the messages one queue of
// the embedded broker holds, waiting or delivered and not yet acknowledged
// (in number, and in bytes of bodies); past either, the oldest waiting
// message is dropped and counted (Stats.BrokerOverflows,
// BrokerQueue.Dropped). Give a durable subscription WithMaxBacklog to
// choose a lower bound.
const (
	MaxQueueBacklog      = fakebroker.MaxQueueBacklog
	MaxQueueBacklogBytes = fakebroker.MaxQueueBacklogBytes
)

// PauseRequests stops the platform from taking requests off its request
// queue, as if its consumer were down, until ResumeRequests: requests wait
// in the embedded broker's queue, and those sent with an expiration header
// (stompx sends one from the call's deadline) are dropped when it passes,
// never executed. Replies and events already produced are still published.
// It returns an error with WithExternalBroker.
func (p *Platform) PauseRequests() error { return p.holdRequests(true) }

// ResumeRequests ends PauseRequests: the requests still waiting, and not
// expired, are served in order.
func (p *Platform) ResumeRequests() error { return p.holdRequests(false) }

func (p *Platform) holdRequests(hold bool) error {
	if p.broker == nil {
		return errors.New("ivtest: PauseRequests and ResumeRequests need the embedded broker")
	}
	if !p.broker.HoldQueue(p.proc.queue, hold) {
		return fmt.Errorf("ivtest: the request destination %q is not a queue", p.proc.queue)
	}
	return nil
}

// Broker returns the embedded broker, nil with WithExternalBroker.
func (p *Platform) Broker() *fakebroker.Broker { return p.broker }
