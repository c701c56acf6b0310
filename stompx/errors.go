package stompx

import (
	"errors"

	"github.com/instantvoice/instantvoice-go/ivclient"
)

// ErrConnectRefused is wrapped by the error Dial returns when the broker
// answers CONNECT with an ERROR frame: a wrong login or passcode, or a
// virtual host the broker does not know. It is final: Dial does not retry
// it, even WithRetryOnFailedConnect. The error carries the broker's message
// but never the passcode.
var ErrConnectRefused = errors.New("stompx: broker refused the connection")

// transportError is an error of the transport with a fixed, already
// redacted message, matching one of ivclient's sentinels.
type transportError struct {
	msg  string
	kind error // the sentinel it matches; nil for none
	also error // a second one, the reason of the loss (ErrFrameTooLarge); nil for none
}

func (e *transportError) Error() string   { return e.msg }
func (e *transportError) Unwrap() []error { return []error{e.kind, e.also} }

var (
	errClosed       = &transportError{msg: "stompx: transport closed", kind: ivclient.ErrClosed}
	errNotConnected = &transportError{msg: "stompx: not connected (reconnecting)", kind: ivclient.ErrConnectionLost}
	// errRetry says the session went away before the request was handed to
	// it: nothing was sent, the caller may try the next session.
	errRetry = errors.New("stompx: session gone, retry")
)

// lostError returns the error given to calls in flight (and subscriptions)
// when the connection drops; cause is redacted by the caller.
func lostError(cause string) error { return lostErrorFor(cause, nil) }

// lostErrorFor is lostError for a loss caused by err, whose typed reason
// (ErrFrameTooLarge) the error keeps.
func lostErrorFor(cause string, err error) error {
	e := &transportError{msg: "stompx: connection lost", kind: ivclient.ErrConnectionLost, also: reasonKind(err)}
	if cause != "" {
		e.msg += ": " + cause
	}
	return e
}

// reasonKind returns the typed reason of a connection loss that err
// matches, nil for none.
func reasonKind(err error) error {
	if err != nil && errors.Is(err, ErrFrameTooLarge) {
		return ErrFrameTooLarge
	}
	return nil
}
