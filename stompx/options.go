package stompx

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// Defaults used when an option does not say otherwise.
const (
	// DefaultLogin and DefaultPasscode are the platform's STOMP credentials
	// as shipped.
	DefaultLogin    = "instantvoice"
	DefaultPasscode = "sT0MpM3"
	// DefaultVirtualHost is sent in the CONNECT frame's host header. RabbitMQ
	// reads it as the virtual host and refuses a host it does not know (such
	// as the broker's IP address, which is what go-stomp would send).
	DefaultVirtualHost = "/"
	// DefaultRequestQueue is where the platform reads requests.
	DefaultRequestQueue = "/queue/config"
	// DefaultHeartBeat is the heart-beat period asked of the broker in both
	// directions.
	DefaultHeartBeat = 10 * time.Second
	// DefaultConnectTimeout bounds one connection attempt (TCP, TLS and the
	// STOMP handshake), on top of the context given to Dial.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultReconnectMin and DefaultReconnectMax bound the delay between
	// reconnection attempts (exponential, with jitter).
	DefaultReconnectMin = 250 * time.Millisecond
	DefaultReconnectMax = 30 * time.Second
	// DefaultPort is added to an address given without a port.
	DefaultPort = "61613"
)

// Option configures a Transport. Options are checked by Dial, which returns
// the first option error.
type Option func(*options) error

type options struct {
	login, passcode string
	loginSet        bool
	tls             *tls.Config
	vhost           string
	hbSend, hbRecv  time.Duration
	hbSet           bool
	logger          *slog.Logger
	eventBuffer     int
	blockingEvents  bool
	wildcard        string
	requestQueue    string
	reconnect       bool
	addrs           []string
	backoffMin      time.Duration
	backoffMax      time.Duration
	maxReconnects   int
	retryFirst      bool
	failFast        bool
	stateHandler    func(StateChange)
	connectTimeout  time.Duration
	noExpiry        bool // WithoutRequestExpiry
	frameLimits     frameLimits
	oneConn         bool   // tests only (export_test.go): one STOMP connection, to measure the design against
	ioEndHook       func() // tests only (export_test.go): runs as go-stomp closes a connection (watchedConn.Close)
}

func defaultOptions() *options {
	return &options{reconnect: true, maxReconnects: 0}
}

// finish applies the defaults to whatever the options left unset.
func (o *options) finish() {
	if !o.loginSet {
		o.login, o.passcode = DefaultLogin, DefaultPasscode
	}
	if o.vhost == "" {
		o.vhost = DefaultVirtualHost
	}
	if !o.hbSet {
		o.hbSend, o.hbRecv = DefaultHeartBeat, DefaultHeartBeat
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.eventBuffer == 0 {
		o.eventBuffer = events.DefaultBuffer
	}
	if o.wildcard == "" {
		o.wildcard = "#"
	}
	if o.requestQueue == "" {
		o.requestQueue = DefaultRequestQueue
	}
	if o.backoffMin == 0 {
		o.backoffMin = DefaultReconnectMin
	}
	if o.backoffMax == 0 {
		o.backoffMax = DefaultReconnectMax
	}
	if o.backoffMax < o.backoffMin {
		o.backoffMax = o.backoffMin
	}
	if o.connectTimeout == 0 {
		o.connectTimeout = DefaultConnectTimeout
	}
	if o.frameLimits == (frameLimits{}) {
		o.frameLimits = frameLimits{DefaultMaxHeaderLine, DefaultMaxHeaders, DefaultMaxFrameBody}
	}
}

// optErr is the error of the option name; the function that applies the
// options wraps it (applyOptions, parseDurableOptions).
func optErr(name, format string, a ...any) error {
	return errors.New(name + ": " + fmt.Sprintf(format, a...))
}

// applyOptions applies opts over the defaults, for Dial. A nil option or
// a bad value is an error wrapping ivclient.ErrInvalidArgument.
func applyOptions(opts []Option) (*options, error) {
	o := defaultOptions()
	for i, opt := range opts {
		if opt == nil {
			return nil, errs.Wrap("stompx: Dial", errs.ErrInvalidArgument, fmt.Sprintf("option %d is nil", i+1), nil)
		}
		if err := opt(o); err != nil {
			return nil, errs.Wrap("stompx: Dial", errs.ErrInvalidArgument, err.Error(), nil)
		}
	}
	o.finish()
	return o, nil
}

// WithLogin sets the STOMP login and passcode (default "instantvoice" /
// "sT0MpM3", the platform's). The passcode never appears in logs or errors.
func WithLogin(login, passcode string) Option {
	return func(o *options) error {
		if strings.ContainsAny(login, "\r\n\x00") || strings.ContainsAny(passcode, "\r\n\x00") {
			return optErr("WithLogin", "login and passcode must not contain line breaks or NUL")
		}
		o.login, o.passcode, o.loginSet = login, passcode, true
		return nil
	}
}

// WithTLS makes the transport dial TLS with cfg. A nil cfg means a default
// TLS configuration (the server name is taken from the address).
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) error {
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		o.tls = cfg.Clone()
		return nil
	}
}

// WithVirtualHost sets the host header of the CONNECT frame, which RabbitMQ
// reads as the virtual host (default "/").
func WithVirtualHost(host string) Option {
	return func(o *options) error {
		if host == "" || strings.ContainsAny(host, "\r\n\x00") {
			return optErr("WithVirtualHost", "the host must be non-empty and on one line")
		}
		o.vhost = host
		return nil
	}
}

// WithHeartBeat sets the heart-beat periods asked of the broker: send is how
// often the transport promises to send something, recv how often it wants
// to hear from the broker (default 10s each; 0 turns that direction off).
// A broker that sends nothing for about twice the negotiated period is taken
// as gone and the transport reconnects. If the broker declines to send
// heart-beats although recv asked for them, the transport reconnects once
// without asking, so that an idle connection is not dropped by mistake.
func WithHeartBeat(send, recv time.Duration) Option {
	return func(o *options) error {
		if send < 0 || recv < 0 {
			return optErr("WithHeartBeat", "periods must not be negative")
		}
		if (send > 0 && send < time.Millisecond) || (recv > 0 && recv < time.Millisecond) {
			return optErr("WithHeartBeat", "periods below 1ms are not supported")
		}
		o.hbSend, o.hbRecv, o.hbSet = send, recv, true
		return nil
	}
}

// WithLogger sets the logger of the transport and of the go-stomp
// connections under it. The default logs nothing. Access keys and the
// passcode are never logged; reply destinations are logged redacted.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return optErr("WithLogger", "nil logger")
		}
		o.logger = l
		return nil
	}
}

// WithEventBuffer sets how many events each subscription buffers for its
// consumer (default events.DefaultBuffer). Beyond it events are dropped and
// counted, unless WithBlockingEvents was chosen.
func WithEventBuffer(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return optErr("WithEventBuffer", "the buffer must hold at least 1 event, got %d", n)
		}
		o.eventBuffer = n
		return nil
	}
}

// WithBlockingEvents makes a subscription whose buffer is full wait for its
// consumer instead of dropping events. The cost: while a consumer is behind,
// the connection that carries events and replies stops reading, so replies
// and heart-beats wait too, and the broker may drop the connection.
func WithBlockingEvents() Option {
	return func(o *options) error { o.blockingEvents = true; return nil }
}

// WithWildcard sets the broker's multi-level topic wildcard: "#" (RabbitMQ,
// the default) or ">" (ActiveMQ). Subscribe rewrites a trailing ".#" of a
// topic (as in events.AllAgents) to "." + wildcard.
func WithWildcard(w string) Option {
	return func(o *options) error {
		if w == "" || strings.ContainsAny(w, " ./\r\n\x00") {
			return optErr("WithWildcard", "the wildcard must be one non-empty word such as \"#\" or \">\"")
		}
		o.wildcard = w
		return nil
	}
}

// WithRequestQueue sets the destination requests are sent to (default
// "/queue/config").
func WithRequestQueue(dest string) Option {
	return func(o *options) error {
		if !strings.HasPrefix(dest, "/") || len(dest) < 2 || strings.ContainsAny(dest, "\r\n\x00") {
			return optErr("WithRequestQueue", "the destination must start with '/'")
		}
		o.requestQueue = dest
		return nil
	}
}

// WithoutReconnect turns reconnection off (the one way to: by default the
// transport reconnects forever): when the connection drops, calls in
// flight fail with ivclient.ErrConnectionLost, subscriptions end, and the
// transport stays closed. Durable subscriptions end likewise when their
// own connection drops.
func WithoutReconnect() Option {
	return func(o *options) error { o.reconnect = false; return nil }
}

// WithAddrs adds broker addresses (host:port, a port-less host gets 61613)
// tried after the one given to Dial, in order, when connecting and
// reconnecting: the members of a RabbitMQ cluster, for instance.
func WithAddrs(addrs ...string) Option {
	return func(o *options) error {
		for _, a := range addrs {
			n, err := normalizeAddr(a)
			if err != nil {
				return optErr("WithAddrs", "%v", err)
			}
			o.addrs = append(o.addrs, n)
		}
		return nil
	}
}

// WithReconnectBackoff sets the delay between reconnection attempts: it
// starts at min, doubles with each failed attempt up to max, and is
// jittered (between half and all of it). Defaults 250ms and 30s.
func WithReconnectBackoff(min, max time.Duration) Option {
	return func(o *options) error {
		if min <= 0 || max <= 0 || max < min {
			return optErr("WithReconnectBackoff", "need 0 < min <= max")
		}
		o.backoffMin, o.backoffMax = min, max
		return nil
	}
}

// WithMaxReconnects bounds the reconnection attempts after one connection
// loss to n (at least 1; without this option the transport retries
// forever; WithoutReconnect turns reconnection off). When the attempts run
// out the transport closes itself with an error wrapping
// ivclient.ErrConnectionLost.
func WithMaxReconnects(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return optErr("WithMaxReconnects", "n must be at least 1 (leave the option out to retry forever, WithoutReconnect for none), got %d", n)
		}
		o.maxReconnects = n
		return nil
	}
}

// WithRetryOnFailedConnect makes Dial return a transport even when the
// first connection fails (except for a refused login): it keeps connecting
// in the background as it reconnects, and calls wait for it within their
// deadline. Without it (the default), or WithoutReconnect, Dial returns the
// error.
func WithRetryOnFailedConnect(retry bool) Option {
	return func(o *options) error { o.retryFirst = retry; return nil }
}

// WithFailFast makes calls and subscriptions made while the transport is
// not connected fail at once with an error wrapping
// ivclient.ErrConnectionLost, instead of waiting for the connection within
// their deadline.
func WithFailFast(failFast bool) Option {
	return func(o *options) error { o.failFast = failFast; return nil }
}

// WithStateHandler sets a function called with every connection state
// change, in order, on a goroutine of its own (never the one doing I/O).
// It should return promptly: later changes wait for it, and Close waits for
// it to return after the final Closed.
func WithStateHandler(f func(StateChange)) Option {
	return func(o *options) error {
		if f == nil {
			return optErr("WithStateHandler", "nil handler")
		}
		o.stateHandler = f
		return nil
	}
}

// WithConnectTimeout bounds one connection attempt: TCP, TLS and the STOMP
// handshake, plus restoring subscriptions (default 10s). Dial's context
// bounds the first attempt too.
func WithConnectTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return optErr("WithConnectTimeout", "must be positive")
		}
		o.connectTimeout = d
		return nil
	}
}

// WithFrameLimits bounds every frame the broker sends: maxLine the length
// of its command line and of each header line in bytes (default
// DefaultMaxHeaderLine, 16 KiB), maxHeaders the number of its headers
// (default DefaultMaxHeaders, 128), maxBody its body in bytes (default
// DefaultMaxFrameBody, 16 MiB). The limits are checked as the bytes arrive,
// before go-stomp buffers them; a frame past one of them drops the
// connection with an error wrapping ErrFrameTooLarge, and the transport
// reconnects. Each must be at least 1; a reply larger than maxBody cannot
// be received, so raise it only if the platform's replies need it.
func WithFrameLimits(maxLine, maxHeaders, maxBody int) Option {
	return func(o *options) error {
		if maxLine < 1 || maxHeaders < 1 || maxBody < 1 {
			return optErr("WithFrameLimits", "every limit must be at least 1, got %d, %d, %d", maxLine, maxHeaders, maxBody)
		}
		o.frameLimits = frameLimits{line: maxLine, headers: maxHeaders, body: maxBody}
		return nil
	}
}
