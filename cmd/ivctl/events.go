package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// events runs "ivctl events [-calls] [TOPIC ...]": it prints each event as
// one line of JSON (the body as the platform sent it), or with -calls one
// line per finished call, until ctx ends (SIGINT, SIGTERM). The transport
// reconnects by itself and restores the subscription; ivctl says so on
// stderr.
func (c *cli) events(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ivctl events", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	calls := fs.Bool("calls", false, "print one line per finished call (folded from its events) instead of each event")
	accountcode := fs.String("accountcode", "default", "the accountcode of an agent given as a bare number (1001)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: ivctl [flags] events [-calls] [TOPIC ...]

Prints call events as JSON lines until interrupted. A TOPIC is a STOMP
destination (/topic/iv.agents.default_1001), an agent (default_1001), or
an agent's bare number (1001, an agent of -accountcode, as call prefixes
it); the default is every agent (`+events.AllAgents+`). Needs -stomp.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if c.soap != "" {
		return usageErr("events needs -stomp: IVWS (SOAP) delivers no events")
	}
	if c.stomp == "" {
		return usageErr("events needs -stomp host:port (IV_STOMP_ADDR)")
	}
	topics, err := eventTopics(fs.Args(), *accountcode)
	if err != nil {
		return err
	}

	state := c.reconnectReporter()
	setup, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	t, err := c.dialSTOMP(setup, stompx.WithStateHandler(state))
	if err != nil {
		return c.timedOut(interrupted(ctx, err))
	}
	defer t.Close()
	sub, err := t.Subscribe(setup, topics...)
	if err != nil {
		return c.timedOut(interrupted(ctx, err))
	}
	defer sub.Close()
	cancel()
	fmt.Fprintf(c.stderr, "subscribed: %s\n", strings.Join(topics, " "))

	var sink events.Sink = events.SinkFunc(func(ev events.Event) { c.line(eventJSON(ev)) })
	if *calls {
		tracker, err := events.NewTracker(events.WithFinished(func(call events.Call) { c.line(callJSON(call)) }))
		if err != nil {
			return err
		}
		sink = tracker
	}
	err = events.Run(ctx, sub, sink)
	if ctx.Err() != nil {
		return nil // interrupted: the normal end
	}
	if err == nil {
		err = errors.New("the subscription ended")
	}
	return err
}

// reconnectReporter returns a stompx state handler that tells stderr when
// the connection is lost, restored, or given up, once the first
// connection was made (before it, Dial's error says it all).
func (c *cli) reconnectReporter() func(stompx.StateChange) {
	connected := false
	return func(sc stompx.StateChange) {
		switch sc.State {
		case stompx.Reconnecting:
			fmt.Fprintf(c.stderr, "ivctl: connection to %s lost (%s); reconnecting\n", sc.Addr, printable(fmt.Sprint(sc.Err)))
		case stompx.Connected:
			if connected {
				fmt.Fprintf(c.stderr, "ivctl: reconnected to %s; subscription restored\n", sc.Addr)
			}
			connected = true
		case stompx.Closed:
			if sc.Err != nil && connected {
				fmt.Fprintf(c.stderr, "ivctl: gave up reconnecting: %s\n", printable(fmt.Sprint(sc.Err)))
			}
		}
	}
}

// eventTopics returns the destinations of events' arguments: every agent
// when there is none; a destination as it is; an agent (default_1001) or
// an agent's bare number (1001, an agent of accountcode) as its topic.
func eventTopics(args []string, accountcode string) ([]string, error) {
	if len(args) == 0 {
		return []string{events.AllAgents}, nil
	}
	topics := make([]string, len(args))
	for i, t := range args {
		switch {
		case t == "":
			return nil, usageErr("an empty topic")
		case strings.HasPrefix(t, "/"):
			topics[i] = t
		case isDigits(t):
			if accountcode == "" {
				return nil, usageErr("%s: a bare agent number needs -accountcode", t)
			}
			topics[i] = events.AgentTopic(accountcode, t)
		default:
			topics[i] = events.TopicPrefix + t
		}
	}
	return topics, nil
}

// interrupted returns nil when ctx ended (SIGINT, SIGTERM: events' normal
// end, even before it subscribed), else err.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// isDigits reports whether s is a bare number.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// line writes one line of JSON to stdout.
func (c *cli) line(b []byte) {
	c.stdout.Write(append(b, '\n'))
}

// eventJSON is the event's body as the platform sent it, on one line; an
// event whose body is not JSON (which Decode would not have delivered) is
// written from its fields.
func eventJSON(ev events.Event) []byte {
	if b := compact(ev.Raw); b != nil {
		return b
	}
	b, _ := json.Marshal(map[string]string{
		"type": string(ev.Type), "agent": ev.Agent, "uniqueid": ev.UniqueID,
		"callerid": ev.CallerID, "direction": ev.Direction, "reason": ev.Reason,
	})
	return b
}

// seconds rounds d to milliseconds, in seconds.
func seconds(d time.Duration) float64 { return d.Round(time.Millisecond).Seconds() }

// callJSON is one finished call.
func callJSON(c events.Call) []byte {
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(struct {
		Agent          string  `json:"agent"`
		UniqueID       string  `json:"uniqueid"`
		Direction      string  `json:"direction,omitempty"`
		CallerID       string  `json:"callerid,omitempty"`
		RemoteCallerID string  `json:"remote_callerid,omitempty"`
		Reason         string  `json:"reason,omitempty"`
		Answered       bool    `json:"answered"`
		Expired        bool    `json:"expired,omitempty"`
		Start          string  `json:"start,omitempty"`
		End            string  `json:"end,omitempty"`
		RingSeconds    float64 `json:"ring_seconds"`
		TalkSeconds    float64 `json:"talk_seconds"`
		Events         int     `json:"events"`
	}{
		c.Agent, c.UniqueID, c.Direction, c.CallerID, c.RemoteCallerID, c.Reason, c.Answered(), c.Expired,
		at(c.FirstEventAt), at(c.HangupAt), seconds(c.RingDuration()), seconds(c.TalkDuration()), c.Events,
	})
	return b
}
