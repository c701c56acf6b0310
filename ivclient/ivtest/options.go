package ivtest

import (
	"log/slog"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/fakeplatform"
)

// An Option configures a Platform.
type Option = fakeplatform.Option

// WithSTOMPAddr sets the address the embedded broker listens on (default
// "127.0.0.1:0", a free loopback port).
func WithSTOMPAddr(addr string) Option { return fakeplatform.WithSTOMPAddr(addr) }

// WithSOAPAddr sets the address the IVWS endpoint listens on (default
// "127.0.0.1:0", a free loopback port; the platform's own is port 7789).
func WithSOAPAddr(addr string) Option { return fakeplatform.WithSOAPAddr(addr) }

// WithSTOMPLogin sets the login and passcode the embedded broker accepts
// (default stompx.DefaultLogin and stompx.DefaultPasscode, the platform's
// own, which stompx.Dial uses). Empty
// login and passcode accept any client; neither may contain a line break
// or NUL.
func WithSTOMPLogin(login, passcode string) Option {
	return fakeplatform.WithSTOMPLogin(login, passcode)
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
	return fakeplatform.WithExternalBroker(addr, login, passcode)
}

// WithRequestQueue sets the destination the processor reads requests from
// (default stompx.DefaultRequestQueue, "/queue/config").
func WithRequestQueue(dest string) Option { return fakeplatform.WithRequestQueue(dest) }

// WithEventWildcards sets the wildcards of the all-agents topics that the
// embedded broker's subscribers can use. The embedded broker matches topics
// exactly, so the platform publishes every event to its agent's topic and
// to events.AllAgentsTopic(w) for each wildcard w: "#" (RabbitMQ's
// spelling, the default) and ">" (ActiveMQ's). No wildcards publishes to
// the agent's topic only. With an external broker this option has no effect.
func WithEventWildcards(wildcards ...string) Option {
	return fakeplatform.WithEventWildcards(wildcards...)
}

// WithAccountcodes adds accountcodes to the platform, which always has
// "default".
func WithAccountcodes(accountcodes ...string) Option {
	return fakeplatform.WithAccountcodes(accountcodes...)
}

// WithKey adds an access key allowed to call the given methods, or every
// method when none are given. Requests with a key the platform does not
// know, or for a method the key is not allowed, get PERMISSION_DENIED.
// Key returns a key allowed everything whatever keys are added.
func WithKey(key string, methods ...string) Option { return fakeplatform.WithKey(key, methods...) }

// WithPermissionGroups adds permission groups ("locations"), which agents
// and SIP users can be assigned to. They are numbered from 1 in the order
// added; a group is named by its name or its number.
func WithPermissionGroups(names ...string) Option { return fakeplatform.WithPermissionGroups(names...) }

// WithPauseReason defines the pause number that AgentPause's Reason names,
// and the description that its PAUSE event carries in "direction". The
// platform starts with 1 "Break", 2 "Lunch" and 3 "Meeting".
func WithPauseReason(number, description string) Option {
	return fakeplatform.WithPauseReason(number, description)
}

// WithSeed runs a request when the platform starts, as Do does, before the
// broker accepts connections; Start fails if it does not succeed. Seeds run
// in the order given, after the other options.
//
//	ivtest.WithSeed("AgentQueueAdd", map[string]any{"accountcode": "default", "user": "1001",
//		"queues": []any{map[string]any{"name": "7000", "priority": "0"}}})
func WithSeed(method string, args map[string]any) Option { return fakeplatform.WithSeed(method, args) }

// WithAgent creates an agent when the platform starts (AgentAdd); pass and
// name may be empty.
func WithAgent(accountcode, user, pass, name string) Option {
	return fakeplatform.WithAgent(accountcode, user, pass, name)
}

// WithQueue creates a queue with the platform's defaults when the platform
// starts (QueueAdd).
func WithQueue(accountcode, name string) Option { return fakeplatform.WithQueue(accountcode, name) }

// WithSipUser creates a SIP user with the platform's defaults when the
// platform starts (SipUserAdd).
func WithSipUser(accountcode, name string) Option { return fakeplatform.WithSipUser(accountcode, name) }

// WithLogger sets where the platform logs (nothing by default). It never
// logs access keys or passcodes.
func WithLogger(l *slog.Logger) Option { return fakeplatform.WithLogger(l) }

// WithClock sets the platform's clock, which stamps unique ids and agent
// status times (default time.Now).
func WithClock(now func() time.Time) Option { return fakeplatform.WithClock(now) }

// WithNewCallOutcome sets how the remote party answers calls placed with
// the NewCall method (default Answer); see Outcome and SetNewCallOutcome.
func WithNewCallOutcome(o Outcome) Option { return fakeplatform.WithNewCallOutcome(o) }

// WithLicensedAgents limits how many agents may be logged in at once on the
// whole platform: an AgentLogin beyond n gets RESPONSE_NO_LICENSE ("the
// number of licensed agents was exceeded"). The reference does not say
// what a licence counts; the fake counts logged-in agents, the seats a
// call centre pays for, not the agents configured. 0, the default, is no
// limit.
func WithLicensedAgents(n int) Option { return fakeplatform.WithLicensedAgents(n) }

// WithPythonLists makes the STOMP replies of QueueList and SipUserList come
// as the reference prints them, Python lists of single-quoted strings
// ([0, ['1002', '0015'], "id"]), instead of JSON.
func WithPythonLists() Option { return fakeplatform.WithPythonLists() }
