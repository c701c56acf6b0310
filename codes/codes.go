// Package codes holds the InstantVoice platform's return codes and turns the
// non-zero ones into typed errors.
//
// Every method of the platform answers with a return code: 0 is success, any
// other value is a failure that the SDK returns as a *Error. Match a failure
// with errors.Is against one of the sentinels:
//
//	if errors.Is(err, codes.ErrNotFound) { ... }
//
// or read the code itself with errors.As:
//
//	var e *codes.Error
//	if errors.As(err, &e) { log.Println(e.Code, e.Method) }
//
// Guarantees:
//   - Both transports return the same *Error for the same return code: stompx
//     returns it directly, soapx returns it or a *soapx.Fault that unwraps to
//     it, so errors.Is and errors.As hold over STOMP and SOAP alike.
//   - A code the platform does not define still comes back as a *Error
//     (Code.Known reports false and String prints "CODE(n)"); it matches no
//     sentinel.
//   - *Error.Is also matches another *Error with the same Code (and, when the
//     target names one, the same Method).
//   - The package has no mutable state: Codes, sentinels and *Error values
//     are safe to share between goroutines. It imports nothing of the SDK.
package codes

import "strconv"

// Code is a return code of the InstantVoice platform; 0 is success.
type Code int

// The platform's return codes, as its integration reference lists them.
const (
	OK               Code = 0    // success
	MissingArgs      Code = 1    // RESPONSE_MISSING_ARGS
	NoMemory         Code = 2    // RESPONSE_NO_MEMORY
	NotFound         Code = 3    // RESPONSE_NOT_FOUND
	Duplicate        Code = 4    // RESPONSE_DUPLICATE
	Invalid          Code = 5    // RESPONSE_INVALID
	NotEmpty         Code = 6    // RESPONSE_NOTEMPTY
	ItemFull         Code = 7    // RESPONSE_ITEM_FULL
	ItemEmpty        Code = 8    // RESPONSE_ITEM_EMPTY
	Unauthorized     Code = 9    // RESPONSE_UNAUTHORIZED
	NotAllowed       Code = 10   // RESPONSE_NOT_ALLOWED
	Disabled         Code = 11   // RESPONSE_DISABLED
	NoLicense        Code = 12   // RESPONSE_NO_LICENSE
	Undefined        Code = 1000 // RESPONSE_UNDEFINED
	InternalError    Code = 9999 // RESPONSE_INTERNAL_ERROR
	DACOffline       Code = -1   // DAC_OFFLINE
	PermissionDenied Code = -2   // PERMISSION_DENIED
)

// name returns the platform's name of c.
func name(c Code) (string, bool) {
	switch c {
	case OK:
		return "OK", true
	case MissingArgs:
		return "RESPONSE_MISSING_ARGS", true
	case NoMemory:
		return "RESPONSE_NO_MEMORY", true
	case NotFound:
		return "RESPONSE_NOT_FOUND", true
	case Duplicate:
		return "RESPONSE_DUPLICATE", true
	case Invalid:
		return "RESPONSE_INVALID", true
	case NotEmpty:
		return "RESPONSE_NOTEMPTY", true
	case ItemFull:
		return "RESPONSE_ITEM_FULL", true
	case ItemEmpty:
		return "RESPONSE_ITEM_EMPTY", true
	case Unauthorized:
		return "RESPONSE_UNAUTHORIZED", true
	case NotAllowed:
		return "RESPONSE_NOT_ALLOWED", true
	case Disabled:
		return "RESPONSE_DISABLED", true
	case NoLicense:
		return "RESPONSE_NO_LICENSE", true
	case Undefined:
		return "RESPONSE_UNDEFINED", true
	case InternalError:
		return "RESPONSE_INTERNAL_ERROR", true
	case DACOffline:
		return "DAC_OFFLINE", true
	case PermissionDenied:
		return "PERMISSION_DENIED", true
	}
	return "", false
}

// description returns the reference's meaning of c.
func description(c Code) (string, bool) {
	switch c {
	case OK:
		return "success", true
	case MissingArgs:
		return "there are mandatory arguments which were not filled", true
	case NoMemory:
		return "the server has run out of memory", true
	case NotFound:
		return "the target of the request was not found", true
	case Duplicate:
		return "the request duplicates a previous one and was not acted on", true
	case Invalid:
		return "the request does not make sense to the server", true
	case NotEmpty:
		return "the target must be empty but is not", true
	case ItemFull:
		return "the target cannot accept more requests of this kind now", true
	case ItemEmpty:
		return "the target is empty", true
	case Unauthorized:
		return "the request does not carry the correct password for the target", true
	case NotAllowed:
		return "the server is not allowed to perform the operation", true
	case Disabled:
		return "the target is disabled", true
	case NoLicense:
		return "the number of licensed agents was exceeded", true
	case Undefined:
		return "the IVACD is currently disabled", true
	case InternalError:
		return "an unexpected behaviour stopped the request", true
	case DACOffline:
		return "IVWS could not communicate with IVACD", true
	case PermissionDenied:
		return "the key has no permission for this request", true
	}
	return "", false
}

// String returns the platform's name of the code, such as
// "RESPONSE_NOT_FOUND"; a code the platform does not define prints as
// "CODE(n)".
func (c Code) String() string {
	if n, ok := name(c); ok {
		return n
	}
	return "CODE(" + strconv.Itoa(int(c)) + ")"
}

// Description returns the reference's one-line meaning of the code, or ""
// for a code the platform does not define.
func (c Code) Description() string { d, _ := description(c); return d }

// Known reports whether the platform defines the code.
func (c Code) Known() bool { _, ok := name(c); return ok }

// All returns every code the platform defines, OK first.
func All() []Code {
	return []Code{OK, MissingArgs, NoMemory, NotFound, Duplicate, Invalid, NotEmpty, ItemFull, ItemEmpty,
		Unauthorized, NotAllowed, Disabled, NoLicense, Undefined, InternalError, DACOffline, PermissionDenied}
}

// Parse returns the code named by s: a name such as "RESPONSE_NOT_FOUND" or
// "PERMISSION_DENIED", or a decimal number such as "3" or "-2".
func Parse(s string) (Code, bool) {
	for _, c := range All() {
		if n, _ := name(c); n == s {
			return c, true
		}
	}
	if n, err := strconv.Atoi(s); err == nil {
		return Code(n), true
	}
	return 0, false
}

// Error is a non-zero return code from the platform.
type Error struct {
	Code        Code   // the return code, never OK
	Method      string // the platform method that failed, e.g. "QueueAdd"
	Description string // the platform's text, when it sent one
}

// Error returns "instantvoice: QueueAdd: RESPONSE_DUPLICATE (4): <text>".
func (e *Error) Error() string {
	s := "instantvoice: "
	if e.Method != "" {
		s += e.Method + ": "
	}
	s += e.Code.String() + " (" + strconv.Itoa(int(e.Code)) + ")"
	d := e.Description
	if d == "" {
		d = e.Code.Description()
	}
	if d != "" {
		s += ": " + d
	}
	return s
}

// Is reports whether target is the sentinel of the same code, or an *Error
// with the same code (and, if it names one, the same method).
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case *sentinel:
		return t.code == e.Code
	case *Error:
		return t.Code == e.Code && (t.Method == "" || t.Method == e.Method)
	}
	return false
}

// sentinel is the comparable value behind the Err* variables.
type sentinel struct{ code Code }

func (s *sentinel) Error() string { return "instantvoice: " + s.code.String() }

// Code returns the code the sentinel stands for.
func (s *sentinel) Code() Code { return s.code }

// Sentinels, one per code, for errors.Is. A *Error matches the sentinel of
// its own code.
var (
	ErrMissingArgs      error = &sentinel{MissingArgs}
	ErrNoMemory         error = &sentinel{NoMemory}
	ErrNotFound         error = &sentinel{NotFound}
	ErrDuplicate        error = &sentinel{Duplicate}
	ErrInvalid          error = &sentinel{Invalid}
	ErrNotEmpty         error = &sentinel{NotEmpty}
	ErrItemFull         error = &sentinel{ItemFull}
	ErrItemEmpty        error = &sentinel{ItemEmpty}
	ErrUnauthorized     error = &sentinel{Unauthorized}
	ErrNotAllowed       error = &sentinel{NotAllowed}
	ErrDisabled         error = &sentinel{Disabled}
	ErrNoLicense        error = &sentinel{NoLicense}
	ErrUndefined        error = &sentinel{Undefined}
	ErrInternal         error = &sentinel{InternalError}
	ErrDACOffline       error = &sentinel{DACOffline}
	ErrPermissionDenied error = &sentinel{PermissionDenied}
)
