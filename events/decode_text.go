package events

import (
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the parts of Decode's parser that skip nested values
// and turn a string's bytes into text (decode.go has the rest).

// nesting is a stack of open containers, one bit each (1 for an object),
// that lives on the caller's stack for the first 256 levels.
type nesting struct {
	inline [4]uint64
	spill  []uint64
	n      int
}

func (s *nesting) push(object bool) {
	w, b := s.n/64, uint(s.n%64)
	var word *uint64
	if w < len(s.inline) {
		word = &s.inline[w]
	} else {
		for len(s.spill) <= w-len(s.inline) {
			s.spill = append(s.spill, 0)
		}
		word = &s.spill[w-len(s.inline)]
	}
	if object {
		*word |= 1 << b
	} else {
		*word &^= 1 << b
	}
	s.n++
}

// top reports whether the innermost open container is an object.
func (s *nesting) top() bool {
	k := s.n - 1
	w, b := k/64, uint(k%64)
	if w < len(s.inline) {
		return s.inline[w]&(1<<b) != 0
	}
	return s.spill[w-len(s.inline)]&(1<<b) != 0
}

// skipNested validates the object or array that starts at i, iteratively,
// and returns the index after it. The event object is depth 1.
func (p *parser) skipNested(i int) (int, error) {
	d := p.data
	var st nesting
	for {
		// A value starts at i.
		if i == len(d) {
			return 0, malformed("unexpected end", i)
		}
		switch c := d[i]; c {
		case '{', '[':
			if st.n+2 > maxDepth {
				return 0, malformed("nesting too deep", i)
			}
			st.push(c == '{')
			i = p.skipSpace(i + 1)
			if i < len(d) && (d[i] == '}' && c == '{' || d[i] == ']' && c == '[') {
				st.n--
				i++
				break
			}
			if c == '{' {
				var err error
				if i, err = p.objectKey(i); err != nil {
					return 0, err
				}
			}
			continue
		default:
			_, next, err := p.scanValue(i)
			if err != nil {
				return 0, err
			}
			i = next
		}
		// A value ended at i: close containers until one continues.
		for {
			if st.n == 0 {
				return i, nil
			}
			i = p.skipSpace(i)
			if i == len(d) {
				return 0, malformed("unexpected end", i)
			}
			object := st.top()
			c := d[i]
			if c == ',' {
				i = p.skipSpace(i + 1)
				if object {
					var err error
					if i, err = p.objectKey(i); err != nil {
						return 0, err
					}
				}
				break
			}
			if object && c == '}' || !object && c == ']' {
				st.n--
				i++
				continue
			}
			return 0, malformed("expected ',' or end of container", i)
		}
	}
}

// foldRune returns the smallest rune of r's case-folding orbit (as
// encoding/json does): 'ſ' (U+017F) folds to 'S', 'K' (U+212A) to 'K'.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// appendUnquoted appends the text of the (validated) string content s to
// dst, as encoding/json unquotes it; upper maps it with unicode.ToUpper,
// as strings.ToUpper would.
func appendUnquoted(dst, s []byte, flags uint8, upper bool) []byte {
	if flags == 0 || flags == sNonASCII && !upper && utf8.Valid(s) {
		if !upper {
			return append(dst, s...)
		}
		for _, c := range s {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
		}
		return dst
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch s[i+1] {
			case 'b':
				dst = addRune(dst, '\b', upper)
			case 'f':
				dst = addRune(dst, '\f', upper)
			case 'n':
				dst = addRune(dst, '\n', upper)
			case 'r':
				dst = addRune(dst, '\r', upper)
			case 't':
				dst = addRune(dst, '\t', upper)
			case 'u':
				r := getu4(s[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, getu4(s[i+2:])); dec != unicode.ReplacementChar {
							dst = addRune(dst, dec, upper)
							i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				dst = addRune(dst, r, upper)
				continue
			default: // '"', '\\', '/'
				dst = addRune(dst, rune(s[i+1]), upper)
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = addRune(dst, rune(c), upper)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			dst = addRune(dst, r, upper) // RuneError for invalid UTF-8, as encoding/json
			i += size
		}
	}
	return dst
}

func addRune(dst []byte, r rune, upper bool) []byte {
	if upper {
		r = unicode.ToUpper(r)
	}
	return utf8.AppendRune(dst, r)
}

// getu4 decodes the 4 (validated) hex digits at the start of s.
func getu4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
