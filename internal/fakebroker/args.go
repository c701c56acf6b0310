package fakebroker

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// The queue arguments a SUBSCRIBE header may carry, in the order RabbitMQ
// checks them, with their AMQP types. Others (x-overflow, x-queue-mode,
// x-single-active-consumer) RabbitMQ's STOMP adapter does not apply.
var queueArgKeys = [...]struct{ key, typ string }{
	{"x-queue-type", "longstr"},
	{"x-expires", "long"},
	{"x-message-ttl", "long"},
	{"x-dead-letter-exchange", "longstr"},
	{"x-dead-letter-routing-key", "longstr"},
	{"x-max-length", "long"},
	{"x-max-length-bytes", "long"},
	{"x-max-priority", "long"},
}

// maxArgMillis bounds the durations of queue arguments (about 100 years),
// so that they fit a time.Duration.
const maxArgMillis = 100 * 365 * 24 * 3600 * 1000

// queueArgs are the properties a queue was declared with.
type queueArgs struct {
	durable, autoDelete bool
	args                map[string]string // x-* arguments as sent; numbers canonical
	queueType           string            // "quorum", or "" for classic
	ttl, expires        time.Duration     // x-message-ttl, x-expires; 0: none
	maxLen, maxBytes    int               // x-max-length, x-max-length-bytes; -1: none
}

// parseQueueArgs reads the queue properties of a topic SUBSCRIBE.
func parseQueueArgs(f *frame.Frame) (queueArgs, error) {
	a := queueArgs{args: map[string]string{}, maxLen: -1, maxBytes: -1}
	a.durable = f.Header.Get("durable") == "true" || f.Header.Get("persistent") == "true"
	a.autoDelete = !a.durable
	if v, ok := f.Header.Contains("auto-delete"); ok {
		a.autoDelete = v == "true"
	}
	for _, k := range queueArgKeys {
		v, ok := f.Header.Contains(k.key)
		if !ok {
			continue
		}
		if k.typ == "long" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return a, fmt.Errorf("invalid arg '%s': %q is not a non-negative integer", k.key, v)
			}
			v = strconv.FormatInt(n, 10)
			ms := time.Duration(min(n, maxArgMillis)) * time.Millisecond
			switch k.key {
			case "x-message-ttl":
				a.ttl = ms
			case "x-expires":
				if n == 0 {
					return a, fmt.Errorf("invalid arg 'x-expires': must be positive")
				}
				a.expires = ms
			case "x-max-length": // past the cap, the cap applies anyway
				a.maxLen = int(min(n, MaxQueueBacklog+1))
			case "x-max-length-bytes":
				a.maxBytes = int(min(n, MaxQueueBacklogBytes+1))
			}
		}
		if k.key == "x-queue-type" {
			if v != "classic" && v != "quorum" {
				return a, fmt.Errorf("invalid arg 'x-queue-type': unknown queue type %q", v)
			}
			if v == "classic" {
				continue // the default: the same as none
			}
			a.queueType = v
		}
		a.args[k.key] = v
	}
	return a, nil
}

// equivalent returns RabbitMQ's PRECONDITION_FAILED text when a SUBSCRIBE
// with the arguments got declares the existing queue q differently, or "".
func (q *bqueue) equivalent(got queueArgs) string {
	fail := func(key, received, current string) string {
		return fmt.Sprintf("PRECONDITION_FAILED - inequivalent arg '%s' for queue '%s' in vhost '/': received %s but current is %s",
			key, q.name, received, current)
	}
	if got.durable != q.args.durable {
		return fail("durable", quoteBool(got.durable), quoteBool(q.args.durable))
	}
	if got.autoDelete != q.args.autoDelete {
		return fail("auto_delete", quoteBool(got.autoDelete), quoteBool(q.args.autoDelete))
	}
	for _, k := range queueArgKeys {
		g, gok := got.args[k.key]
		c, cok := q.args.args[k.key]
		switch {
		case gok && cok && g != c:
			return fail(k.key, "'"+g+"'", "'"+c+"'")
		case gok && !cok:
			return fail(k.key, "the value '"+g+"' of type '"+k.typ+"'", "none")
		case !gok && cok:
			return fail(k.key, "none", "the value '"+c+"' of type '"+k.typ+"'")
		}
	}
	return ""
}

func quoteBool(b bool) string { return "'" + strconv.FormatBool(b) + "'" }

// topicMatch reports whether the routing key matches the binding pattern,
// as RabbitMQ's topic exchange matches: words are separated by dots, '*'
// matches exactly one, '#' zero or more.
func topicMatch(pattern, key string) bool {
	return matchWords(strings.Split(pattern, "."), strings.Split(key, "."))
}

// matchWords matches in time len(p)*len(k), whatever the pattern (a
// backtracking match is exponential in the number of '#' words): after
// the loop for pattern word i, next[j] says whether p[i:] matches k[j:].
func matchWords(p, k []string) bool {
	next := make([]bool, len(k)+1)
	cur := make([]bool, len(k)+1)
	next[len(k)] = true // the empty pattern matches the empty key only
	for i := len(p) - 1; i >= 0; i-- {
		for j := len(k); j >= 0; j-- {
			switch {
			case p[i] == "#": // zero words, or one more
				cur[j] = next[j] || (j < len(k) && cur[j+1])
			case j == len(k):
				cur[j] = false
			case p[i] == "*" || p[i] == k[j]:
				cur[j] = next[j+1]
			default:
				cur[j] = false
			}
		}
		next, cur = cur, next
	}
	return next[0]
}

// isPattern reports whether a topic has a wildcard word, so that it is a
// pattern rather than a routing key (see the routing note above).
func isPattern(topic string) bool {
	for topic != "" {
		w, rest, _ := strings.Cut(topic, ".")
		if w == "#" || w == "*" || w == ">" {
			return true
		}
		topic = rest
	}
	return false
}
