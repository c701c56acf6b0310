package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/instantvoice/instantvoice-go/stompx"
)

// deadMax is how many dead letters list and replay take when -n is not
// given.
const deadMax = 1000

// maxDeadList is the most stompx.DeadLetters lists at once.
const maxDeadList = 65534

const deadUsage = `Usage:
  ivctl [flags] dead list [-n N] NAME     NAME's dead letters, oldest first, as JSON lines
  ivctl [flags] dead replay [-n N] NAME   move them back to NAME's queue; prints how many moved
  ivctl [flags] dead purge NAME           delete them; prints how many went

NAME is a durable subscription's name (stompx.SubscribeDurable). A dead
letter is an event a consumer gave up on (Subscription.Reject: Consume and
ConsumeCalls after their last retry). A list line is
{"event":{...},"cause":"...","at":"..."}: the event with the platform's
field names, the error it was rejected with, and when; list says on
stderr when more wait than -n (at most 65533). replay needs NAME's queue
(a consumer of NAME makes it): RabbitMQ drops what is sent to a missing
queue, so replay checks first and moves nothing without it. One dead
command per NAME runs at a time; another waits for it within -timeout.
Needs -stomp.

`

// dead runs "ivctl dead list|replay|purge [-n N] NAME".
func (c *cli) dead(ctx context.Context, args []string) error {
	sub, name, n, err := c.deadArgs(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	t, err := c.dialSTOMP(ctx)
	if err != nil {
		return err
	}
	defer t.Close()
	switch sub {
	case "list":
		return c.deadList(ctx, t, name, n)
	case "replay":
		moved, err := t.ReplayDeadLetters(ctx, name, n)
		c.line(fmt.Appendf(nil, `{"replayed":%d}`, moved)) // what moved, even when it stopped short
		return c.deadHint(err, name)
	default: // purge
		gone, err := t.PurgeDeadLetters(ctx, name)
		c.line(fmt.Appendf(nil, `{"purged":%d}`, gone))
		return c.deadHint(err, name)
	}
}

// deadList prints up to n of name's dead letters, and says on stderr when
// more wait (it asks for one more than it prints).
func (c *cli) deadList(ctx context.Context, t *stompx.Transport, name string, n int) error {
	letters, err := t.DeadLetters(ctx, name, min(n+1, maxDeadList))
	if err != nil {
		return c.deadHint(err, name)
	}
	more := len(letters) > n
	if more {
		letters = letters[:n]
	}
	for _, d := range letters {
		b, err := json.Marshal(struct {
			Event json.RawMessage `json:"event"`
			Cause string          `json:"cause"`
			At    string          `json:"at"`
		}{eventJSON(d.Event), d.Cause, d.At.UTC().Format(time.RFC3339Nano)})
		if err != nil {
			return err
		}
		c.line(b)
	}
	if more {
		fmt.Fprintf(c.stderr, "ivctl: listed the oldest %d dead letters of %s; more wait (-n sets how many, up to %d)\n", n, name, maxDeadList-1)
	}
	return nil
}

// deadHint adds to err what an operator can do about it.
func (c *cli) deadHint(err error, name string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, stompx.ErrDurableNotFound):
		return fmt.Errorf("%w (start a consumer of %s, which makes the queue, then run ivctl dead replay again)", err, name)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w; nothing is lost: run it again (a replay or purge printed what it did)", c.timedOut(err))
	}
	return err
}

// deadArgs checks the arguments of dead: the command (list, replay or
// purge), the name and -n. Any mistake is a usage error, before anything is
// sent.
func (c *cli) deadArgs(args []string) (sub, name string, n int, err error) {
	if len(args) == 0 {
		return "", "", 0, usageErr("dead needs list, replay or purge: ivctl dead list NAME")
	}
	sub, args = args[0], args[1:]
	if sub != "list" && sub != "replay" && sub != "purge" && sub != "-h" && sub != "-help" && sub != "--help" {
		return "", "", 0, usageErr("unknown dead command %q (list, replay, purge)", sub)
	}
	fs := flag.NewFlagSet("ivctl dead "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), deadUsage)
		fs.PrintDefaults()
	}
	n = deadMax
	if sub == "list" || sub == "replay" {
		fs.IntVar(&n, "n", deadMax, "the most dead letters to "+sub)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", "", 0, err
		}
		return "", "", 0, fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case sub != "list" && sub != "replay" && sub != "purge":
		fs.Usage()
		return "", "", 0, flag.ErrHelp
	case fs.NArg() != 1:
		return "", "", 0, usageErr("dead %s takes one name: ivctl dead %s NAME", sub, sub)
	case n < 1:
		return "", "", 0, usageErr("dead %s: -n must be at least 1, got %d", sub, n)
	case sub == "list" && n > maxDeadList-1:
		return "", "", 0, usageErr("dead list: -n must be at most %d (the broker's prefetch limit), got %d", maxDeadList-1, n)
	case c.soap != "":
		return "", "", 0, usageErr("dead needs -stomp: dead letters are kept by the broker")
	case c.stomp == "":
		return "", "", 0, usageErr("dead needs -stomp host:port (IV_STOMP_ADDR)")
	}
	return sub, fs.Arg(0), n, nil
}
