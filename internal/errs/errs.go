// Package errs builds the SDK's errors so that each package's text starts
// with that package's prefix once ("stompx: connection lost: EOF", not
// "stompx: instantvoice: connection lost: EOF") while errors.Is and
// errors.As still find the sentinel and the cause behind it.
//
// It also holds the one sentinel that packages below ivclient (events)
// need: ivclient.ErrInvalidArgument is ErrInvalidArgument.
package errs

import (
	"errors"
	"strings"
)

// ErrInvalidArgument is ivclient.ErrInvalidArgument: an argument is missing
// or malformed, and nothing was done.
var ErrInvalidArgument = errors.New("instantvoice: invalid argument")

// Error is an error with a fixed text that matches the errors it wraps.
type Error struct {
	msg  string
	errs []error
}

// Error returns the error's text.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the sentinel and the cause the error matches.
func (e *Error) Unwrap() []error { return e.errs }

// Wrap returns an error whose text is prefix, the text of kind without its
// own package prefix, and detail (when not empty), joined by ": ", and which
// matches kind and cause (either may be nil) with errors.Is and errors.As:
//
//	Wrap("stompx", ivclient.ErrMalformedReply, "unexpected end of JSON input", nil)
//	// stompx: malformed reply: unexpected end of JSON input
func Wrap(prefix string, kind error, detail string, cause error) error {
	e := &Error{msg: prefix}
	if kind != nil {
		e.msg += ": " + Text(kind)
		e.errs = append(e.errs, kind)
	}
	if detail != "" {
		e.msg += ": " + detail
	}
	if cause != nil {
		e.errs = append(e.errs, cause)
	}
	return e
}

// Text returns err's text without the package prefix it starts with
// ("instantvoice: closed" gives "closed", "stompx: transport closed" gives
// "transport closed"); a text without one is returned as it is.
func Text(err error) string {
	s := err.Error()
	i := strings.Index(s, ": ")
	if i <= 0 {
		return s
	}
	for _, c := range s[:i] {
		if c < 'a' || c > 'z' {
			return s
		}
	}
	return s[i+2:]
}
