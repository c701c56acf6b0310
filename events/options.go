package events

import "time"

// TrackerOption configures a Tracker (NewTracker).
type TrackerOption interface{ applyTracker(*stateConfig) }

// BoardOption configures a Board (NewBoard).
type BoardOption interface{ applyBoard(*stateConfig) }

// StateOption configures a Tracker or a Board alike.
type StateOption interface {
	TrackerOption
	BoardOption
}

// stateConfig is the configuration of a Tracker or a Board.
type stateConfig struct {
	now       func() time.Time
	expiry    time.Duration
	maxCalls  int
	maxAgents int
	finished  func(Call)
}

func defaultStateConfig() stateConfig {
	return stateConfig{now: time.Now, expiry: DefaultExpiry, maxCalls: DefaultMaxCalls, maxAgents: DefaultMaxAgents}
}

// timeOf returns the event's Received time, or the clock's time for an
// event without one.
func (c *stateConfig) timeOf(ev Event) time.Time {
	if !ev.Received.IsZero() {
		return ev.Received
	}
	return c.now()
}

type stateOption func(*stateConfig)

func (o stateOption) applyTracker(c *stateConfig) { o(c) }
func (o stateOption) applyBoard(c *stateConfig)   { o(c) }

type trackerOption func(*stateConfig)

func (o trackerOption) applyTracker(c *stateConfig) { o(c) }

type boardOption func(*stateConfig)

func (o boardOption) applyBoard(c *stateConfig) { o(c) }

// WithClock sets the clock used for events without a Received time and by
// Expire (default time.Now). Tests inject a fake clock here.
func WithClock(now func() time.Time) StateOption {
	return stateOption(func(c *stateConfig) {
		if now != nil {
			c.now = now
		}
	})
}

// WithExpiry sets how long a call is kept after its last event when its
// HANGUP does not arrive (default DefaultExpiry; values of zero or less
// mean the default). A Tracker then reports the call as expired; a Board
// stops showing the agent on that call.
func WithExpiry(d time.Duration) StateOption {
	return stateOption(func(c *stateConfig) {
		if d > 0 {
			c.expiry = d
		}
	})
}

// WithMaxCalls bounds the calls in progress a Tracker holds (default
// DefaultMaxCalls; values below 1 mean the default). Past it, the least
// recently active call is expired.
func WithMaxCalls(n int) TrackerOption {
	return trackerOption(func(c *stateConfig) {
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
// to a channel or a queue of your own if writing it takes long.
func WithFinished(f func(Call)) TrackerOption {
	return trackerOption(func(c *stateConfig) { c.finished = f })
}

// WithMaxAgents bounds the agents a Board holds (default DefaultMaxAgents;
// values below 1 mean the default). Past it, the agent whose latest event
// is the oldest is forgotten.
func WithMaxAgents(n int) BoardOption {
	return boardOption(func(c *stateConfig) {
		if n > 0 {
			c.maxAgents = n
		}
	})
}
