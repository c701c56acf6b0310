package wire

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encodingJSON is the reference: a string as encoding/json writes it with
// HTML escaping off.
func encodingJSON(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Identifiers and keys that strconv.Quote writes as invalid JSON (\a, \x7f,
// \xff, \v) or that need JSON's own escapes.
var awkwardStrings = []string{
	"", "plain", "say \"hi\"", `back\slash`, "bell\a", "del\x7f", "vt\v", "nul\x00",
	"\b\f\n\r\t", "\x1f", "bad\xffutf8", "\xc3", "trunc\xe2\x82", "\xed\xa0\x80 surrogate",
	"café ☎ 𝄞", "<&>", "line\u2028sep\u2029", "\ufffd", "\U0010ffff",
}

func TestAppendStringIsEncodingJSON(t *testing.T) {
	for _, s := range awkwardStrings {
		got := AppendString([]byte("x"), s)
		assert.Equal(t, "x"+string(encodingJSON(t, s)), string(got), "%q", s)
		assert.True(t, json.Valid(got[1:]), "%q -> %s", s, got[1:])
	}
}

// TestEnvelopeAwkwardStrings: requests and replies whose identifier or key
// holds control characters, DEL or invalid UTF-8 are valid JSON, and parse
// back to what encoding/json makes of the same string. (With
// strconv.AppendQuote, "bell\a" was written as "bell\a": not JSON.)
func TestEnvelopeAwkwardStrings(t *testing.T) {
	for _, s := range awkwardStrings {
		if s == "" {
			continue
		}
		want := decodeJSONString(t, encodingJSON(t, s))

		req, err := AppendRequest(nil, "QueueList", s, map[string]string{"accountcode": s}, s)
		require.NoError(t, err)
		require.True(t, json.Valid(req), "request %q", req)
		r, err := ParseRequest(req)
		require.NoError(t, err, "%q", req)
		assert.Equal(t, want, r.Key)
		assert.Equal(t, want, r.ID)
		assert.True(t, r.HasID)

		rep, err := AppendReply(nil, 3, s, s)
		require.NoError(t, err)
		require.True(t, json.Valid(rep), "reply %q", rep)
		p, err := ParseReply(rep)
		require.NoError(t, err, "%q", rep)
		assert.Equal(t, want, p.ID)
		payload, ok := p.PayloadString()
		assert.True(t, ok)
		assert.Equal(t, want, payload)
	}
}

func decodeJSONString(t testing.TB, b []byte) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return s
}

// FuzzAppendString: AppendString writes what encoding/json writes, and a
// request and a reply carrying the string as method, key and identifier
// are valid JSON that parse back to encoding/json's reading of it.
func FuzzAppendString(f *testing.F) {
	for _, s := range awkwardStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := encodingJSON(t, s)
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, encoding/json: %s", s, got, want)
		}
		ws := decodeJSONString(t, want)
		if utf8.ValidString(s) && ws != s {
			t.Fatalf("valid UTF-8 %q came back as %q", s, ws)
		}

		req, err := AppendRequest(nil, s, s, map[string]string{s: s}, s)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(req) {
			t.Fatalf("request is not JSON: %q", req)
		}
		var parts []any
		if err := json.Unmarshal(req, &parts); err != nil || len(parts) < 3 {
			t.Fatalf("request %q: %v", req, err)
		}
		if parts[0] != ws || parts[1] != ws {
			t.Fatalf("request %q: method and key %q, %q, want %q", req, parts[0], parts[1], ws)
		}
		if s != "" {
			if len(parts) != 4 || parts[3] != ws {
				t.Fatalf("request %q: identifier, want %q", req, ws)
			}
			if r, err := ParseRequest(req); err != nil || r.Key != ws || r.ID != ws || !r.HasID {
				t.Fatalf("ParseRequest(%q) = %+v, %v", req, r, err)
			}
		}

		rep, err := AppendReply(nil, 0, s, s)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseReply(rep)
		if err != nil || !json.Valid(rep) {
			t.Fatalf("reply %q: %v", rep, err)
		}
		if got, _ := r.PayloadString(); got != ws || (s != "" && r.ID != ws) {
			t.Fatalf("ParseReply(%q) = %+v, want %q", rep, r, ws)
		}
	})
}

// A Python dict key that is not a string (here a tuple holding DEL) becomes
// a JSON string of its JSON text; strconv.AppendQuote wrote DEL as \x7f,
// which is not JSON.
func TestNormalizeNonStringKey(t *testing.T) {
	got, err := Normalize([]byte("{('a\x7f', 1): 'v'}"))
	require.NoError(t, err)
	var m map[string]string
	require.NoError(t, json.Unmarshal(got, &m))
	assert.Equal(t, map[string]string{"[\"a\x7f\",1]": "v"}, m)
}
