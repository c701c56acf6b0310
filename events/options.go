package events

import (
	"errors"
	"fmt"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// TrackerOption configures a Tracker (NewTracker). Options follow one
// rule, described at SinkOption.
type TrackerOption interface{ applyTracker(*sinkConfig) error }

// BoardOption configures a Board (NewBoard). Options follow one rule,
// described at SinkOption.
type BoardOption interface{ applyBoard(*sinkConfig) error }

// PollerOption configures a Poller (NewPoller). Options follow one rule,
// described at SinkOption.
type PollerOption interface{ applyPoller(*sinkConfig) error }

// StateOption configures a Tracker or a Board alike.
type StateOption interface {
	TrackerOption
	BoardOption
}

// SinkOption configures a Tracker, a Board or a Poller alike.
//
// The sinks' options follow one style. Each constructor takes options of
// its own type (TrackerOption, BoardOption, PollerOption), so that an
// option that means nothing to a sink does not compile; an option that
// several sinks understand has a type that is all of theirs (StateOption,
// SinkOption). Every option follows the SDK's one rule: a nil option, a
// count or a duration of zero or less, or a nil function makes the
// constructor fail with an error wrapping ivclient.ErrInvalidArgument that
// names the option; leaving an option out gives its default.
type SinkOption interface {
	TrackerOption
	BoardOption
	PollerOption
}

// sinkConfig is the configuration of a Tracker, a Board or a Poller; each
// reads the fields that concern it.
type sinkConfig struct {
	now       func() time.Time
	expiry    time.Duration
	maxCalls  int
	maxAgents int
	finished  func(Call)
	pollLimit int
	window    int // DefaultDedupeWindow
}

func defaultSinkConfig() sinkConfig {
	return sinkConfig{now: time.Now, expiry: DefaultExpiry, maxCalls: DefaultMaxCalls, maxAgents: DefaultMaxAgents,
		pollLimit: DefaultPollLimit, window: DefaultDedupeWindow}
}

// timeOf returns the event's Received time, or the clock's time for an
// event without one.
func (c *sinkConfig) timeOf(ev Event) time.Time {
	if !ev.Received.IsZero() {
		return ev.Received
	}
	return c.now()
}

type sinkOption func(*sinkConfig) error

func (o sinkOption) applyTracker(c *sinkConfig) error { return o(c) }
func (o sinkOption) applyBoard(c *sinkConfig) error   { return o(c) }
func (o sinkOption) applyPoller(c *sinkConfig) error  { return o(c) }

type stateOption func(*sinkConfig) error

func (o stateOption) applyTracker(c *sinkConfig) error { return o(c) }
func (o stateOption) applyBoard(c *sinkConfig) error   { return o(c) }

type trackerOption func(*sinkConfig) error

func (o trackerOption) applyTracker(c *sinkConfig) error { return o(c) }

type boardOption func(*sinkConfig) error

func (o boardOption) applyBoard(c *sinkConfig) error { return o(c) }

type pollerOption func(*sinkConfig) error

func (o pollerOption) applyPoller(c *sinkConfig) error { return o(c) }

// WithClock sets the clock used for events without a Received time and by
// Expire (default time.Now). Tests inject a fake clock here. now must not
// be nil.
func WithClock(now func() time.Time) StateOption {
	return stateOption(func(c *sinkConfig) error {
		if now == nil {
			return errors.New("WithClock: nil function")
		}
		c.now = now
		return nil
	})
}

// WithExpiry sets how long a call is kept after its last event when its
// HANGUP does not arrive (default DefaultExpiry). A Tracker then reports
// the call as expired; a Board stops showing the agent on that call. d
// must be more than zero.
func WithExpiry(d time.Duration) StateOption {
	return stateOption(func(c *sinkConfig) error {
		if d <= 0 {
			return fmt.Errorf("WithExpiry: d must be more than zero, got %v", d)
		}
		c.expiry = d
		return nil
	})
}

// WithMaxCalls bounds the calls in progress a Tracker holds (default
// DefaultMaxCalls). Past it, the least recently active call is expired. n
// must be at least 1.
func WithMaxCalls(n int) TrackerOption {
	return trackerOption(func(c *sinkConfig) error {
		if n < 1 {
			return fmt.Errorf("WithMaxCalls: n must be at least 1, got %d", n)
		}
		c.maxCalls = n
		return nil
	})
}

// WithFinished sets the function a Tracker hands each finished call to:
// once per call, when its HANGUP arrives or when it expires (Call.Expired).
// It runs on the goroutine that called Apply or Expire, with no lock held
// (it may call the tracker); if several goroutines apply events, it may run
// concurrently. A slow function delays the caller of Apply: hand the call
// to a channel or a queue of your own if writing it takes long, or use
// ConsumeCalls, which runs handlers on lanes and retries them. Without it
// the tracker hands calls to nobody (Active and Get still show them). f
// must not be nil.
func WithFinished(f func(Call)) TrackerOption {
	return trackerOption(func(c *sinkConfig) error {
		if f == nil {
			return errors.New("WithFinished: nil function")
		}
		c.finished = f
		return nil
	})
}

// WithMaxAgents bounds the agents a Board holds (default
// DefaultMaxAgents). Past it, the agent whose latest event is the oldest
// is forgotten. n must be at least 1.
func WithMaxAgents(n int) BoardOption {
	return boardOption(func(c *sinkConfig) error {
		if n < 1 {
			return fmt.Errorf("WithMaxAgents: n must be at least 1, got %d", n)
		}
		c.maxAgents = n
		return nil
	})
}

// WithPollLimit bounds the events a Poller holds between polls (default
// DefaultPollLimit). Past it, the oldest are dropped and counted
// (Poller.Dropped). n must be at least 1.
func WithPollLimit(n int) PollerOption {
	return pollerOption(func(c *sinkConfig) error {
		if n < 1 {
			return fmt.Errorf("WithPollLimit: n must be at least 1, got %d", n)
		}
		c.pollLimit = n
		return nil
	})
}

// WithDedupeWindow sets how many of the latest events a Tracker, a Board
// or a Poller remembers to recognise a redelivery of one it already took
// (default DefaultDedupeWindow). Each remembered event costs about 40
// bytes. A redelivery comes back at most the subscription's prefetch count
// plus its buffer of events later, so raise the window with a larger
// prefetch (stompx.WithPrefetch). n must be at least 1.
func WithDedupeWindow(n int) SinkOption {
	return sinkOption(func(c *sinkConfig) error {
		if n < 1 {
			return fmt.Errorf("WithDedupeWindow: n must be at least 1, got %d", n)
		}
		c.window = n
		return nil
	})
}

// sinkSetup applies a sink constructor's options to the defaults; op is
// the constructor ("events: NewTracker").
func sinkSetup[O any](op string, opts []O, apply func(O, *sinkConfig) error) (sinkConfig, error) {
	cfg := defaultSinkConfig()
	for i, o := range opts {
		if any(o) == nil {
			return cfg, errs.Wrap(op, errs.ErrInvalidArgument, fmt.Sprintf("option %d is nil", i), nil)
		}
		if err := apply(o, &cfg); err != nil {
			return cfg, errs.Wrap(op, errs.ErrInvalidArgument, err.Error(), nil)
		}
	}
	return cfg, nil
}
