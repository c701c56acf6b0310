package errs

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWrap(t *testing.T) {
	closed := errors.New("instantvoice: closed")
	cases := []struct {
		err  error
		want string
		is   []error
	}{
		{Wrap("stompx", ErrInvalidArgument, "nil request", nil), "stompx: invalid argument: nil request", []error{ErrInvalidArgument}},
		{Wrap("soapx", closed, "", nil), "soapx: closed", []error{closed}},
		{Wrap("soapx", ErrInvalidArgument, io.EOF.Error(), io.EOF), "soapx: invalid argument: EOF", []error{ErrInvalidArgument, io.EOF}},
		{Wrap("soapx", context.DeadlineExceeded, "the HTTP client's Timeout (1s) expired", nil),
			"soapx: context deadline exceeded: the HTTP client's Timeout (1s) expired", []error{context.DeadlineExceeded}},
		{Wrap("stompx: Subscribe", errors.New("stompx: transport closed"), "", nil), "stompx: Subscribe: transport closed", nil},
		{Wrap("events: Run", nil, "nil context", nil), "events: Run: nil context", nil},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.err.Error())
		for _, k := range c.is {
			assert.ErrorIs(t, c.err, k, c.want)
		}
		assert.NotErrorIs(t, c.err, io.ErrUnexpectedEOF)
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"instantvoice: invalid access key: empty": "invalid access key: empty",
		"context deadline exceeded":               "context deadline exceeded",
		"Get \"http://x\": EOF":                   "Get \"http://x\": EOF",
		": x":                                     ": x",
		"wire: x":                                 "x",
	} {
		assert.Equal(t, want, Text(errors.New(in)), in)
	}
}
