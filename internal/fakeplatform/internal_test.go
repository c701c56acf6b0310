package fakeplatform

import (
	"strings"
	"testing"

	"github.com/instantvoice/instantvoice-go/internal/catalog"
)

// TestMethodTable holds the platform's methods to ivclient's table: a
// handler for each of catalog.Methods, and none for another name.
func TestMethodTable(t *testing.T) {
	for _, m := range catalog.Methods() {
		if handlerOf(m.Name) == nil {
			t.Errorf("no handler for %s", m.Name)
		}
	}
	for _, name := range []string{"", "PollEvents", "StartTray", "agentadd", "AgentAdd "} {
		if handlerOf(name) != nil {
			t.Errorf("a handler for %q", name)
		}
	}
}

func TestScanHead(t *testing.T) {
	for _, c := range []struct {
		body, method, key, id string
		hasID, ok             bool
	}{
		{`["M", "k1", {"a": 1 "b": 2}, "id1"]`, "M", "k1", "id1", true, true},
		{`  [ 'M' , 'k\'1' , {x} ]`, "M", "k'1", "", false, true},
		{`["M", "k1", {"a": "1',}]`, "M", "k1", "", false, true},
		{`["M", "k1", {}, "a" "b"]`, "M", "k1", "", false, true},
		{`["M" "k1", {}]`, "", "", "", false, false},
		{`["M", k1, {}]`, "", "", "", false, false},
		{`{"M": "k1"}`, "", "", "", false, false},
		{`["M", "k1`, "", "", "", false, false},
		{``, "", "", "", false, false},
	} {
		r, ok := salvage([]byte(c.body))
		if ok != c.ok || (ok && (r.Method != c.method || r.Key != c.key || r.ID != c.id || r.HasID != c.hasID)) {
			t.Errorf("salvage(%q) = %+v, %v", c.body, r, ok)
		}
	}
}

// The lenient scan never panics, and a key it reads is one the body holds.
func FuzzSalvage(f *testing.F) {
	for _, s := range []string{`["M", "k", {"a": 1 "b": 2}, "id"]`, `['M', 'k\'', {}]`, `["M", "k\`, `[`, `["M",`,
		`["M", "k", {"a": "1',}, "i\"d"]`, `["M", 1234, {}]`, `[1, 2, 3]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := salvage(b)
		if ok && r.Key == "" && !strings.Contains(string(b), `""`) && !strings.Contains(string(b), `''`) {
			t.Fatalf("empty key from %q", b)
		}
	})
}
