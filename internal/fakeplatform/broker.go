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
	return p.broker.Queue(name)
}

// BrokerQueue describes one queue of the embedded broker.
type BrokerQueue = fakebroker.QueueInfo

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
	if !p.broker.HoldQueue(p.proc.Queue(), hold) {
		return fmt.Errorf("ivtest: the request destination %q is not a queue", p.proc.Queue())
	}
	return nil
}

// Broker returns the embedded broker, nil with WithExternalBroker.
func (p *Platform) Broker() *fakebroker.Broker { return p.broker }
