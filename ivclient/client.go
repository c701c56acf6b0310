package ivclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// MaxKeyLen is the longest access key the platform accepts.
const MaxKeyLen = 20

// Client calls the platform's 41 integration methods with one access key
// over a Transport. It is safe for use by many goroutines; several clients
// with different keys may share one transport (see KeepTransportOpen).
type Client struct {
	t         Transport
	key       string
	log       *slog.Logger
	keepOpen  bool
	closed    atomic.Bool
	autoAgent bool
	observe   func(context.Context, CallInfo)
}

// Option configures a Client.
type Option func(*options) error

type options struct {
	log       *slog.Logger
	keepOpen  bool
	rawAgents bool
	observe   func(context.Context, CallInfo)
}

// WithLogger sets the logger for the client's debug lines (one per call, at
// slog.LevelDebug, with the method, never the key). The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("instantvoice: WithLogger: nil logger")
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
			return errors.New("instantvoice: WithObserver: nil observer")
		}
		o.observe = f
		return nil
	}
}

// New checks the key (1-20 ASCII letters and digits) and returns a client;
// it never dials.
func New(t Transport, key string, opts ...Option) (*Client, error) {
	if t == nil {
		return nil, errors.New("instantvoice: New: nil transport")
	}
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if kh, ok := t.(KeyHolder); ok {
		kh.AcquireKey(key)
	}
	return &Client{t: t, key: key, log: o.log, keepOpen: o.keepOpen, autoAgent: !o.rawAgents, observe: o.observe}, nil
}

// CheckKey reports whether key is a valid access key: 1 to 20 ASCII letters
// and digits. The error wraps ErrInvalidKey and does not contain the key.
func CheckKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: %d characters, the platform allows at most %d", ErrInvalidKey, len(key), MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("%w: character %d is not an ASCII letter or digit", ErrInvalidKey, i+1)
		}
	}
	return nil
}

// Transport returns the client's transport.
func (c *Client) Transport() Transport { return c.t }

// Close closes the client and, unless it was made with KeepTransportOpen,
// its transport. A transport that keeps something per key (KeyHolder) is
// told that this client of the key is gone. Calls after Close fail with
// ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	if kh, ok := c.t.(KeyHolder); ok {
		kh.ReleaseKey(c.key)
	}
	if c.keepOpen {
		return nil
	}
	return c.t.Close()
}

// Subscribe subscribes to event topics (events.AgentTopic, events.AllAgents)
// through the client's transport. It fails with ErrNotSupported when the
// transport cannot deliver events (SOAP).
func (c *Client) Subscribe(ctx context.Context, topics ...string) (*events.Subscription, error) {
	const op = "instantvoice: Subscribe"
	if ctx == nil {
		return nil, errs.Wrap(op, ErrInvalidArgument, "nil context", nil)
	}
	if c.closed.Load() {
		return nil, errs.Wrap(op, ErrClosed, "", nil)
	}
	s, ok := c.t.(Subscriber)
	if !ok {
		return nil, errs.Wrap(op, ErrNotSupported, fmt.Sprintf("%T delivers no events", c.t), nil)
	}
	return s.Subscribe(ctx, topics...)
}

// call is the one path every method takes: check the arguments, send,
// decode, and tell the observer.
func (c *Client) call(ctx context.Context, method string, args any, out any) error {
	if c.observe == nil {
		return c.send(ctx, method, args, out)
	}
	start := time.Now()
	err := c.send(ctx, method, args, out)
	c.observe(orBackground(ctx), CallInfo{Method: method, Duration: time.Since(start), Err: err})
	return err
}

// send checks the arguments, sends the request and decodes the reply.
func (c *Client) send(ctx context.Context, method string, args any, out any) error {
	if ctx == nil {
		return errs.Wrap("instantvoice: "+method, ErrInvalidArgument, "nil context", nil)
	}
	if c.closed.Load() {
		return errs.Wrap("instantvoice: "+method, ErrClosed, "", nil)
	}
	if err := validate(method, args); err != nil {
		return err
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

// agentName returns "<accountcode>_<number>" for a bare number.
func (c *Client) agentName(accountcode, user string) string {
	if !c.autoAgent || user == "" || accountcode == "" || !isDigits(user) {
		return user
	}
	return accountcode + "_" + user
}

// ArgError is an argument the client refused before sending anything. It
// matches ErrInvalidArgument with errors.Is.
type ArgError struct {
	Method string // the platform method, e.g. "QueueAdd"
	Arg    string // the argument's wire name, e.g. "name"
	Reason string // what is wrong
}

// Error returns "instantvoice: <Method>: argument <Arg> <Reason>".
func (e *ArgError) Error() string {
	return "instantvoice: " + e.Method + ": argument " + e.Arg + " " + e.Reason
}

// Is reports whether target is ErrInvalidArgument.
func (e *ArgError) Is(target error) bool { return target == ErrInvalidArgument }

// validate checks the `iv` tags of args: "required" (not empty), "digits"
// (only ASCII digits when set), and recurses into slices of structs.
func validate(method string, args any) error {
	if args == nil {
		return nil
	}
	v := reflect.ValueOf(args)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return &ArgError{Method: method, Arg: "arguments", Reason: "is nil"}
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	return validateStruct(method, "", v, true)
}

// validateStruct checks one struct; inside an embedded struct tagged
// iv:"optional" (the body of a Modify method) nothing is required.
func validateStruct(method, prefix string, v reflect.Value, enforce bool) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fv := v.Field(i)
		tag := f.Tag.Get("iv")
		if f.Anonymous && fv.Kind() == reflect.Struct {
			if err := validateStruct(method, prefix, fv, enforce && !hasOpt(tag, "optional")); err != nil {
				return err
			}
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			name, _, _ = strings.Cut(f.Tag.Get("xml"), ",")
		}
		if name == "" {
			name = f.Name
		}
		name = prefix + name
		required, digits := enforce && hasOpt(tag, "required"), hasOpt(tag, "digits")
		switch fv.Kind() {
		case reflect.String:
			s := fv.String()
			if required && strings.TrimSpace(s) == "" {
				return &ArgError{Method: method, Arg: name, Reason: "is required"}
			}
			if digits && s != "" && !isDigits(s) {
				return &ArgError{Method: method, Arg: name, Reason: "must be a number"}
			}
			if strings.ContainsAny(s, "\x00") {
				return &ArgError{Method: method, Arg: name, Reason: "contains a NUL byte"}
			}
		case reflect.Int, reflect.Int64:
			if required && fv.Int() == 0 {
				return &ArgError{Method: method, Arg: name, Reason: "is required"}
			}
			if fv.Int() < 0 {
				return &ArgError{Method: method, Arg: name, Reason: "must not be negative"}
			}
		case reflect.Pointer:
			if required && fv.IsNil() {
				return &ArgError{Method: method, Arg: name, Reason: "is required"}
			}
			if !fv.IsNil() && fv.Elem().Kind() == reflect.Int && fv.Elem().Int() < 0 {
				return &ArgError{Method: method, Arg: name, Reason: "must not be negative"}
			}
		case reflect.Slice:
			if required && fv.Len() == 0 {
				return &ArgError{Method: method, Arg: name, Reason: "needs at least one item"}
			}
			for j := 0; j < fv.Len(); j++ {
				if it := fv.Index(j); it.Kind() == reflect.Struct {
					if err := validateStruct(method, fmt.Sprintf("%s[%d].", name, j), it, enforce); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func hasOpt(tag, opt string) bool {
	for tag != "" {
		var o string
		o, tag, _ = strings.Cut(tag, ",")
		if o == opt {
			return true
		}
	}
	return false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Ptr returns a pointer to v, for the optional fields of the body structs:
// Queue{Timeout: ivclient.Ptr(30)}.
func Ptr[T any](v T) *T { return &v }
