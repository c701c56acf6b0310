// Package secrets hides the SDK's secrets (the STOMP passcode and the access
// keys) in text bound for a log line or an error string. Every transport
// uses it, so that the rules are the same everywhere:
//
//   - the passcode and every access key are hidden wherever they occur, even
//     inside a longer word (where two keys overlap, the longer one is hidden);
//   - the name of a /topic/ destination that looks like a key (letters and
//     digits only, as a reply topic is) is hidden too, so that the keys of
//     other clients are not shown either, while a dotted topic name such as
//     /topic/iv.agents.default_1001 is kept.
//
// What is hidden becomes Mask.
package secrets

import (
	"slices"
	"strings"
	"sync"
)

// Mask replaces every secret.
const Mask = "[redacted]"

// Redactor hides a passcode and a changing set of access keys. It is safe for
// concurrent use. Adding and removing a key cost O(1), and Redact costs time
// in the length of its text times the number of distinct key lengths (one,
// usually), not in the number of keys. A nil *Redactor hides only key-shaped
// topic names.
type Redactor struct {
	passcode string

	mu   sync.RWMutex
	keys map[string]struct{}
	lens []int // the distinct lengths of keys, longest first
	nlen map[int]int
}

// NewRedactor returns a Redactor for passcode ("" for none) and no keys.
func NewRedactor(passcode string) *Redactor {
	return &Redactor{passcode: passcode}
}

// AddKey makes r hide key from now on. Adding a key twice is one key.
func (r *Redactor) AddKey(key string) {
	if key == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.keys[key]; ok {
		return
	}
	if r.keys == nil {
		r.keys, r.nlen = make(map[string]struct{}), make(map[int]int)
	}
	r.keys[key] = struct{}{}
	if r.nlen[len(key)]++; r.nlen[len(key)] == 1 {
		r.lens = append(r.lens, len(key))
		slices.SortFunc(r.lens, func(a, b int) int { return b - a })
	}
}

// RemoveKey makes r forget key.
func (r *Redactor) RemoveKey(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.keys[key]; !ok {
		return
	}
	delete(r.keys, key)
	if r.nlen[len(key)]--; r.nlen[len(key)] == 0 {
		delete(r.nlen, len(key))
		r.lens = slices.DeleteFunc(r.lens, func(n int) bool { return n == len(key) })
	}
}

// Keys returns how many keys r hides.
func (r *Redactor) Keys() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.keys)
}

// Redact returns s with the passcode, the keys and key-shaped topic names
// hidden.
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return Topics(s)
	}
	if r.passcode != "" && strings.Contains(s, r.passcode) {
		s = strings.ReplaceAll(s, r.passcode, Mask)
	}
	r.mu.RLock()
	s = r.hideKeys(s)
	r.mu.RUnlock()
	return Topics(s)
}

// hideKeys replaces every key in s, the longest first where two start at the
// same place; r.mu is held. It allocates only when it replaces one.
func (r *Redactor) hideKeys(s string) string {
	if len(r.lens) == 0 {
		return s
	}
	var b strings.Builder
	done := 0 // s[:done] is in b
	for i := 0; i < len(s); {
		n := 0
		for _, l := range r.lens {
			if i+l <= len(s) {
				if _, ok := r.keys[s[i:i+l]]; ok {
					n = l
					break
				}
			}
		}
		if n == 0 {
			i++
			continue
		}
		if done == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[done:i])
		b.WriteString(Mask)
		i += n
		done = i
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// HideKey returns s with key and key-shaped topic names hidden, by the rules
// of a Redactor that knows only key.
func HideKey(s, key string) string {
	if key != "" && strings.Contains(s, key) {
		s = strings.ReplaceAll(s, key, Mask)
	}
	return Topics(s)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// Topics hides the name of every /topic/ destination in s that looks like
// an access key (letters and digits only), keeping dotted topic names such
// as /topic/iv.agents.default_1001 and patterns such as /topic/iv.agents.#.
func Topics(s string) string {
	const p = "/topic/"
	if !strings.Contains(s, p) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, p)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + len(p)
		k := j
		for k < len(s) && isAlnum(s[k]) {
			k++
		}
		dotted := k < len(s) && (s[k] == '.' || s[k] == '_' || s[k] == '-') && k+1 < len(s) &&
			(isAlnum(s[k+1]) || s[k+1] == '#' || s[k+1] == '*' || s[k+1] == '>')
		b.WriteString(s[:j])
		if k > j && !dotted {
			b.WriteString(Mask)
		} else {
			b.WriteString(s[j:k])
		}
		s = s[k:]
	}
}
