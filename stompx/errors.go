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
	kind error
}

func (e *transportError) Error() string { return e.msg }
func (e *transportError) Unwrap() error { return e.kind }

var (
	errClosed       = &transportError{"stompx: transport closed", ivclient.ErrClosed}
	errNotConnected = &transportError{"stompx: not connected (reconnecting)", ivclient.ErrConnectionLost}
	// errRetry says the session went away before the request was handed to
	// it: nothing was sent, the caller may try the next session.
	errRetry = errors.New("stompx: session gone, retry")
)

// lostError returns the error given to calls in flight (and subscriptions)
// when the connection drops; cause is redacted by the caller.
func lostError(cause string) error {
	if cause == "" {
		return &transportError{"stompx: connection lost", ivclient.ErrConnectionLost}
	}
	return &transportError{"stompx: connection lost: " + cause, ivclient.ErrConnectionLost}
}
