package ivclient

import (
	"context"
	"errors"

	"github.com/instantvoice/instantvoice-go/internal/errs"
)

// Transport carries one request to the platform and decodes the reply
// payload into out (out may be nil). A non-zero return code comes back as
// *codes.Error. Implementations must be safe for use by many goroutines.
//
// The payload is handed to out as JSON: a transport that receives another
// form (IVWS sends XML) converts it first, so that every result type decodes
// the same way whichever transport carried it.
type Transport interface {
	// Call sends req and decodes the reply's payload into out (out may be
	// nil). It honours ctx and returns, wrapped, ctx.Err() when ctx ends
	// first.
	Call(ctx context.Context, req *Request, out any) error
	// Close releases the transport; later calls fail with ErrClosed.
	Close() error
}

// Request is one call of a platform method.
type Request struct {
	Method string // "AgentLogin", "QueueAdd", ...
	Key    string // the access key
	Args   any    // a struct whose json tags give the STOMP names and xml tags the SOAP names
}

// Errors of the client itself, before or around a call. Match them with
// errors.Is.
var (
	// ErrInvalidKey: the access key is empty, longer than 20 characters, or
	// not made of ASCII letters and digits.
	ErrInvalidKey = errors.New("instantvoice: invalid access key")
	// ErrInvalidArgument: an argument is missing or malformed (a nil
	// context too, for every function of the SDK that takes one); nothing
	// was sent.
	ErrInvalidArgument = errs.ErrInvalidArgument
	// ErrClosed: the client or its transport was closed.
	ErrClosed = errors.New("instantvoice: closed")
	// ErrNotSupported: the transport cannot do what was asked (events over SOAP).
	ErrNotSupported = errors.New("instantvoice: not supported by this transport")
	// ErrConnectionLost: the connection dropped while the call was in flight.
	// The request may or may not have reached the platform; it is not re-sent.
	// stompx also returns it, with nothing sent, for a call made while it is
	// reconnecting under WithFailFast, and once it has given up reconnecting.
	ErrConnectionLost = errors.New("instantvoice: connection lost")
	// ErrMalformedReply: the platform's reply could not be decoded.
	ErrMalformedReply = errors.New("instantvoice: malformed reply")
)
