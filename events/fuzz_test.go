package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzDecode checks Decode against encoding/json. The seed corpus is in
// testdata/fuzz/FuzzDecode; run it longer with
//
//	go test -run=^$ -fuzz=FuzzDecode -fuzztime=10m ./events
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"direction": "OUTBOUND", "callerid": "1234", "type": "NEWCALL", "uniqueid": "1282779516.1.6", "agent": "default_1001"}`,
		`{"direction": "", "callerid": "2198765456", "type": "HANGUP", "uniqueid": "1282781304.2.5", "agent": "default_1001", "reason": "BYCALLER"}`,
		`{"callerid": 2198765456, "type": "newcall", "x": {"a": [1, {"b": null}]}}`,
		`{"Type":"PAUSE","Direction":"Lunch \u00e9\ud83d\ude00\ud800","AGENT":null}`,
		`[{"type":"NEWCALL"}]`,
		`{"type":"NEWCALL",}`,
		"{\"type\":\"\xff\xfe\"}",
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecode(t, body)
	})
}

// checkDecode checks the properties of Decode on one body:
//   - it does not panic;
//   - it succeeds exactly when body is a valid JSON object (json.Valid);
//   - on success, Raw equals body, and the fields and Extra agree with what
//     encoding/json reads from body;
//   - on failure, the error wraps ErrMalformed.
func checkDecode(t *testing.T, body []byte) {
	t.Helper()
	orig := bytes.Clone(body)
	ev, err := Decode(body)
	if !bytes.Equal(body, orig) {
		t.Fatalf("Decode modified its input")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	valid := json.Valid(body) && len(trimmed) > 0 && trimmed[0] == '{'
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("Decode(%q): error %v does not wrap ErrMalformed", body, err)
		}
		if valid {
			t.Fatalf("Decode(%q): %v, but encoding/json finds it a valid object", body, err)
		}
		return
	}
	if !valid {
		t.Fatalf("Decode(%q) succeeded, but encoding/json finds it invalid: %+v", body, ev)
	}
	if !bytes.Equal(ev.Raw, body) {
		t.Fatalf("Raw = %q, want %q", ev.Raw, body)
	}
	if len(body) > 0 && len(ev.Raw) > 0 && &ev.Raw[0] == &body[0] {
		t.Fatalf("Raw aliases the input")
	}

	want, err := oracle(body)
	if err != nil {
		t.Fatalf("oracle(%q): %v", body, err)
	}
	if ev.Type != want.Type || ev.Direction != want.Direction || ev.CallerID != want.CallerID ||
		ev.UniqueID != want.UniqueID || ev.Agent != want.Agent || ev.Reason != want.Reason {
		t.Fatalf("Decode(%q) =\n%#v\nencoding/json gives\n%#v", body, fieldsOf(ev), fieldsOf(want))
	}
	if len(ev.Extra) != len(want.Extra) {
		t.Fatalf("Decode(%q): Extra = %q, want %q", body, ev.Extra, want.Extra)
	}
	for k, v := range want.Extra {
		if got, ok := ev.Extra[k]; !ok || !bytes.Equal(got, v) {
			t.Fatalf("Decode(%q): Extra[%q] = %q, want %q", body, k, got, v)
		}
	}

	// With only string values and the primary names, a plain struct
	// decoded by encoding/json must agree too.
	if plainStrings(body) {
		var w wireEvent
		if err := json.Unmarshal(body, &w); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", body, err)
		}
		if string(ev.Type) != strings.ToUpper(w.Type) || ev.Direction != w.Direction ||
			ev.CallerID != w.CallerID || ev.UniqueID != w.UniqueID || ev.Agent != w.Agent || ev.Reason != w.Reason {
			t.Fatalf("Decode(%q) = %#v, encoding/json into a struct gives %#v", body, fieldsOf(ev), w)
		}
	}
}

func fieldsOf(ev Event) [6]string {
	return [6]string{string(ev.Type), ev.Direction, ev.CallerID, ev.UniqueID, ev.Agent, ev.Reason}
}

var aliases = map[string]field{
	"type": fType, "direction": fDirection, "callerid": fCallerID, "caller_id": fCallerID,
	"uniqueid": fUniqueID, "unique_id": fUniqueID, "agent": fAgent, "reason": fReason,
	"hangupreason": fReason, "hangup_reason": fReason, "cause": fReason,
}

func oracleField(name string) field {
	for a, f := range aliases {
		if strings.EqualFold(name, a) {
			return f
		}
	}
	return fNone
}

// oracle decodes a valid JSON object with encoding/json's token stream,
// applying Decode's rules.
func oracle(body []byte) (Event, error) {
	var ev Event
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '{'
		return ev, err
	}
	set := map[field]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ev, err
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return ev, err
		}
		f := oracleField(key)
		var text string
		nested := false
		switch raw[0] {
		case '"':
			if err := json.Unmarshal(raw, &text); err != nil {
				return ev, err
			}
		case '{', '[':
			nested = true
		case 'n':
		default:
			text = string(raw)
		}
		if f == fNone || nested {
			if ev.Extra == nil {
				ev.Extra = map[string]json.RawMessage{}
			}
			ev.Extra[key] = raw
		}
		if f != fNone {
			set[f] = text
		}
	}
	ev.Type = Type(strings.ToUpper(set[fType]))
	ev.Direction, ev.CallerID, ev.UniqueID = set[fDirection], set[fCallerID], set[fUniqueID]
	ev.Agent, ev.Reason = set[fAgent], set[fReason]
	return ev, nil
}

// plainStrings reports whether body is an object whose values are all
// strings and whose names are the primary names (case aside).
func plainStrings(body []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	for k, v := range m {
		for _, alias := range []string{"caller_id", "unique_id", "hangupreason", "hangup_reason", "cause"} {
			if strings.EqualFold(k, alias) {
				return false
			}
		}
		if len(v) == 0 || v[0] != '"' {
			return false
		}
	}
	return true
}
