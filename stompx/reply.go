package stompx

import (
	"encoding/json"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/instantvoice/instantvoice-go/internal/wire"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// maxReplyBody bounds the reply bodies the dispatcher parses; larger ones
// are counted as malformed and dropped.
const maxReplyBody = 32 << 20

// maxIDLen bounds the identifiers the fast path accepts (ours are 36).
const maxIDLen = 64

// result is what a waiting call receives: a reply or a failure.
type result struct {
	code    int
	payload json.RawMessage // strict JSON, nil when the reply had none
	err     error           // set when the call failed without a reply
}

// parsedReply is a reply as the dispatcher sees it.
type parsedReply struct {
	code    int
	payload []byte
	id      string
	// altID is the string payload of a two-element reply [code, "x"]: it is
	// taken as the identifier when it names a pending call.
	altID string
}

// parseReply reads a reply body. The common form [code, payload, "id"] in
// strict JSON is read without decoding the payload; everything else goes
// through wire.ParseReply (Python literals, codes as strings, numeric
// identifiers, replies without identifier).
func parseReply(body []byte) (parsedReply, bool) {
	if r, ok := fastReply(body); ok {
		return r, true
	}
	w, err := wire.ParseReply(body)
	if err != nil {
		return parsedReply{}, false
	}
	r := parsedReply{code: w.Code, payload: w.Payload}
	if w.HasID {
		r.id = w.ID
	} else if s, ok := w.PayloadString(); ok {
		r.altID = s
	}
	return r, true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isIDChar(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

// fastReply recognises `[ int , value , "id" ]` where value is one valid
// JSON value and id is made of letters, digits, '-' and '_'. Because the
// pieces are each valid and the grammar of a JSON array is unambiguous, a
// match means the body is exactly that three-element array.
func fastReply(b []byte) (parsedReply, bool) {
	var r parsedReply
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	if j-i < 7 || b[i] != '[' || b[j-1] != ']' {
		return r, false
	}
	code, i, ok := leadingCode(b, i+1, j)
	if !ok {
		return r, false
	}
	for i < j && isSpace(b[i]) {
		i++
	}
	if i >= j || b[i] != ',' {
		return r, false
	}
	i++
	// From the end: ] ws "id" ws ,
	k := j - 2
	for k > i && isSpace(b[k]) {
		k--
	}
	if k <= i || b[k] != '"' {
		return r, false
	}
	idEnd := k
	k--
	for k > i && isIDChar(b[k]) {
		k--
	}
	if k <= i || b[k] != '"' || idEnd-k-1 < 1 || idEnd-k-1 > maxIDLen {
		return r, false
	}
	idStart := k + 1
	k--
	for k > i && isSpace(b[k]) {
		k--
	}
	if k <= i || b[k] != ',' {
		return r, false
	}
	mid := b[i:k]
	m0, m1 := 0, len(mid)
	for m0 < m1 && isSpace(mid[m0]) {
		m0++
	}
	for m1 > m0 && isSpace(mid[m1-1]) {
		m1--
	}
	mid = mid[m0:m1]
	if len(mid) == 0 || !json.Valid(mid) {
		return r, false
	}
	r.code = code
	r.payload = mid
	r.id = string(b[idStart:idEnd])
	return r, true
}

// leadingCode reads the reply code (an int of at most 9 digits, after
// optional spaces) at b[i:j], returning it and the index after it.
func leadingCode(b []byte, i, j int) (code, next int, ok bool) {
	for i < j && isSpace(b[i]) {
		i++
	}
	neg := false
	if i < j && b[i] == '-' {
		neg = true
		i++
	}
	start := i
	for i < j && b[i] >= '0' && b[i] <= '9' {
		if i-start >= 9 {
			return 0, 0, false
		}
		code = code*10 + int(b[i]-'0')
		i++
	}
	if i == start || (b[start] == '0' && i-start > 1) {
		return 0, 0, false
	}
	if neg {
		code = -code
	}
	return code, i, true
}

// outcome turns a call's result into Call's return value.
func outcome(method string, r result, out any) error {
	if r.err != nil {
		return callError(r.err)
	}
	if r.code != 0 {
		e := &codes.Error{Code: codes.Code(r.code), Method: method}
		if len(r.payload) > 0 && r.payload[0] == '"' {
			var s string
			if json.Unmarshal(r.payload, &s) == nil {
				e.Description = s
			}
		}
		return e
	}
	if out == nil || len(r.payload) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.payload, out); err != nil {
		return errs.Wrap("stompx", ivclient.ErrMalformedReply, err.Error(), nil)
	}
	return nil
}
