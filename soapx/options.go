package soapx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// Option configures a Transport. New checks every option: a bad value or a
// nil Option fails it with an error matching ivclient.ErrInvalidArgument,
// "soapx: New: invalid argument: <Option>: ...".
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
			return errors.New("WithHTTPClient: nil client")
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
			return errors.New("WithBasicAuth: empty user name")
		}
		if strings.ContainsAny(user, ":\r\n") || strings.ContainsAny(pass, "\r\n") {
			return errors.New("WithBasicAuth: user name contains ':' or a line break")
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
			return errors.New("WithLogger: nil logger")
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
			return errors.New("WithNamespace: empty namespace")
		}
		o.namespace = ns
		return nil
	}
}

// WithMaxReplySize bounds the size in bytes of one reply (and of the WSDL).
// A larger reply fails the call with ivclient.ErrMalformedReply; a request
// whose elements are larger is refused before it is sent, with
// ivclient.ErrInvalidArgument. The default is 16 MiB.
func WithMaxReplySize(n int64) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("WithMaxReplySize: n must be positive, got %d", n)
		}
		o.maxReply = n
		return nil
	}
}

// invalidArg is the error of a bad argument to New or of a bad option:
// "soapx: New: invalid argument: <detail>", matching
// ivclient.ErrInvalidArgument. detail names the option first.
func invalidArg(detail string) error {
	return errs.Wrap("soapx: New", errs.ErrInvalidArgument, detail, nil)
}
