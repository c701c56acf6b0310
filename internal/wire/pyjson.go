// Package wire holds the InstantVoice wire formats shared by the transports
// and the fake platform: the STOMP request and reply envelopes, and the
// normalisation of the Python-flavoured literals the platform sometimes sends
// (single-quoted strings, tuples, None/True/False, trailing commas).
//
// It is internal: partners never see these types, only what ivclient, stompx,
// soapx and ivtest build on them. A round trip as the transports make it:
//
//	body, err := wire.AppendRequest(nil, "QueueList", key, args, id) // ["QueueList", "KEY", {...}, "id"]
//	...
//	r, err := wire.ParseReply(msg)   // [0, ['1002', '1004'], "id"] is accepted too
//	if err == nil && r.Code == 0 {
//		err = json.Unmarshal(r.Payload, &out) // r.Payload is strict JSON
//	}
//
// Result types decode with DecodeLenient in their UnmarshalJSON methods, which
// absorbs the platform's loose scalars and XML-only field names.
//
// Guarantees: the package holds no state, and every function is safe for
// concurrent use. Malformed input gives an error: text that is neither JSON
// nor a Python literal wraps ErrSyntax (the Python-literal reader refuses
// nesting deeper than MaxDepth), and a reply that is not an array starting
// with a code is ErrNotEnvelope.
package wire

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// ErrSyntax is returned for text that is neither JSON nor a Python literal.
var ErrSyntax = errors.New("wire: malformed message")

// MaxDepth bounds the nesting of lists and objects the normaliser accepts.
const MaxDepth = 64

// Normalize returns b as strict JSON. Valid JSON is returned as it is, without
// a copy. Otherwise b is read as a Python literal (what the platform emits
// when it prints a list with str()): single-quoted strings, tuples, None,
// True, False and trailing commas are rewritten to their JSON forms.
func Normalize(b []byte) ([]byte, error) {
	if json.Valid(b) {
		return b, nil
	}
	n := &normalizer{in: b, out: make([]byte, 0, len(b)+8)}
	n.skipSpace()
	if err := n.value(0); err != nil {
		return nil, err
	}
	n.skipSpace()
	if n.pos != len(n.in) {
		return nil, n.errorf("trailing data")
	}
	if !json.Valid(n.out) {
		return nil, n.errorf("not representable as JSON")
	}
	return n.out, nil
}

type normalizer struct {
	in  []byte
	pos int
	out []byte
}

func (n *normalizer) errorf(what string) error {
	return errors.Join(ErrSyntax, errors.New("wire: "+what+" at offset "+strconv.Itoa(n.pos)))
}

func (n *normalizer) skipSpace() {
	for n.pos < len(n.in) {
		switch n.in[n.pos] {
		case ' ', '\t', '\n', '\r':
			n.pos++
		default:
			return
		}
	}
}

func (n *normalizer) value(depth int) error {
	if depth > MaxDepth {
		return n.errorf("nesting too deep")
	}
	if n.pos >= len(n.in) {
		return n.errorf("unexpected end")
	}
	switch c := n.in[n.pos]; {
	case c == '[':
		return n.seq(']', depth)
	case c == '(':
		return n.seq(')', depth)
	case c == '{':
		return n.object(depth)
	case c == '"' || c == '\'':
		return n.str(c)
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return n.number()
	default:
		return n.word()
	}
}

func (n *normalizer) seq(end byte, depth int) error {
	n.pos++
	n.out = append(n.out, '[')
	first := true
	for {
		n.skipSpace()
		if n.pos >= len(n.in) {
			return n.errorf("unterminated list")
		}
		if n.in[n.pos] == end {
			n.pos++
			n.out = append(n.out, ']')
			return nil
		}
		if !first {
			if n.in[n.pos] != ',' {
				return n.errorf("expected ','")
			}
			n.pos++
			n.skipSpace()
			if n.pos < len(n.in) && n.in[n.pos] == end {
				continue // trailing comma
			}
			n.out = append(n.out, ',')
		}
		first = false
		if err := n.value(depth + 1); err != nil {
			return err
		}
	}
}

func (n *normalizer) object(depth int) error {
	n.pos++
	n.out = append(n.out, '{')
	first := true
	for {
		n.skipSpace()
		if n.pos >= len(n.in) {
			return n.errorf("unterminated object")
		}
		if n.in[n.pos] == '}' {
			n.pos++
			n.out = append(n.out, '}')
			return nil
		}
		if !first {
			if n.in[n.pos] != ',' {
				return n.errorf("expected ','")
			}
			n.pos++
			n.skipSpace()
			if n.pos < len(n.in) && n.in[n.pos] == '}' {
				continue
			}
			n.out = append(n.out, ',')
		}
		first = false
		if n.pos >= len(n.in) {
			return n.errorf("unterminated object")
		}
		// A key must be a string; Python may print numeric keys bare.
		switch c := n.in[n.pos]; c {
		case '"', '\'':
			if err := n.str(c); err != nil {
				return err
			}
		default:
			start := len(n.out)
			if err := n.value(depth + 1); err != nil {
				return err
			}
			key := append([]byte(nil), n.out[start:]...)
			n.out = AppendString(n.out[:start], string(key))
		}
		n.skipSpace()
		if n.pos >= len(n.in) || n.in[n.pos] != ':' {
			return n.errorf("expected ':'")
		}
		n.pos++
		n.out = append(n.out, ':')
		n.skipSpace()
		if err := n.value(depth + 1); err != nil {
			return err
		}
	}
}

// str reads a string quoted with q and writes it as a JSON string.
func (n *normalizer) str(q byte) error {
	n.pos++
	n.out = append(n.out, '"')
	for n.pos < len(n.in) {
		c := n.in[n.pos]
		switch {
		case c == q:
			n.pos++
			n.out = append(n.out, '"')
			return nil
		case c == '\\':
			if n.pos+1 >= len(n.in) {
				return n.errorf("unterminated escape")
			}
			e := n.in[n.pos+1]
			n.pos += 2
			switch e {
			case '\'':
				n.out = append(n.out, '\'')
			case '"':
				n.out = append(n.out, '\\', '"')
			case '\\', '/', 'b', 'f', 'n', 'r', 't':
				n.out = append(n.out, '\\', e)
			case 'u':
				if n.pos+4 > len(n.in) {
					return n.errorf("short \\u escape")
				}
				n.out = append(n.out, '\\', 'u')
				n.out = append(n.out, n.in[n.pos:n.pos+4]...)
				n.pos += 4
			case 'x':
				if n.pos+2 > len(n.in) {
					return n.errorf("short \\x escape")
				}
				v, err := strconv.ParseUint(string(n.in[n.pos:n.pos+2]), 16, 8)
				if err != nil {
					return n.errorf("bad \\x escape")
				}
				n.pos += 2
				n.out = append(n.out, `\u00`...)
				n.out = append(n.out, "0123456789abcdef"[v>>4], "0123456789abcdef"[v&15])
			default:
				return n.errorf("unknown escape")
			}
		case c == '"':
			n.pos++
			n.out = append(n.out, '\\', '"')
		case c < 0x20:
			n.pos++
			n.out = append(n.out, `\u00`...)
			n.out = append(n.out, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		case c < utf8.RuneSelf:
			n.pos++
			n.out = append(n.out, c)
		default:
			r, size := utf8.DecodeRune(n.in[n.pos:])
			if r == utf8.RuneError && size == 1 {
				n.out = append(n.out, `\ufffd`...)
			} else {
				n.out = append(n.out, n.in[n.pos:n.pos+size]...)
			}
			n.pos += size
		}
	}
	return n.errorf("unterminated string")
}

func (n *normalizer) number() error {
	start := n.pos
	if n.in[n.pos] == '+' {
		start++
		n.pos++
	}
	for n.pos < len(n.in) {
		c := n.in[n.pos]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || c == 'L' {
			n.pos++
			continue
		}
		break
	}
	text := n.in[start:n.pos]
	if len(text) > 0 && text[len(text)-1] == 'L' { // Python 2 long
		text = text[:len(text)-1]
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return n.errorf("bad number")
	}
	if json.Valid(text) {
		n.out = append(n.out, text...)
		return nil
	}
	n.out = strconv.AppendFloat(n.out, f, 'g', -1, 64)
	return nil
}

func (n *normalizer) word() error {
	start := n.pos
	for n.pos < len(n.in) {
		c := n.in[n.pos]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' {
			n.pos++
			continue
		}
		break
	}
	switch string(n.in[start:n.pos]) {
	case "None", "null", "nil":
		n.out = append(n.out, "null"...)
	case "True", "true":
		n.out = append(n.out, "true"...)
	case "False", "false":
		n.out = append(n.out, "false"...)
	default:
		n.pos = start
		return n.errorf("unexpected token")
	}
	return nil
}

// UnwrapTuple returns the single element of a Python one-tuple printed as
// text, such as "('0001',)" or "(1001,)"; other text is returned as it is.
func UnwrapTuple(s string) string {
	if len(s) < 4 || s[0] != '(' || s[len(s)-1] != ')' {
		return s
	}
	inner := s[1 : len(s)-1]
	if len(inner) > 0 && inner[len(inner)-1] == ',' {
		inner = inner[:len(inner)-1]
	} else {
		return s
	}
	if len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0] {
		return inner[1 : len(inner)-1]
	}
	return inner
}
