package soapx

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// Option configures a Transport. Options are checked by New, which fails
// with the first invalid one.
type Option func(*options) error

type options struct {
	httpClient *http.Client
	user, pass string
	hasAuth    bool
	log        *slog.Logger
	namespace  string
	maxReply   int64
}

const (
	defaultMaxReply = 16 << 20 // bytes of one reply or WSDL
	maxIdleClients  = 128      // pooled gosoap clients kept for reuse
	maxErrorBody    = 512      // bytes of a non-SOAP error body kept in HTTPError
)

// WithHTTPClient sets the HTTP client used for the WSDL and every call: for
// TLS settings, proxies, or a Timeout that bounds every call. Its Transport
// carries the requests; its Timeout, CheckRedirect and Jar are honoured.
// The default is a client of the transport's own, whose idle connections
// Close closes.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) error {
		if c == nil {
			return invalidArg("soapx: WithHTTPClient: nil client")
		}
		o.httpClient = c
		return nil
	}
}

// WithBasicAuth sends HTTP basic credentials with the WSDL request and every
// call. Credentials written in the endpoint URL (http://user:pass@host/) are
// used the same way when this option is not given.
func WithBasicAuth(user, pass string) Option {
	return func(o *options) error {
		if user == "" {
			return invalidArg("soapx: WithBasicAuth: empty user name")
		}
		if strings.ContainsAny(user, ":\r\n") || strings.ContainsAny(pass, "\r\n") {
			return invalidArg("soapx: WithBasicAuth: user name contains ':' or a line break")
		}
		o.user, o.pass, o.hasAuth = user, pass, true
		return nil
	}
}

// WithLogger sets the logger for the transport's debug lines (the WSDL
// fetch, failed calls). Lines carry the method and the endpoint, never the
// access key or a request body. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return invalidArg("soapx: WithLogger: nil logger")
		}
		o.log = l
		return nil
	}
}

// WithNamespace sets the XML namespace of the request elements, overriding
// the target namespace the WSDL declares (IVWS declares "Ivws.Ivws").
func WithNamespace(ns string) Option {
	return func(o *options) error {
		if strings.TrimSpace(ns) == "" {
			return invalidArg("soapx: WithNamespace: empty namespace")
		}
		o.namespace = ns
		return nil
	}
}

// WithMaxReplySize bounds the size in bytes of one reply (and of the WSDL).
// A larger reply fails the call with ivclient.ErrMalformedReply. The default
// is 16 MiB.
func WithMaxReplySize(n int64) Option {
	return func(o *options) error {
		if n <= 0 {
			return invalidArg("soapx: WithMaxReplySize: size must be positive")
		}
		o.maxReply = n
		return nil
	}
}

// invalidArg is the error of a bad argument to New or an option: its text
// is text, and it matches ivclient.ErrInvalidArgument, as the client's own
// checks do. Nothing is sent.
func invalidArg(text string) error { return errs.Wrap(text, nil, "", errs.ErrInvalidArgument) }
