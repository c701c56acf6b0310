package soapx

import (
	"errors"
	"strconv"
	"strings"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/internal/secrets"
)

// ErrWSDL is matched (errors.Is) by every error that comes from fetching or
// reading the endpoint's WSDL: the endpoint is down, answered with an HTTP
// error, or served something that is not a WSDL document. The fetch is tried
// again by the next call.
var ErrWSDL = errors.New("soapx: WSDL unavailable")

// Fault is a SOAP fault returned by the endpoint, whether it came with HTTP
// status 200 or 500.
//
// When the fault names one of the platform's return codes (by name, such as
// "RESPONSE_NOT_FOUND", or by number, in the fault code, the fault string or
// a <code> element of the detail), Unwrap returns the matching *codes.Error,
// so that
//
//	errors.Is(err, codes.ErrNotFound)
//
// and errors.As(err, &codesErr) hold over SOAP as they do over STOMP.
type Fault struct {
	Method string // the platform method that was called, e.g. "AgentInfo"
	Code   string // the faultcode as sent, e.g. "SOAP-ENV:Client"
	String string // the faultstring
	Detail string // the text of the detail element, if any
	// StatusCode is the HTTP status the fault came with (200 or 500).
	StatusCode int

	err *codes.Error
}

// Error returns, for a fault that names a platform code, the text of its
// *codes.Error ("instantvoice: QueueInfo: RESPONSE_NOT_FOUND (3): Queue
// 4242 not found"), the same as over STOMP; for any other fault,
// "soapx: SOAP fault <Code>: <String>" (ivclient.Client puts the method in
// front, as it does for every transport error).
func (f *Fault) Error() string {
	if f.err != nil {
		return f.err.Error()
	}
	var b strings.Builder
	b.WriteString("soapx: SOAP fault")
	if f.Code != "" {
		b.WriteString(" ")
		b.WriteString(f.Code)
	}
	if f.String != "" {
		b.WriteString(": ")
		b.WriteString(f.String)
	}
	return b.String()
}

// Unwrap returns the platform return code the fault names, as a
// *codes.Error, or nil when it names none.
func (f *Fault) Unwrap() error {
	if f.err == nil {
		return nil
	}
	return f.err
}

// ReturnCode returns the platform code the fault names and whether it names
// one.
func (f *Fault) ReturnCode() (codes.Code, bool) {
	if f.err == nil {
		return 0, false
	}
	return f.err.Code, true
}

// HTTPError is an HTTP response that is neither a SOAP reply nor a SOAP
// fault: a proxy's error page, a 401 for wrong basic credentials, a 404 for a
// wrong endpoint path.
type HTTPError struct {
	Method     string // the platform method that was called
	StatusCode int    // e.g. 502
	Status     string // e.g. "502 Bad Gateway"
	Body       string // the start of the response body (at most 512 bytes)
}

// Error returns "soapx: HTTP <Status>: <start of body>" (ivclient.Client
// puts the method in front, as it does for every transport error).
func (e *HTTPError) Error() string {
	s := "soapx: "
	st := e.Status
	if st == "" {
		st = strconv.Itoa(e.StatusCode)
	}
	s += "HTTP " + st
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// redactedError hides the access key in the text of an error that came from
// outside (a server's fault string, a library's message) while keeping the
// error chain for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact hides key in s, by the rules every transport uses
// (internal/secrets).
func redact(s, key string) string { return secrets.HideKey(s, key) }

// scrub makes sure the text of err does not hold key. Errors built by this
// package carry server text that was redacted when they were built; this is
// the last line of defence for everything else.
func scrub(err error, key string) error {
	if err == nil || key == "" {
		return err
	}
	msg := err.Error()
	if r := redact(msg, key); r != msg {
		return &redactedError{msg: r, err: err}
	}
	return err
}

// codeFromFault finds the platform return code a fault names, and only
// one it names exactly: a <code> element of the detail holding
// a code name or number; a fault string that is a code name or number, that
// holds a code name as a word of its own ("error: PERMISSION_DENIED for
// this key"), or that starts with a number labelled by a colon ("9999:
// internal error"); or a fault code whose last segment is a code name or
// number ("Client.RESPONSE_NOT_FOUND", "Server.3"). A number anywhere else
// is text, not a code: "3 agents busy" names none.
func codeFromFault(faultcode, faultstring string, detailCode string) (codes.Code, bool) {
	if c, ok := parseCode(strings.TrimSpace(detailCode), true); ok {
		return c, true
	}
	s := strings.TrimSpace(faultstring)
	if c, ok := parseCode(s, true); ok {
		return c, true
	}
	if lead, _, ok := strings.Cut(s, ":"); ok && isNumber(strings.TrimSpace(lead)) {
		if c, ok := parseCode(strings.TrimSpace(lead), false); ok {
			return c, true
		}
	}
	for _, w := range words(s) {
		if !isNumber(w) {
			if c, ok := parseCode(w, false); ok {
				return c, true
			}
		}
	}
	fc := strings.TrimSpace(faultcode)
	if i := strings.LastIndexAny(fc, ".:"); i >= 0 {
		fc = fc[i+1:]
	}
	if c, ok := parseCode(fc, true); ok {
		return c, true
	}
	return 0, false
}

// parseCode reads a code name or number; anyNumber accepts numbers the
// platform does not define. Zero (success) is never a fault's code.
func parseCode(s string, anyNumber bool) (codes.Code, bool) {
	if s == "" || len(s) > 40 {
		return 0, false
	}
	c, ok := codes.Parse(s)
	if !ok || c == codes.OK {
		return 0, false
	}
	if isNumber(s) && !anyNumber && !c.Known() {
		return 0, false
	}
	return c, true
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
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

// words splits s into runs of letters, digits, '_' and a leading '-'.
func words(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		var c byte
		if i < len(s) {
			c = s[i]
		}
		in := i < len(s) && (c == '_' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' ||
			c == '-' && start < 0 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9')
		switch {
		case in && start < 0:
			start = i
		case !in && start >= 0:
			out = append(out, s[start:i])
			start = -1
		}
		if len(out) >= 16 {
			break
		}
	}
	return out
}
