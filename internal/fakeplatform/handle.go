package fakeplatform

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/internal/catalog"
	"github.com/instantvoice/instantvoice-go/internal/wire"
)

// methodFunc implements one platform method. It runs with p.mu held, reads
// its arguments through r, and returns the success payload (nil for the
// description "Successful <Method>"), or records a failure in r.
type methodFunc func(p *Platform, r *rq) any

// handlerOf returns the function that implements method, or nil when
// method is not one of the platform's methods (the SDK's method catalog, which a
// test holds this switch to).
func handlerOf(method string) methodFunc {
	switch method {
	case "AgentAdd":
		return agentAdd
	case "AgentDelete":
		return agentDelete
	case "AgentModify":
		return agentModify
	case "AgentList":
		return agentList
	case "AgentInfo":
		return agentInfo
	case "AgentLineAdd":
		return agentLineAdd
	case "AgentLineDelete":
		return agentLineDelete
	case "AgentLineModify":
		return agentLineModify
	case "AgentLineList":
		return agentLineList
	case "AgentQueueAdd":
		return agentQueueAdd
	case "AgentQueueDelete":
		return agentQueueDelete
	case "AgentQueueModify":
		return agentQueueModify
	case "AgentQueueList":
		return agentQueueList
	case "AgentQueueMembers":
		return agentQueueMembers
	case "AgentAddPermission":
		return agentAddPermission
	case "AgentDeletePermission":
		return agentDeletePermission
	case "AgentModifyPermission":
		return agentModifyPermission
	case "AgentInfoPermission":
		return agentInfoPermission
	case "AgentLogin":
		return agentLogin
	case "AgentLogoff":
		return agentLogoff
	case "AgentPause":
		return agentPause
	case "AgentUnpause":
		return agentUnpause
	case "BlindTransfer":
		return blindTransfer
	case "NewCall":
		return newCall
	case "SendSms":
		return sendSms
	case "NewCallBack":
		return newCallBack
	case "Hangup":
		return hangupMethod
	case "QueueAdd":
		return queueAdd
	case "QueueModify":
		return queueModify
	case "QueueDelete":
		return queueDelete
	case "QueueList":
		return queueList
	case "QueueInfo":
		return queueInfo
	case "SipUserAdd":
		return sipUserAdd
	case "SipUserModify":
		return sipUserModify
	case "SipUserDelete":
		return sipUserDelete
	case "SipUserList":
		return sipUserList
	case "SipUserInfo":
		return sipUserInfo
	case "SipUserAddPermission":
		return sipUserAddPermission
	case "SipUserDeletePermission":
		return sipUserDeletePermission
	case "SipUserModifyPermission":
		return sipUserModifyPermission
	case "SipUserInfoPermission":
		return sipUserInfoPermission
	}
	return nil
}

// handle runs one request: the processor calls it for every STOMP request
// and the SOAP endpoint for every IVWS request. args are as wire.ParseRequest
// gives them (strings, json.Number, []any, map[string]any) or as an XML
// decoder gives them (strings, nested maps); argument names are matched
// case-insensitively and with their aliases. The payload is a description
// string, a list or a map with the reference's JSON field names.
//
// Checks run in this order: unknown method (RESPONSE_INVALID), key not
// allowed the method (PERMISSION_DENIED), missing mandatory arguments
// (RESPONSE_MISSING_ARGS), malformed values (RESPONSE_INVALID), then the
// method's own checks against the state.
//
// transport is "stomp" or "soap", or "" for Do; an argument given under a
// name the reference does not give it over the transport is accepted, and
// returned in lenient (see lenient.go).
func (p *Platform) handle(method, key, transport string, args map[string]any) (code codes.Code, payload any, lenient []string) {
	fn := handlerOf(method)
	if fn == nil {
		return codes.Invalid, "Unknown method", nil
	}
	if !p.allowed(key, method) {
		return codes.PermissionDenied, "Permission denied", nil
	}
	r := newRQ(method, args)
	r.transport, r.ref = transport, p.refArgs[method]
	func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		defer func() {
			if v := recover(); v != nil {
				p.log.Error("ivtest: method panicked", "method", method, "panic", fmt.Sprint(v))
				r.code, r.msg = codes.InternalError, "Internal error"
			}
		}()
		payload = fn(p, r)
	}()
	p.noteLenient(r, transport)
	if r.code != codes.OK {
		return r.code, r.msg, r.lenients
	}
	if payload == nil {
		payload = "Successful " + method
	}
	return codes.OK, payload, r.lenients
}

func (p *Platform) allowed(key, method string) bool {
	methods, ok := p.keys[key]
	return ok && (methods == nil || methods[method])
}

// rq is one request's arguments and its outcome.
type rq struct {
	method    string
	args      map[string]any // names lower-cased
	code      codes.Code
	msg       string
	transport string            // "stomp", "soap", or "" (Do, a flow)
	ref       []catalog.ArgInfo // the method's arguments as the reference names them
	lenients  []string          // what was accepted leniently (lenient.go)
}

func newRQ(method string, args map[string]any) *rq {
	m := make(map[string]any, len(args))
	for k, v := range args {
		m[strings.ToLower(strings.TrimSpace(k))] = v
	}
	return &rq{method: method, args: m}
}

// stage orders failures: a missing argument outranks a malformed one, which
// outranks every failure found against the state.
func stage(c codes.Code) int {
	switch c {
	case codes.MissingArgs:
		return 1
	case codes.Invalid:
		return 2
	}
	return 3
}

// fail records a failure (the first of its stage) and returns nil, so that
// a method can end with "return r.fail(...)".
func (r *rq) fail(code codes.Code, format string, a ...any) any {
	if r.code == codes.OK || stage(code) < stage(r.code) {
		r.code, r.msg = code, fmt.Sprintf(format, a...)
	}
	return nil
}

func (r *rq) bad() bool { return r.code != codes.OK }

// value returns the first of names present with a non-null value.
func (r *rq) value(names ...string) (any, bool) {
	for _, n := range names {
		if v, ok := r.args[n]; ok && v != nil {
			if len(names) > 1 {
				r.checkName(n, names)
			}
			return v, true
		}
	}
	return nil, false
}

// opt returns an optional scalar argument as trimmed text; an empty value
// counts as absent (IVWS sends empty elements for unset fields). A list or
// an object where a scalar belongs is RESPONSE_INVALID.
func (r *rq) opt(names ...string) (string, bool) {
	v, ok := r.value(names...)
	if !ok {
		return "", false
	}
	s, ok := scalarText(v)
	if !ok {
		r.fail(codes.Invalid, "%s must be a single value", names[0])
		return "", false
	}
	return s, s != ""
}

// must returns a mandatory scalar argument; its absence (or an empty
// value) is RESPONSE_MISSING_ARGS.
func (r *rq) must(names ...string) string {
	v, present := r.value(names...)
	if !present {
		r.fail(codes.MissingArgs, "Missing argument %s", names[0])
		return ""
	}
	s, ok := scalarText(v)
	switch {
	case !ok:
		r.fail(codes.Invalid, "%s must be a single value", names[0])
	case s == "":
		r.fail(codes.MissingArgs, "Missing argument %s", names[0])
	}
	return s
}

// optInt returns an optional integer argument; a value that is not an
// integer is RESPONSE_INVALID.
func (r *rq) optInt(names ...string) (int, bool) {
	s, ok := r.opt(names...)
	if !ok {
		return 0, false
	}
	n, ok := parseInt(s)
	if !ok {
		r.fail(codes.Invalid, "%s must be an integer", names[0])
		return 0, false
	}
	return n, true
}

func (r *rq) mustInt(names ...string) int {
	s := r.must(names...)
	if s == "" {
		return 0
	}
	n, ok := parseInt(s)
	if !ok {
		r.fail(codes.Invalid, "%s must be an integer", names[0])
	}
	return n
}

// optBit returns an optional 0/1 argument.
func (r *rq) optBit(def int, names ...string) int {
	s, ok := r.opt(names...)
	if !ok {
		return def
	}
	switch strings.ToLower(s) {
	case "1", "true":
		return 1
	case "0", "false":
		return 0
	}
	r.fail(codes.Invalid, "%s must be 0 or 1", names[0])
	return def
}

// number returns a mandatory agent, queue or SIP number: digits, given as
// "<accountcode>_<number>" or as the bare number.
func (r *rq) number(accountcode string, names ...string) string {
	s := r.must(names...)
	if s == "" {
		return ""
	}
	s = stripAccount(accountcode, s)
	if !isDigits(s) {
		r.fail(codes.Invalid, "%s must be a number", names[0])
	}
	return s
}

// optNumber is number for an optional argument.
func (r *rq) optNumber(accountcode string, names ...string) (string, bool) {
	s, ok := r.opt(names...)
	if !ok {
		return "", false
	}
	s = stripAccount(accountcode, s)
	if !isDigits(s) {
		r.fail(codes.Invalid, "%s must be a number", names[0])
		return "", false
	}
	return s, true
}

func stripAccount(accountcode, s string) string {
	if accountcode != "" {
		if rest, ok := strings.CutPrefix(s, accountcode+"_"); ok {
			return rest
		}
	}
	return s
}

// items returns a list argument (AgentLineAdd's lines, AgentQueueAdd's
// queues) as argument sets. It accepts a JSON list of objects, one object
// (marker names a field every item has), or an object whose values are the
// items (IVWS's <line1>, <line2>, ... in name order).
func (r *rq) items(name, marker string) []*rq {
	v, ok := r.value(name)
	if !ok {
		r.fail(codes.MissingArgs, "Missing argument %s", name)
		return nil
	}
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case []map[string]any:
		for _, m := range x {
			list = append(list, m)
		}
	case map[string]any:
		sub := newRQ("", x)
		if _, single := sub.args[marker]; single {
			list = []any{x}
			break
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return naturalLess(keys[i], keys[j]) })
		for _, k := range keys {
			list = append(list, x[k])
		}
	case string:
		if strings.TrimSpace(x) == "" {
			r.fail(codes.MissingArgs, "Missing argument %s", name)
			return nil
		}
		r.fail(codes.Invalid, "%s must be a list", name)
		return nil
	default:
		r.fail(codes.Invalid, "%s must be a list", name)
		return nil
	}
	if len(list) == 0 {
		r.fail(codes.MissingArgs, "Missing argument %s", name)
		return nil
	}
	out := make([]*rq, 0, len(list))
	for _, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			r.fail(codes.Invalid, "each of %s must be an object", name)
			return nil
		}
		out = append(out, newRQ(r.method, m))
	}
	return out
}

// absorb takes a sub-request's failure.
func (r *rq) absorb(sub *rq) {
	if sub.bad() {
		r.fail(sub.code, "%s", sub.msg)
	}
}

// naturalLess orders "line2" before "line10".
func naturalLess(a, b string) bool {
	ta, na := splitNum(a)
	tb, nb := splitNum(b)
	if ta != tb {
		return ta < tb
	}
	if na != nb {
		return na < nb
	}
	return a < b
}

func splitNum(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, _ := strconv.Atoi(s[i:])
	return s[:i], n
}

// scalarText returns a scalar argument as trimmed text.
func scalarText(v any) (string, bool) { return wire.ScalarText(v) }

// parseInt accepts "10", "-3" and integral numbers such as "10.0".
func parseInt(s string) (int, bool) { return wire.ParseInt(s) }

func isDigits(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// canon is the identity of a number: "0015" and "15" name the same queue,
// as the platform stores numbers as integers. Other text is its own
// identity.
func canon(s string) string {
	if !isDigits(s) {
		return s
	}
	t := strings.TrimLeft(s, "0")
	if t == "" {
		return "0"
	}
	return t
}
