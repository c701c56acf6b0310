package events

import "time"

// TrackerOption configures a Tracker (NewTracker). Options follow one
// rule, described at SinkOption.
type TrackerOption interface{ applyTracker(*sinkConfig) }

// BoardOption configures a Board (NewBoard). Options follow one rule,
// described at SinkOption.
type BoardOption interface{ applyBoard(*sinkConfig) }

// PollerOption configures a Poller (NewPoller). Options follow one rule,
// described at SinkOption.
type PollerOption interface{ applyPoller(*sinkConfig) }

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
// SinkOption). The constructors cannot fail, so that sinks compose in one
// expression (events.Run(ctx, sub, events.NewTracker(), events.NewBoard())),
// and every option has the same documented clamp: a count or a duration of
// zero or less, or a nil function, means the option's default; a nil
// option is skipped.
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

type sinkOption func(*sinkConfig)

func (o sinkOption) applyTracker(c *sinkConfig) { o(c) }
func (o sinkOption) applyBoard(c *sinkConfig)   { o(c) }
func (o sinkOption) applyPoller(c *sinkConfig)  { o(c) }

type stateOption func(*sinkConfig)

func (o stateOption) applyTracker(c *sinkConfig) { o(c) }
func (o stateOption) applyBoard(c *sinkConfig)   { o(c) }

type trackerOption func(*sinkConfig)

func (o trackerOption) applyTracker(c *sinkConfig) { o(c) }

type boardOption func(*sinkConfig)

func (o boardOption) applyBoard(c *sinkConfig) { o(c) }

type pollerOption func(*sinkConfig)

func (o pollerOption) applyPoller(c *sinkConfig) { o(c) }

// WithClock sets the clock used for events without a Received time and by
// Expire (default time.Now; nil means the default). Tests inject a fake
// clock here.
func WithClock(now func() time.Time) StateOption {
	return stateOption(func(c *sinkConfig) {
		if now != nil {
			c.now = now
		}
	})
}

// WithExpiry sets how long a call is kept after its last event when its
// HANGUP does not arrive (default DefaultExpiry; zero or less means the
// default). A Tracker then reports the call as expired; a Board stops
// showing the agent on that call.
func WithExpiry(d time.Duration) StateOption {
	return stateOption(func(c *sinkConfig) {
		if d > 0 {
			c.expiry = d
		}
	})
}

// WithMaxCalls bounds the calls in progress a Tracker holds (default
// DefaultMaxCalls; zero or less means the default). Past it, the least
// recently active call is expired.
func WithMaxCalls(n int) TrackerOption {
	return trackerOption(func(c *sinkConfig) {
		if n > 0 {
			c.maxCalls = n
		}
	})
}

// WithFinished sets the function a Tracker hands each finished call to:
// once per call, when its HANGUP arrives or when it expires (Call.Expired).
// It runs on the goroutine that called Apply or Expire, with no lock held
// (it may call the tracker); if several goroutines apply events, it may run
// concurrently. A slow function delays the caller of Apply: hand the call
// to a channel or a queue of your own if writing it takes long. Nil (the
// default) means none.
func WithFinished(f func(Call)) TrackerOption {
	return trackerOption(func(c *sinkConfig) { c.finished = f })
}

// WithMaxAgents bounds the agents a Board holds (default DefaultMaxAgents;
// zero or less means the default). Past it, the agent whose latest event
// is the oldest is forgotten.
func WithMaxAgents(n int) BoardOption {
	return boardOption(func(c *sinkConfig) {
		if n > 0 {
			c.maxAgents = n
		}
	})
}

// WithPollLimit bounds the events a Poller holds between polls (default
// DefaultPollLimit; zero or less means the default). Past it, the oldest
// are dropped and counted (Poller.Dropped).
func WithPollLimit(n int) PollerOption {
	return pollerOption(func(c *sinkConfig) {
		if n > 0 {
			c.pollLimit = n
		}
	})
}

// WithDedupeWindow sets how many of the latest events a Tracker, a Board
// or a Poller remembers to recognise a redelivery of one it already took
// (default DefaultDedupeWindow; zero or less means the default). Each
// remembered event costs about 40 bytes. A redelivery comes back at most
// the subscription's prefetch count plus its buffer of events later, so
// raise the window with a larger prefetch (stompx.WithPrefetch).
func WithDedupeWindow(n int) SinkOption {
	return sinkOption(func(c *sinkConfig) {
		if n > 0 {
			c.window = n
		}
	})
}
