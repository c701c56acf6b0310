package fakeplatform

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/catalog"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// An Option configures a Platform.
type Option func(*config) error

type config struct {
	stompAddr      string
	soapAddr       string
	external       bool
	login          string
	passcode       string
	requestQueue   string
	wildcards      []string
	wildcardsSet   bool
	accountcodes   []string
	keys           map[string][]string
	groups         []string
	pauseReasons   map[string]string
	seeds          []seed
	log            *slog.Logger
	now            func() time.Time
	newCallOutcome Outcome
	pythonLists    bool
	licensedAgents int
}

type seed struct {
	method string
	args   map[string]any
}

func defaultConfig() *config {
	return &config{
		stompAddr:    "127.0.0.1:0",
		soapAddr:     "127.0.0.1:0",
		login:        stompx.DefaultLogin,
		passcode:     stompx.DefaultPasscode,
		requestQueue: stompx.DefaultRequestQueue,
		wildcards:    []string{"#"},
		keys:         make(map[string][]string),
		pauseReasons: map[string]string{"1": "Break", "2": "Lunch", "3": "Meeting"},
		now:          time.Now,
	}
}

// WithSTOMPAddr sets the address the embedded broker listens on (default
// "127.0.0.1:0", a free loopback port).
func WithSTOMPAddr(addr string) Option {
	return func(c *config) error {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return optErr("WithSTOMPAddr", "%v", err)
		}
		c.stompAddr = addr
		return nil
	}
}

// WithSOAPAddr sets the address the IVWS endpoint listens on (default
// "127.0.0.1:0", a free loopback port; the platform's own is port 7789).
func WithSOAPAddr(addr string) Option {
	return func(c *config) error {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return optErr("WithSOAPAddr", "%v", err)
		}
		c.soapAddr = addr
		return nil
	}
}

// WithSTOMPLogin sets the login and passcode the embedded broker accepts
// (default stompx.DefaultLogin and stompx.DefaultPasscode, the platform's
// own, which stompx.Dial uses). Empty
// login and passcode accept any client; neither may contain a line break
// or NUL.
func WithSTOMPLogin(login, passcode string) Option {
	return func(c *config) error {
		if err := checkLogin("WithSTOMPLogin", login, passcode); err != nil {
			return err
		}
		c.login, c.passcode = login, passcode
		return nil
	}
}

// WithExternalBroker attaches the request processor to a broker that is
// already running (RabbitMQ with its STOMP plugin, say) instead of starting
// the embedded one. STOMPAddr then returns addr. The processor reconnects by
// itself, with backoff, when the broker drops it.
//
// The external broker routes wildcard topics itself, so each event is
// published only to its agent's topic. Platforms that share an external
// broker also share its request queue: give each its own WithRequestQueue,
// or run them one at a time.
func WithExternalBroker(addr, login, passcode string) Option {
	return func(c *config) error {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return optErr("WithExternalBroker", "%v", err)
		}
		if err := checkLogin("WithExternalBroker", login, passcode); err != nil {
			return err
		}
		c.stompAddr, c.external = addr, true
		c.login, c.passcode = login, passcode
		return nil
	}
}

// WithRequestQueue sets the destination the processor reads requests from
// (default stompx.DefaultRequestQueue, "/queue/config").
func WithRequestQueue(dest string) Option {
	return func(c *config) error {
		if !strings.HasPrefix(dest, "/") || len(dest) < 2 || strings.ContainsAny(dest, "\r\n\x00") {
			return optErr("WithRequestQueue", "the destination must start with '/', got %q", dest)
		}
		c.requestQueue = dest
		return nil
	}
}

// WithEventWildcards sets the wildcards of the all-agents topics that the
// embedded broker's subscribers can use. The embedded broker matches topics
// exactly, so the platform publishes every event to its agent's topic and
// to events.AllAgentsTopic(w) for each wildcard w: "#" (RabbitMQ's
// spelling, the default) and ">" (ActiveMQ's). No wildcards publishes to
// the agent's topic only. With an external broker this option has no effect.
func WithEventWildcards(wildcards ...string) Option {
	return func(c *config) error {
		for _, w := range wildcards {
			if w == "" || strings.ContainsAny(w, "/\r\n\x00") {
				return optErr("WithEventWildcards", "a wildcard is not empty and has no '/', line break or NUL, got %q", w)
			}
		}
		c.wildcards, c.wildcardsSet = append([]string(nil), wildcards...), true
		return nil
	}
}

// WithAccountcodes adds accountcodes to the platform, which always has
// "default".
func WithAccountcodes(accountcodes ...string) Option {
	return func(c *config) error {
		for _, a := range accountcodes {
			if strings.TrimSpace(a) == "" {
				return optErr("WithAccountcodes", "empty accountcode")
			}
		}
		c.accountcodes = append(c.accountcodes, accountcodes...)
		return nil
	}
}

// WithKey adds an access key allowed to call the given methods, or every
// method when none are given. Requests with a key the platform does not
// know, or for a method the key is not allowed, get PERMISSION_DENIED.
// Key returns a key allowed everything whatever keys are added.
func WithKey(key string, methods ...string) Option {
	return func(c *config) error {
		if !validKey(key) {
			return optErr("WithKey", "a key is 1 to 20 ASCII letters and digits")
		}
		for _, m := range methods {
			if _, ok := catalog.Lookup(m); !ok {
				return optErr("WithKey", "unknown method %q", m)
			}
		}
		if methods == nil {
			methods = []string{}
		}
		c.keys[key] = append(c.keys[key], methods...)
		return nil
	}
}

// WithPermissionGroups adds permission groups ("locations"), which agents
// and SIP users can be assigned to. They are numbered from 1 in the order
// added; a group is named by its name or its number.
func WithPermissionGroups(names ...string) Option {
	return func(c *config) error {
		for _, n := range names {
			if strings.TrimSpace(n) == "" {
				return optErr("WithPermissionGroups", "empty name")
			}
		}
		c.groups = append(c.groups, names...)
		return nil
	}
}

// WithPauseReason defines the pause number that AgentPause's Reason names,
// and the description that its PAUSE event carries in "direction". The
// platform starts with 1 "Break", 2 "Lunch" and 3 "Meeting".
func WithPauseReason(number, description string) Option {
	return func(c *config) error {
		if !isDigits(number) {
			return optErr("WithPauseReason", "number must be digits, got %q", number)
		}
		c.pauseReasons[canon(number)] = description
		return nil
	}
}

// WithSeed runs a request when the platform starts, as Do does, before the
// broker accepts connections; Start fails if it does not succeed. Seeds run
// in the order given, after the other options.
//
//	ivtest.WithSeed("AgentQueueAdd", map[string]any{"accountcode": "default", "user": "1001",
//		"queues": []any{map[string]any{"name": "7000", "priority": "0"}}})
func WithSeed(method string, args map[string]any) Option {
	return func(c *config) error {
		if _, ok := catalog.Lookup(method); !ok {
			return optErr("WithSeed", "unknown method %q", method)
		}
		c.seeds = append(c.seeds, seed{method, args})
		return nil
	}
}

// WithAgent creates an agent when the platform starts (AgentAdd); pass and
// name may be empty.
func WithAgent(accountcode, user, pass, name string) Option {
	return withAdd("WithAgent", "AgentAdd", map[string]any{"accountcode": accountcode, "user": user, "pass": pass, "name": name})
}

// WithQueue creates a queue with the platform's defaults when the platform
// starts (QueueAdd).
func WithQueue(accountcode, name string) Option {
	return withAdd("WithQueue", "QueueAdd", map[string]any{"accountcode": accountcode, "name": name})
}

// WithSipUser creates a SIP user with the platform's defaults when the
// platform starts (SipUserAdd).
func WithSipUser(accountcode, name string) Option {
	return withAdd("WithSipUser", "SipUserAdd", map[string]any{"accountcode": accountcode, "name": name})
}

// withAdd is the option opt, which seeds method with args once they have
// the arguments the reference makes mandatory, and digits where it wants
// digits; an empty value is an argument not given.
func withAdd(opt, method string, args map[string]any) Option {
	return func(c *config) error {
		m, ok := catalog.Lookup(method)
		if !ok {
			return optErr(opt, "unknown method %q", method)
		}
		for _, a := range m.Args {
			v, _ := args[a.Name].(string)
			switch {
			case v == "" && a.Required:
				return optErr(opt, "%s is required", a.Name)
			case v != "" && a.Digits && strings.Trim(v, "0123456789") != "":
				return optErr(opt, "%s must be digits, got %q", a.Name, v)
			}
		}
		c.seeds = append(c.seeds, seed{method, args})
		return nil
	}
}

// WithLogger sets where the platform logs (nothing by default). It never
// logs access keys or passcodes.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return optErr("WithLogger", "nil logger")
		}
		c.log = l
		return nil
	}
}

// WithClock sets the platform's clock, which stamps unique ids and agent
// status times (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return optErr("WithClock", "nil function")
		}
		c.now = now
		return nil
	}
}

// WithNewCallOutcome sets how the remote party answers calls placed with
// the NewCall method (default Answer); see Outcome and SetNewCallOutcome.
func WithNewCallOutcome(o Outcome) Option {
	return func(c *config) error {
		if o.check() != nil {
			return optErr("WithNewCallOutcome", "%q is neither a hangup reason nor Ring", string(o))
		}
		c.newCallOutcome = o
		return nil
	}
}

// WithLicensedAgents limits how many agents may be logged in at once on the
// whole platform: an AgentLogin beyond n gets RESPONSE_NO_LICENSE ("the
// number of licensed agents was exceeded"). The reference does not say
// what a licence counts; the fake counts logged-in agents, the seats a
// call centre pays for, not the agents configured. 0, the default, is no
// limit.
func WithLicensedAgents(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return optErr("WithLicensedAgents", "n must be at least 0, got %d", n)
		}
		c.licensedAgents = n
		return nil
	}
}

// WithPythonLists makes the STOMP replies of QueueList and SipUserList come
// as the reference prints them, Python lists of single-quoted strings
// ([0, ['1002', '0015'], "id"]), instead of JSON.
func WithPythonLists() Option {
	return func(c *config) error {
		c.pythonLists = true
		return nil
	}
}

// optErr is the error of the option name; Start, which applies the
// options, wraps it.
func optErr(name, format string, a ...any) error {
	return errors.New(name + ": " + fmt.Sprintf(format, a...))
}

// checkLogin refuses a login or passcode that would break the frame it is
// sent in. Neither is quoted: the passcode is a secret.
func checkLogin(opt, login, passcode string) error {
	if strings.ContainsAny(login, "\r\n\x00") || strings.ContainsAny(passcode, "\r\n\x00") {
		return optErr(opt, "login and passcode must not contain line breaks or NUL")
	}
	return nil
}

// Outcome says how the called party responds in a call flow.
//
// Answer (the empty outcome) answers the call, which then stays up until
// EndCall or the Hangup method. An outcome named after an unanswered hangup reason (NOANSWER,
// BUSY, FAILED, UNKNOWN, QUEUEGIVEUP, QUEUEMISSED, PICKUP) ends the call
// before it is answered, with a HANGUP carrying that reason. Any other
// hangup reason (BYCALLER, BYCALLEE, ATRANSFER, BTRANSFER, MSSTOP, MSSTART,
// MSGONE) answers the call and ends it at once with that reason. Ring
// leaves the call ringing until AnswerCall or EndCall.
type Outcome string

// Common outcomes; any of the 14 hangup reasons is an Outcome too, for
// example Outcome(events.ReasonByCallee).
const (
	Answer      Outcome = ""
	NoAnswer    Outcome = events.ReasonNoAnswer
	Busy        Outcome = events.ReasonBusy
	Failed      Outcome = events.ReasonFailed
	QueueMissed Outcome = events.ReasonQueueMissed
	QueueGiveUp Outcome = events.ReasonQueueGiveUp
	Ring        Outcome = "RING" // not a hangup reason: the call rings until AnswerCall or EndCall
)

func (o Outcome) check() error {
	if o == Answer || o == Ring {
		return nil
	}
	for _, r := range events.HangupReasons() {
		if string(o) == r {
			return nil
		}
	}
	return fmt.Errorf("ivtest: unknown call outcome %q", string(o))
}

// answered reports whether the call is answered before it ends.
func (o Outcome) answered() bool {
	switch o {
	case NoAnswer, Busy, Failed, QueueMissed, QueueGiveUp, events.ReasonUnknown, events.ReasonPickup, Ring:
		return false
	}
	return true
}

// ends reports whether the call ends as soon as it is played.
func (o Outcome) ends() bool { return o != Answer && o != Ring }
