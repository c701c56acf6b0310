package fakeplatform

import (
	"bytes"
	"encoding/json"

	"github.com/instantvoice/instantvoice-go/internal/wire"
)

// salvage recovers what it can of a request wire.ParseRequest refused, so
// that it is answered RESPONSE_INVALID instead of dropped: the reference
// sends "a message to /topic/KEY ... with the status" after each request,
// and four of its own examples are not JSON (a missing comma, "1',", a
// doubled quote). A real ACD's lenient parser still finds the key, and so
// does this one:
//
//   - a request that reads as JSON or as a Python literal but has the wrong
//     shape (arguments that are not an object, say) gives its key, method
//     and identifier as they are; a key sent as a number (1234) after a
//     method name is its text;
//   - text that reads as neither is scanned: "[", a quoted method, ",", a
//     quoted key (single or double quotes, with escapes); the identifier is
//     read when the body ends with `}, "identifier"]`, so that the partner
//     can match the reply.
//
// It reports false when no key can be read.
func salvage(body []byte) (Request, bool) {
	r := Request{Body: body}
	trimmed := bytes.TrimSpace(body)
	js, err := wire.Normalize(trimmed)
	if err != nil {
		return scanHead(body, trimmed)
	}
	var parts []json.RawMessage
	if json.Unmarshal(js, &parts) != nil || len(parts) < 2 {
		return r, false
	}
	hasMethod := json.Unmarshal(parts[0], &r.Method) == nil
	if json.Unmarshal(parts[1], &r.Key) != nil {
		var n json.Number
		if !hasMethod || json.Unmarshal(parts[1], &n) != nil {
			return r, false
		}
		r.Key = n.String()
	}
	if len(parts) > 3 && json.Unmarshal(parts[3], &r.ID) == nil {
		r.HasID = true
	}
	return r, true
}

// scanHead reads the method and key at the start of a body that is not
// JSON, and the identifier at its end.
func scanHead(body, s []byte) (Request, bool) {
	r := Request{Body: body}
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '[' {
		return r, false
	}
	method, i, ok := scanString(s, skipSpace(s, i+1))
	if !ok {
		return r, false
	}
	i = skipSpace(s, i)
	if i >= len(s) || s[i] != ',' {
		return r, false
	}
	key, _, ok := scanString(s, skipSpace(s, i+1))
	if !ok {
		return r, false
	}
	r.Method, r.Key = method, key
	if j := bytes.LastIndexByte(s, '}'); j >= 0 {
		tail := bytes.TrimSpace(s[j+1:])
		if len(tail) > 0 && tail[len(tail)-1] == ']' {
			tail = bytes.TrimSpace(tail[:len(tail)-1])
			if len(tail) > 0 && tail[0] == ',' {
				lit := bytes.TrimSpace(tail[1:])
				if id, end, ok := scanString(lit, 0); ok && end == len(lit) {
					r.ID, r.HasID = id, true
				}
			}
		}
	}
	return r, true
}

func skipSpace(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// scanString reads a quoted string at s[i:], in double or single quotes
// with backslash escapes, and returns it and the index after it.
func scanString(s []byte, i int) (string, int, bool) {
	if i >= len(s) || (s[i] != '"' && s[i] != '\'') {
		return "", i, false
	}
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '\n':
			return "", i, false
		case q:
			lit := s[i : j+1]
			if q == '\'' {
				var err error
				if lit, err = wire.Normalize(lit); err != nil {
					return "", i, false
				}
			}
			var out string
			if json.Unmarshal(lit, &out) != nil {
				return "", i, false
			}
			return out, j + 1, true
		}
	}
	return "", i, false
}
