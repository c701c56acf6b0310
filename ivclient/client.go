package ivclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// MaxKeyLen is the longest access key the platform accepts.
const MaxKeyLen = 20

// DefaultCallTimeout is how long a call whose context has no deadline may
// wait for its reply, unless WithCallTimeout or WithoutCallTimeout says
// otherwise.
const DefaultCallTimeout = 30 * time.Second

// Client calls the platform's 41 integration methods with one access key
// over a Transport. It is safe for use by many goroutines; several clients
// with different keys may share one transport (see KeepTransportOpen).
type Client struct {
	t        Transport
	key      string
	closed   atomic.Bool
	log      *slog.Logger
	keepOpen bool
	// autoAgent prefixes bare agent numbers (off with WithRawAgentNames).
	autoAgent   bool
	callTimeout time.Duration // 0: none
	observe     func(context.Context, CallInfo)
	fields      sync.Map // reflect.Type -> []wire.Field, for prepare
}

// Option configures a Client. A bad value, or a nil Option, makes New fail
// with an error matching ErrInvalidArgument. An Option made by another
// package (ivotel.Observer) may return such an error of its own, which New
// returns as it is.
type Option func(*options) error

type options struct {
	log         *slog.Logger
	keepOpen    bool
	rawAgents   bool
	callTimeout time.Duration
	noTimeout   bool
	observe     func(context.Context, CallInfo)
}

// WithLogger sets the logger for the client's debug lines (one per call, at
// slog.LevelDebug, with the method, never the key). The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("WithLogger: nil logger")
		}
		o.log = l
		return nil
	}
}

// KeepTransportOpen makes Close leave the transport open, for clients that
// share one transport (a CRM serving many tenants, each with its own key).
// Without it, Close closes the transport too.
func KeepTransportOpen() Option {
	return func(o *options) error { o.keepOpen = true; return nil }
}

// WithRawAgentNames turns off the prefixing of bare agent numbers: by
// default, the agent methods that take "<accountcode>_<number>" (AgentLogin,
// AgentLogoff, AgentPause, AgentUnpause, BlindTransfer, NewCall) accept a
// bare number such as "1001" and send "default_1001".
func WithRawAgentNames() Option {
	return func(o *options) error { o.rawAgents = true; return nil }
}

// WithCallTimeout sets how long a call whose context has no deadline may
// wait for its reply (DefaultCallTimeout without this option); d must be
// positive. A call whose context has a deadline keeps it.
func WithCallTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("WithCallTimeout: d must be positive, got %v", d)
		}
		o.callTimeout, o.noTimeout = d, false
		return nil
	}
}

// WithoutCallTimeout makes a call whose context has no deadline wait for
// its reply as long as the transport does, with no deadline of the
// client's.
func WithoutCallTimeout() Option {
	return func(o *options) error { o.callTimeout, o.noTimeout = 0, true; return nil }
}

// CallInfo describes one finished call, for logs, metrics and traces. It
// never holds the key.
type CallInfo struct {
	Method   string        // "AgentLogin", ...
	Duration time.Duration // from the call until its reply, error or deadline
	Err      error         // nil on success; *codes.Error for a platform code
}

// WithObserver calls f after every call of the client, on the caller's
// goroutine, before the method returns, with the call's context (so that a
// trace span in it can be used; context.Background() for a call made with a
// nil context). Calls refused before sending (an invalid argument, a closed
// client) are observed too. f should return promptly: the method waits for
// it. Without WithObserver, calls cost nothing extra.
func WithObserver(f func(ctx context.Context, info CallInfo)) Option {
	return func(o *options) error {
		if f == nil {
			return fmt.Errorf("WithObserver: nil observer")
		}
		o.observe = f
		return nil
	}
}

// New checks the key (1-20 ASCII letters and digits) and returns a client;
// it never dials. A nil transport, an invalid key (which also matches
// ErrInvalidKey) and a bad or nil option fail with an error matching
// ErrInvalidArgument.
func New(t Transport, key string, opts ...Option) (*Client, error) {
	const op = "ivclient: New"
	if t == nil {
		return nil, errs.Wrap(op, ErrInvalidArgument, "nil transport", nil)
	}
	if detail := keyProblem(key); detail != "" {
		return nil, errs.Wrap(op, ErrInvalidKey, detail, ErrInvalidArgument)
	}
	var o options
	for i, opt := range opts {
		if opt == nil {
			return nil, errs.Wrap(op, ErrInvalidArgument, fmt.Sprintf("option %d is nil", i+1), nil)
		}
		if err := opt(&o); err != nil {
			if errors.Is(err, ErrInvalidArgument) {
				return nil, err // an option of another package (ivotel.Observer) that says it all
			}
			return nil, errs.Wrap(op, ErrInvalidArgument, err.Error(), nil)
		}
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.callTimeout == 0 && !o.noTimeout {
		o.callTimeout = DefaultCallTimeout
	}
	return &Client{t: t, key: key, log: o.log, keepOpen: o.keepOpen, autoAgent: !o.rawAgents,
		callTimeout: o.callTimeout, observe: o.observe}, nil
}

// CheckKey reports whether key is a valid access key: 1 to 20 ASCII letters
// and digits. The error matches ErrInvalidKey and ErrInvalidArgument and
// does not contain the key. Its text, "ivclient: invalid access key: ...",
// names no function: the transports that check a request's key put their
// own prefix in its place ("stompx: invalid access key: empty").
func CheckKey(key string) error {
	if detail := keyProblem(key); detail != "" {
		return errs.Wrap("ivclient", ErrInvalidKey, detail, ErrInvalidArgument)
	}
	return nil
}

// keyProblem says what is wrong with key, "" for nothing.
func keyProblem(key string) string {
	switch {
	case key == "":
		return "empty"
	case len(key) > MaxKeyLen:
		return fmt.Sprintf("%d characters, the platform allows at most %d", len(key), MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Sprintf("character %d is not an ASCII letter or digit", i+1)
		}
	}
	return ""
}

// Transport returns the client's transport.
func (c *Client) Transport() Transport { return c.t }

// Close closes the client and, unless it was made with KeepTransportOpen,
// its transport. Calls after Close fail with ErrClosed. Close is
// idempotent.
func (c *Client) Close() error {
	if c.closed.Swap(true) || c.keepOpen {
		return nil
	}
	return c.t.Close()
}

// call is the one path every method takes: check the arguments, send,
// decode, and tell the observer.
func (c *Client) call(ctx context.Context, method string, args any, out any) error {
	if c.observe == nil {
		return c.send(ctx, method, args, out)
	}
	start := time.Now()
	err := c.send(ctx, method, args, out)
	if ctx == nil {
		ctx = context.Background()
	}
	c.observe(ctx, CallInfo{Method: method, Duration: time.Since(start), Err: err})
	return err
}

// send checks and completes the arguments, sends the request within the
// call's deadline and decodes the reply.
func (c *Client) send(ctx context.Context, method string, args any, out any) error {
	if ctx == nil {
		return errs.Wrap("instantvoice: "+method, ErrInvalidArgument, "nil context", nil)
	}
	if c.closed.Load() {
		return errs.Wrap("instantvoice: "+method, ErrClosed, "", nil)
	}
	if err := c.prepare(method, args); err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok && c.callTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.callTimeout)
		defer cancel()
	}
	err := withMethod(method, c.t.Call(ctx, &Request{Method: method, Key: c.key, Args: args}, out))
	if c.log.Enabled(ctx, slog.LevelDebug) {
		if err != nil {
			c.log.LogAttrs(ctx, slog.LevelDebug, "instantvoice call failed", slog.String("method", method), slog.String("error", err.Error()))
		} else {
			c.log.LogAttrs(ctx, slog.LevelDebug, "instantvoice call", slog.String("method", method))
		}
	}
	return err
}

// withMethod names the method in the text of a transport's error, once.
// This is the one place that does: the transports leave it out ("stompx:
// connection lost"), and the errors that carry the method themselves
// (*codes.Error, soapx's *Fault when it names a code) already start with
// "instantvoice: <Method>: ".
func withMethod(method string, err error) error {
	if err == nil {
		return nil
	}
	if strings.HasPrefix(err.Error(), "instantvoice: "+method+": ") {
		return err
	}
	return fmt.Errorf("instantvoice: %s: %w", method, err)
}

// ArgError is an argument the client refused before sending anything. It
// matches ErrInvalidArgument with errors.Is.
type ArgError struct {
	Method string // the platform method, e.g. "QueueAdd"
	Arg    string // the argument's wire name, e.g. "name"; several, ", "-separated, when all are missing
	Reason string // what is wrong
}

// Error returns "instantvoice: <Method>: argument <Arg> <Reason>".
func (e *ArgError) Error() string {
	word := "argument "
	if strings.Contains(e.Arg, ", ") {
		word = "arguments "
	}
	return "instantvoice: " + e.Method + ": " + word + e.Arg + " " + e.Reason
}

// Is reports whether target is ErrInvalidArgument.
func (e *ArgError) Is(target error) bool { return target == ErrInvalidArgument }

// Ptr returns a pointer to v, for the optional fields of the body structs:
// Queue{Timeout: ivclient.Ptr(30)}.
func Ptr[T any](v T) *T { return &v }
