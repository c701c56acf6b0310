package stompx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// Subscribe subscribes to one or more event topics ("/topic/..."; see
// events.AgentTopic and events.AllAgents) and returns one subscription that
// delivers the events of all of them. A trailing ".#" is rewritten to the
// broker's wildcard (WithWildcard).
//
// Subscribe returns only once the broker has the subscriptions, so an event
// caused by a request sent after Subscribe returns is not missed. The events
// of one topic arrive in the order the broker sent them; those of different
// topics may interleave differently (and an event published to two of the
// topics arrives twice). Events are
// buffered (WithEventBuffer); a consumer that falls behind loses the events
// beyond the buffer, counted by the subscription's Dropped, and never stalls
// replies or heart-beats (unless WithBlockingEvents). After a reconnection
// the subscription is restored behind the same value; events published
// while the connection was down are lost. Close the subscription to
// unsubscribe. When the transport closes (or gives up reconnecting) the
// subscription ends and its Err wraps ivclient.ErrClosed (or
// ivclient.ErrConnectionLost).
func (t *Transport) Subscribe(ctx context.Context, topics ...string) (*events.Subscription, error) {
	if ctx == nil {
		return nil, errs.Wrap("stompx: Subscribe", ivclient.ErrInvalidArgument, "nil context", nil)
	}
	list, err := t.checkTopics("Subscribe", topics)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, errs.Wrap("stompx: Subscribe", err, "", nil)
	}

	es := &eventSub{t: t, topics: list}
	opts := []events.FeedOption{
		events.WithUnsubscribe(es.onClose),
		events.WithBuffer(t.opts.eventBuffer),
		events.WithErrorHandler(es.onError),
	}
	if t.opts.blockingEvents {
		opts = append(opts, events.WithBlocking())
	}
	feed, err := events.NewFeed(opts...)
	if err != nil {
		return nil, errs.Wrap("stompx: Subscribe", err, "", nil)
	}
	es.sub, es.feed = feed.Subscription(), feed

	for {
		s, err := t.session(ctx)
		if err != nil {
			es.sub.Close()
			return nil, errs.Wrap("stompx: Subscribe", err, "", nil)
		}
		select {
		case <-s.done:
			continue // s is no longer current (its abort saw to it before done)
		default:
		}
		done := make(chan error, 1)
		s.requestSync(syncReq{
			prep: func() error { return es.attach(s) },
			done: func(err error) { done <- err },
		})
		select {
		case err = <-done:
		case <-s.done:
			err = errRetry
		case <-ctx.Done():
			es.sub.Close()
			return nil, errs.Wrap("stompx: Subscribe", ctx.Err(), "", nil)
		}
		if err != nil {
			es.sub.Close()
			if errors.Is(err, ivclient.ErrClosed) {
				return nil, errs.Wrap("stompx: Subscribe", err, "", nil)
			}
			// The connection dropped while subscribing. The broker may have
			// refused a topic with an ERROR frame (which ends the connection),
			// so do not retry on our own: the caller decides.
			return nil, errs.Wrap("stompx: Subscribe", lostError(s.causeText()), "", nil)
		}
		if t.subs.addPlain(es, func() bool { return t.cur.Load() == s }) {
			t.log.Debug("stompx: subscribed", slog.Int("topics", len(list)))
			return es.sub, nil
		}
		if t.opts.failFast {
			es.sub.Close()
			return nil, errs.Wrap("stompx: Subscribe", errNotConnected, "", nil)
		}
	}
}

// eventSub is the transport's side of one events.Subscription: its topics
// and their go-stomp subscriptions on the current session.
type eventSub struct {
	t      *Transport
	topics []string
	sub    *events.Subscription
	feed   *events.Feed

	mu     sync.Mutex
	sess   *session
	stomps []*stomp.Subscription
	closed bool
}

// attach subscribes the topics on s (once per session) and starts a pump
// for each.
func (es *eventSub) attach(s *session) error {
	es.mu.Lock()
	if es.closed {
		es.mu.Unlock()
		return errClosed
	}
	if es.sess == s {
		es.mu.Unlock()
		return nil
	}
	es.sess, es.stomps = s, nil
	es.mu.Unlock()
	// go-stomp's Subscribe may wait for its write queue: not under es.mu,
	// which the consumer's Close takes.
	var stomps []*stomp.Subscription
	for _, tp := range es.topics {
		ss, err := s.sub.stomp.Subscribe(tp, stomp.AckAuto)
		if err != nil {
			s.abort(err)
			return errRetry
		}
		stomps = append(stomps, ss)
		if !s.sub.spawn(func() { es.pump(s, ss) }) {
			return errClosed
		}
	}
	es.mu.Lock()
	closed := es.closed
	if !closed && es.sess == s {
		es.stomps = stomps
	}
	es.mu.Unlock()
	if closed {
		// Closed by the consumer meanwhile: onClose found none of these.
		for _, ss := range stomps {
			_ = s.sub.unsubscribe(ss)
		}
		return errClosed
	}
	return nil
}

// pump drains one go-stomp subscription into the feed. It never sends.
func (es *eventSub) pump(s *session, ss *stomp.Subscription) {
	done := es.feed.Done()
	s.sub.forEach(ss, func(m *stomp.Message) {
		if m.Err != nil {
			s.subFailed(m.Err)
			return
		}
		select {
		case <-done:
			return // closed by the consumer: drain until go-stomp lets go
		default:
		}
		es.t.stats.events.Add(1)
		es.feed.Deliver(events.Delivery{Topic: m.Destination, Body: m.Body, Received: time.Now()})
	})
}

func (es *eventSub) onError(err error) {
	if errors.Is(err, events.ErrSlowConsumer) {
		es.t.log.Warn("stompx: event consumer is behind, dropping events", slog.Int("buffer", es.t.opts.eventBuffer))
		return
	}
	es.t.log.Debug("stompx: malformed event", slog.String("error", es.t.red.redact(err.Error())))
}

// onClose runs when the consumer closes the subscription: it stops being
// restored and its topics are unsubscribed (conn.unsubscribe).
func (es *eventSub) onClose() error {
	es.t.subs.removePlain(es)
	es.mu.Lock()
	es.closed = true
	stomps, s := es.stomps, es.sess
	es.stomps = nil
	es.mu.Unlock()
	if s == nil {
		return nil
	}
	select {
	case <-s.done:
		return nil
	default:
	}
	for _, ss := range stomps {
		_ = s.sub.unsubscribe(ss)
	}
	return nil
}

// end ends the subscription from the transport's side: its Err wraps err.
func (es *eventSub) end(err error) {
	es.mu.Lock()
	es.closed = true
	es.stomps = nil
	es.mu.Unlock()
	es.feed.End(err)
}

// checkTopics checks topics for Subscribe and SubscribeDurable (op): each
// "/topic/<name>", on one line; it rewrites a trailing ".#" to the
// broker's wildcard and removes duplicates.
func (t *Transport) checkTopics(op string, topics []string) ([]string, error) {
	if len(topics) == 0 {
		return nil, errs.Wrap("stompx: "+op, ivclient.ErrInvalidArgument, "topics: none given", nil)
	}
	var list []string
	seen := make(map[string]bool, len(topics))
	for _, tp := range topics {
		if !strings.HasPrefix(tp, "/topic/") || len(tp) == len("/topic/") || strings.ContainsAny(tp, "\r\n\x00 ") {
			return nil, errs.Wrap("stompx: "+op, ivclient.ErrInvalidArgument,
				fmt.Sprintf("topic %q must be \"/topic/<name>\" (a name without a prefix is a queue on RabbitMQ)", redactDest(tp)), nil)
		}
		if t.opts.wildcard != "#" && strings.HasSuffix(tp, ".#") {
			tp = tp[:len(tp)-1] + t.opts.wildcard
		}
		if !seen[tp] {
			seen[tp] = true
			list = append(list, tp)
		}
	}
	return list, nil
}

// subRegistry is the transport's live subscriptions, restored on
// reconnection (plain) or ended by Close (plain and durable), and the
// counts of the plain ones that ended: the one place where a
// subscription's counters move into the transport's totals.
type subRegistry struct {
	mu      sync.Mutex
	plain   map[*eventSub]struct{}
	durable map[*durableSub]struct{}
	ended   bool // Close: no more subscriptions
	dropped uint64
	badSum  uint64 // malformed events of ended plain subscriptions
}

// addPlain registers es if ok() holds (checked under the registry's lock).
func (r *subRegistry) addPlain(es *eventSub, ok func() bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended || !ok() {
		return false
	}
	if r.plain == nil {
		r.plain = make(map[*eventSub]struct{})
	}
	r.plain[es] = struct{}{}
	return true
}

// forget removes es and moves its counters into the totals; r.mu is held.
func (r *subRegistry) forget(es *eventSub) {
	delete(r.plain, es)
	r.dropped += es.sub.Dropped()
	r.badSum += es.sub.Malformed()
}

// removePlain forgets es (its consumer closed it).
func (r *subRegistry) removePlain(es *eventSub) {
	r.mu.Lock()
	if _, ok := r.plain[es]; ok {
		r.forget(es)
	}
	r.mu.Unlock()
}

// plainList returns the plain subscriptions.
func (r *subRegistry) plainList() []*eventSub {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*eventSub, 0, len(r.plain))
	for es := range r.plain {
		out = append(out, es)
	}
	return out
}

// endPlain refuses further subscriptions, and forgets and returns every
// plain subscription (the transport ends them).
func (r *subRegistry) endPlain() []*eventSub {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = true
	out := make([]*eventSub, 0, len(r.plain))
	for es := range r.plain {
		out = append(out, es)
		r.forget(es)
	}
	return out
}

// addDurable registers ds; false once Close has begun.
func (r *subRegistry) addDurable(ds *durableSub) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return false
	}
	if r.durable == nil {
		r.durable = make(map[*durableSub]struct{})
	}
	r.durable[ds] = struct{}{}
	return true
}

// removeDurable forgets ds (it ended).
func (r *subRegistry) removeDurable(ds *durableSub) {
	r.mu.Lock()
	delete(r.durable, ds)
	r.mu.Unlock()
}

// endDurable refuses further subscriptions and returns the durable ones
// (Close ends them).
func (r *subRegistry) endDurable() []*durableSub {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = true
	out := make([]*durableSub, 0, len(r.durable))
	for ds := range r.durable {
		out = append(out, ds)
	}
	r.durable = nil
	return out
}

// counts returns the events dropped and malformed of every plain
// subscription, live or ended.
func (r *subRegistry) counts() (dropped, malformed uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dropped, malformed = r.dropped, r.badSum
	for es := range r.plain {
		dropped += es.sub.Dropped()
		malformed += es.sub.Malformed()
	}
	return dropped, malformed
}
