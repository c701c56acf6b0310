package events

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// This file holds Decode's parser: a single validating pass over the body
// that records where the fields are, then one copy of the body (Raw) and one
// string holding every field's text. A typical event costs two allocations;
// an event with unknown fields adds the Extra map.
//
// Validity is exactly encoding/json's (json.Valid plus "the top level is an
// object"), strings are unquoted exactly as encoding/json unquotes them
// (invalid UTF-8 and lone surrogates become U+FFFD), and names are matched
// as encoding/json matches struct fields (Unicode simple case folding). The
// fuzz test checks all three against encoding/json.

// maxDepth is encoding/json's nesting limit; deeper bodies are malformed.
const maxDepth = 10000

// field is the Event field a JSON name maps to.
type field uint8

const (
	fNone field = iota
	fType
	fDirection
	fCallerID
	fUniqueID
	fAgent
	fReason
	nFields
)

// value kinds.
const (
	kString  uint8 = iota + 1 // a JSON string; span is its content, without the quotes
	kLiteral                  // a number, true or false; span is its text
	kNull                     // null
	kNested                   // an object or an array; span is its text
)

// string flags.
const (
	sEscape   uint8 = 1 << iota // the string holds a backslash escape
	sNonASCII                   // the string holds a byte >= 0x80
)

type span struct {
	start, end int
	kind       uint8
	flags      uint8 // for kString
}

type member struct {
	key, val span
}

// malformedError says where and why a body is not an event.
type malformedError struct {
	what string
	off  int
}

func (e *malformedError) Error() string {
	return "events: malformed event: " + e.what + " at offset " + strconv.Itoa(e.off)
}

func (e *malformedError) Unwrap() error { return ErrMalformed }

func malformed(what string, off int) error { return &malformedError{what: what, off: off} }

// parser holds the result of the validating pass.
type parser struct {
	data   []byte
	fields [nFields]span // indexed by field; kind 0 means absent
	extra  [8]member     // unknown fields, then nested values of known names
	nextra int
	more   []member // extra members beyond len(extra)
}

func (p *parser) addExtra(m member) {
	if p.nextra < len(p.extra) {
		p.extra[p.nextra] = m
	} else {
		p.more = append(p.more, m)
	}
	p.nextra++
}

func (p *parser) member(i int) member {
	if i < len(p.extra) {
		return p.extra[i]
	}
	return p.more[i-len(p.extra)]
}

// decode implements Decode.
func decode(body []byte) (Event, error) {
	var p parser
	p.data = body
	if err := p.parse(); err != nil {
		return Event{}, err
	}

	var ev Event
	raw := make([]byte, len(body))
	copy(raw, body)
	ev.Raw = raw

	// Every string of the event is unquoted into buf, then converted to
	// one string and sliced. Values that equal a constant (types, reasons,
	// directions) use the constant and take no room.
	var stack [256]byte
	buf := stack[:0]
	var bounds [nFields][2]int
	var interned [nFields]string
	var isInterned [nFields]bool
	for f := fType; f < nFields; f++ {
		sp := p.fields[f]
		if sp.kind == 0 || sp.kind == kNull {
			continue
		}
		mark := len(buf)
		if sp.kind == kString {
			buf = appendUnquoted(buf, body[sp.start:sp.end], sp.flags, f == fType)
		} else { // a number or a boolean: its ASCII text
			buf = appendUnquoted(buf, body[sp.start:sp.end], 0, f == fType)
		}
		if s, ok := intern(f, buf[mark:]); ok {
			interned[f], isInterned[f] = s, true
			buf = buf[:mark]
			continue
		}
		bounds[f] = [2]int{mark, len(buf)}
	}
	var keyBounds [][2]int
	var keyStack [8][2]int
	if p.nextra > 0 {
		keyBounds = keyStack[:0]
		for i := 0; i < p.nextra; i++ {
			k := p.member(i).key
			mark := len(buf)
			buf = appendUnquoted(buf, body[k.start:k.end], k.flags, false)
			keyBounds = append(keyBounds, [2]int{mark, len(buf)})
		}
	}
	var all string
	if len(buf) > 0 {
		all = string(buf)
	}
	str := func(f field) string {
		if isInterned[f] {
			return interned[f]
		}
		return all[bounds[f][0]:bounds[f][1]]
	}
	ev.Type = Type(str(fType))
	ev.Direction = str(fDirection)
	ev.CallerID = str(fCallerID)
	ev.UniqueID = str(fUniqueID)
	ev.Agent = str(fAgent)
	ev.Reason = str(fReason)
	if p.nextra > 0 {
		ev.Extra = make(map[string]json.RawMessage, p.nextra)
		for i := 0; i < p.nextra; i++ {
			v := p.member(i).val
			if v.kind == kString { // with its quotes
				v.start, v.end = v.start-1, v.end+1
			}
			ev.Extra[all[keyBounds[i][0]:keyBounds[i][1]]] = json.RawMessage(raw[v.start:v.end:v.end])
		}
	}
	return ev, nil
}

// intern returns the constant equal to b, for the fields whose values are
// mostly constants.
func intern(f field, b []byte) (string, bool) {
	switch f {
	case fType:
		switch string(b) {
		case "NEWCALL":
			return string(NewCall), true
		case "DNEWCALL":
			return string(DNewCall), true
		case "CONNECT":
			return string(Connect), true
		case "DCONNECT":
			return string(DConnect), true
		case "HANGUP":
			return string(Hangup), true
		case "LOGIN":
			return string(Login), true
		case "LOGOUT":
			return string(Logout), true
		case "PAUSE":
			return string(Pause), true
		case "UNPAUSE":
			return string(Unpause), true
		}
	case fDirection:
		switch string(b) {
		case "INBOUND":
			return "INBOUND", true
		case "OUTBOUND":
			return "OUTBOUND", true
		}
	case fReason:
		switch string(b) {
		case ReasonByCaller:
			return ReasonByCaller, true
		case ReasonByCallee:
			return ReasonByCallee, true
		case ReasonNoAnswer:
			return ReasonNoAnswer, true
		case ReasonFailed:
			return ReasonFailed, true
		case ReasonBusy:
			return ReasonBusy, true
		case ReasonUnknown:
			return ReasonUnknown, true
		case ReasonATransfer:
			return ReasonATransfer, true
		case ReasonBTransfer:
			return ReasonBTransfer, true
		case ReasonQueueGiveUp:
			return ReasonQueueGiveUp, true
		case ReasonQueueMissed:
			return ReasonQueueMissed, true
		case ReasonPickup:
			return ReasonPickup, true
		case ReasonMSStop:
			return ReasonMSStop, true
		case ReasonMSStart:
			return ReasonMSStart, true
		case ReasonMSGone:
			return ReasonMSGone, true
		}
	}
	return "", false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *parser) skipSpace(i int) int {
	for i < len(p.data) && isSpace(p.data[i]) {
		i++
	}
	return i
}

// parse validates the body and records its members.
func (p *parser) parse() error {
	d := p.data
	i := p.skipSpace(0)
	if i == len(d) {
		return malformed("empty body", i)
	}
	if d[i] != '{' {
		return malformed("not a JSON object", i)
	}
	i = p.skipSpace(i + 1)
	if i < len(d) && d[i] == '}' {
		return p.end(i + 1)
	}
	for {
		if i == len(d) || d[i] != '"' {
			return malformed("expected a field name", i)
		}
		key, next, err := p.scanString(i)
		if err != nil {
			return err
		}
		i = p.skipSpace(next)
		if i == len(d) || d[i] != ':' {
			return malformed("expected ':'", i)
		}
		i = p.skipSpace(i + 1)
		val, next, err := p.scanValue(i)
		if err != nil {
			return err
		}
		i = p.skipSpace(next)

		// The last value of a name wins, as in encoding/json; an object
		// or an array under a known name empties the field and goes to
		// Extra.
		f := p.fieldOf(key)
		if f == fNone || val.kind == kNested {
			p.addExtra(member{key: key, val: val})
		}
		if f != fNone {
			if val.kind == kNested {
				val = span{}
			}
			p.fields[f] = val
		}

		if i == len(d) {
			return malformed("unexpected end", i)
		}
		switch d[i] {
		case ',':
			i = p.skipSpace(i + 1)
		case '}':
			return p.end(i + 1)
		default:
			return malformed("expected ',' or '}'", i)
		}
	}
}

// end checks that only white space follows the object.
func (p *parser) end(i int) error {
	if i = p.skipSpace(i); i != len(p.data) {
		return malformed("data after the object", i)
	}
	return nil
}

// scanString scans the string whose opening quote is at i. It returns the
// span of its content and the index after the closing quote.
func (p *parser) scanString(i int) (span, int, error) {
	d := p.data
	sp := span{start: i + 1, kind: kString}
	for i++; i < len(d); i++ {
		for i < len(d) && plain[d[i]] {
			i++
		}
		if i == len(d) {
			break
		}
		c := d[i]
		switch {
		case c == '"':
			sp.end = i
			return sp, i + 1, nil
		case c == '\\':
			sp.flags |= sEscape
			i++
			if i == len(d) {
				return sp, 0, malformed("unterminated string", i)
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(d) {
					return sp, 0, malformed("unterminated string", len(d))
				}
				for _, h := range d[i+1 : i+5] {
					if !isHex(h) {
						return sp, 0, malformed("invalid \\u escape", i)
					}
				}
				i += 4
			default:
				return sp, 0, malformed("invalid escape", i)
			}
		case c < 0x20:
			return sp, 0, malformed("control character in string", i)
		case c >= utf8.RuneSelf:
			sp.flags |= sNonASCII
		}
	}
	return sp, 0, malformed("unterminated string", i)
}

// plain marks the bytes that a string holds as they are: printable ASCII
// other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanValue scans the value that starts at i.
func (p *parser) scanValue(i int) (span, int, error) {
	d := p.data
	if i == len(d) {
		return span{}, 0, malformed("unexpected end", i)
	}
	switch c := d[i]; {
	case c == '"':
		return p.scanString(i)
	case c == '{' || c == '[':
		end, err := p.skipNested(i)
		return span{start: i, end: end, kind: kNested}, end, err
	case c == '-' || isDigit(c):
		end, err := p.scanNumber(i)
		return span{start: i, end: end, kind: kLiteral}, end, err
	case c == 't':
		return p.literal(i, "true", kLiteral)
	case c == 'f':
		return p.literal(i, "false", kLiteral)
	case c == 'n':
		return p.literal(i, "null", kNull)
	}
	return span{}, 0, malformed("invalid character", i)
}

func (p *parser) literal(i int, lit string, kind uint8) (span, int, error) {
	end := i + len(lit)
	if end > len(p.data) || string(p.data[i:end]) != lit {
		return span{}, 0, malformed("invalid literal", i)
	}
	return span{start: i, end: end, kind: kind}, end, nil
}

// scanNumber scans a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *parser) scanNumber(i int) (int, error) {
	d := p.data
	start := i
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && isDigit(d[i]):
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	default:
		return 0, malformed("invalid number", start)
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i == len(d) || !isDigit(d[i]) {
			return 0, malformed("invalid number", start)
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i == len(d) || !isDigit(d[i]) {
			return 0, malformed("invalid number", start)
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	return i, nil
}

// objectKey scans `"name" :` at i and returns the index of the value.
func (p *parser) objectKey(i int) (int, error) {
	d := p.data
	if i == len(d) || d[i] != '"' {
		return 0, malformed("expected a field name", i)
	}
	_, next, err := p.scanString(i)
	if err != nil {
		return 0, err
	}
	i = p.skipSpace(next)
	if i == len(d) || d[i] != ':' {
		return 0, malformed("expected ':'", i)
	}
	return p.skipSpace(i + 1), nil
}

// fieldOf maps a field name (the span of a string) to the Event field it
// names. Names are compared as encoding/json compares them with struct
// fields: after unquoting, under Unicode simple case folding.
func (p *parser) fieldOf(key span) field {
	s := p.data[key.start:key.end]
	if key.flags != 0 {
		// Every name we know is at most 13 characters, each at most
		// 6 bytes when written as \uXXXX.
		if len(s) > 13*6 {
			return fNone
		}
		var tmp [128]byte
		s = appendUnquoted(tmp[:0], s, key.flags, false)
	}
	// Fold to upper-case ASCII; a rune that does not fold into ASCII
	// cannot be part of a name we know.
	var folded [13]byte
	n := 0
	for i := 0; i < len(s); {
		if n == len(folded) {
			return fNone
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			i++
		} else {
			r, size := utf8.DecodeRune(s[i:])
			r = foldRune(r)
			if r >= utf8.RuneSelf {
				return fNone
			}
			c = byte(r)
			i += size
		}
		folded[n] = c
		n++
	}
	switch string(folded[:n]) {
	case "TYPE":
		return fType
	case "DIRECTION":
		return fDirection
	case "CALLERID", "CALLER_ID":
		return fCallerID
	case "UNIQUEID", "UNIQUE_ID":
		return fUniqueID
	case "AGENT":
		return fAgent
	case "REASON", "HANGUPREASON", "HANGUP_REASON", "CAUSE":
		return fReason
	}
	return fNone
}
