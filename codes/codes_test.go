package codes_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/instantvoice/instantvoice-go/codes"
)

func TestNamesAndSentinels(t *testing.T) {
	all := []struct {
		c    codes.Code
		name string
		err  error
	}{
		{codes.MissingArgs, "RESPONSE_MISSING_ARGS", codes.ErrMissingArgs},
		{codes.NoMemory, "RESPONSE_NO_MEMORY", codes.ErrNoMemory},
		{codes.NotFound, "RESPONSE_NOT_FOUND", codes.ErrNotFound},
		{codes.Duplicate, "RESPONSE_DUPLICATE", codes.ErrDuplicate},
		{codes.Invalid, "RESPONSE_INVALID", codes.ErrInvalid},
		{codes.NotEmpty, "RESPONSE_NOTEMPTY", codes.ErrNotEmpty},
		{codes.ItemFull, "RESPONSE_ITEM_FULL", codes.ErrItemFull},
		{codes.ItemEmpty, "RESPONSE_ITEM_EMPTY", codes.ErrItemEmpty},
		{codes.Unauthorized, "RESPONSE_UNAUTHORIZED", codes.ErrUnauthorized},
		{codes.NotAllowed, "RESPONSE_NOT_ALLOWED", codes.ErrNotAllowed},
		{codes.Disabled, "RESPONSE_DISABLED", codes.ErrDisabled},
		{codes.NoLicense, "RESPONSE_NO_LICENSE", codes.ErrNoLicense},
		{codes.Undefined, "RESPONSE_UNDEFINED", codes.ErrUndefined},
		{codes.InternalError, "RESPONSE_INTERNAL_ERROR", codes.ErrInternal},
		{codes.DACOffline, "DAC_OFFLINE", codes.ErrDACOffline},
		{codes.PermissionDenied, "PERMISSION_DENIED", codes.ErrPermissionDenied},
	}
	for _, tc := range all {
		if got := tc.c.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", int(tc.c), got, tc.name)
		}
		if c, ok := codes.Parse(tc.name); !ok || c != tc.c {
			t.Errorf("Parse(%q) = %v, %v", tc.name, c, ok)
		}
		if c, ok := codes.Parse(fmt.Sprint(int(tc.c))); !ok || c != tc.c {
			t.Errorf("Parse(%d) = %v, %v", int(tc.c), c, ok)
		}
		err := fmt.Errorf("wrapped: %w", &codes.Error{Code: tc.c, Method: "QueueAdd"})
		for _, other := range all {
			if got, want := errors.Is(err, other.err), other.c == tc.c; got != want {
				t.Errorf("errors.Is(%v, sentinel of %v) = %v", tc.c, other.c, got)
			}
		}
		var e *codes.Error
		if !errors.As(err, &e) || e.Code != tc.c {
			t.Errorf("errors.As lost the code of %v", tc.c)
		}
	}
	if s := codes.Code(42).String(); s != "CODE(42)" {
		t.Errorf("unknown code prints %q", s)
	}
	if _, ok := codes.Parse("RESPONSE_NONSENSE"); ok {
		t.Error("Parse accepted an unknown name")
	}
}

func TestErrorMessage(t *testing.T) {
	e := &codes.Error{Code: codes.Duplicate, Method: "QueueAdd", Description: "Queue 7015 exists"}
	if got, want := e.Error(), "instantvoice: QueueAdd: RESPONSE_DUPLICATE (4): Queue 7015 exists"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &codes.Error{Code: codes.NotFound}
	if got, want := e.Error(), "instantvoice: RESPONSE_NOT_FOUND (3): the target of the request was not found"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(&codes.Error{Code: codes.NotFound, Method: "AgentInfo"}, &codes.Error{Code: codes.NotFound}) {
		t.Error("an *Error with no method matches any method")
	}
	if errors.Is(&codes.Error{Code: codes.NotFound, Method: "AgentInfo"}, &codes.Error{Code: codes.NotFound, Method: "QueueInfo"}) {
		t.Error("an *Error naming another method must not match")
	}
}

func ExampleError() {
	var err error = fmt.Errorf("provisioning: %w", &codes.Error{Code: codes.Duplicate, Method: "AgentAdd"})
	if errors.Is(err, codes.ErrDuplicate) {
		fmt.Println("the agent exists already")
	}
	var e *codes.Error
	if errors.As(err, &e) {
		fmt.Println(e.Method, e.Code, int(e.Code))
	}
	// Output:
	// the agent exists already
	// AgentAdd RESPONSE_DUPLICATE 4
}
