package events

import (
	"context"
	"time"
)

// The retries of a settlement that failed on a live connection: a
// transport may fail one without sending anything (stompx's Ack when its
// connection has not been writing for a second), and may be called again
// (Delivery). Left unsettled, the event would hold its place in the
// broker's prefetch until the connection ends (RabbitMQ's consumer_timeout,
// 30 minutes).
const (
	settleRetries   = 4
	settleRetryWait = 100 * time.Millisecond // doubling: 1.5 s in all
)

// settleRetrying settles ev with f (Ack, or Reject with a cause), tried
// again settleRetries times after a failure, while ev's connection lives
// and ctx and the subscription last. retry is shared by the settlements of
// one batch: once one has used its retries, the others are tried once.
func (s *Subscription) settleRetrying(ctx context.Context, ev Event, f func(Event) error, retry *bool) error {
	err := f(ev)
	for i := 0; err != nil && *retry && i < settleRetries && !ev.delivery.isLost(); i++ {
		t := time.NewTimer(settleRetryWait << i)
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-s.stop:
		case <-ev.delivery.lostC():
		}
		t.Stop()
		if ctx.Err() != nil || isDone(s.stop) || ev.delivery.isLost() {
			break
		}
		err = f(ev)
	}
	if err != nil {
		*retry = false
	}
	return err
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
