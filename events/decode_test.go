package events

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDecodeReferenceExample(t *testing.T) {
	body := []byte(`{
    "direction": "OUTBOUND",
    "callerid": "1234",
    "type": "NEWCALL",
    "uniqueid": "1282779516.1.6",
    "agent": "default_1001"
}`)
	ev, err := Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	want := Event{Type: NewCall, Direction: "OUTBOUND", CallerID: "1234", UniqueID: "1282779516.1.6", Agent: "default_1001"}
	if fieldsOf(ev) != fieldsOf(want) || ev.Extra != nil {
		t.Fatalf("Decode = %+v, want %+v", ev, want)
	}
	if string(ev.Raw) != string(body) {
		t.Fatalf("Raw = %q", ev.Raw)
	}
	body[0] = 'X'
	if ev.Raw[0] != '{' {
		t.Fatal("Raw shares memory with the body")
	}
	if !ev.Type.Known() {
		t.Fatal("NEWCALL not Known")
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		want  [6]string // type, direction, callerid, uniqueid, agent, reason
		extra map[string]string
	}{
		{"hangup with reason", `{"direction":"","callerid":"2198765456","type":"HANGUP","uniqueid":"1.2.5","agent":"default_1001","reason":"NOANSWER"}`,
			[6]string{"HANGUP", "", "2198765456", "1.2.5", "default_1001", "NOANSWER"}, nil},
		{"numeric callerid and uniqueid", `{"type":"NEWCALL","callerid":2198765456,"uniqueid":1282781304.25,"agent":"a"}`,
			[6]string{"NEWCALL", "", "2198765456", "1282781304.25", "a", ""}, nil},
		{"booleans", `{"type":true,"agent":false}`, [6]string{"TRUE", "", "", "", "false", ""}, nil},
		{"null", `{"type":"LOGIN","agent":null,"reason":null}`, [6]string{"LOGIN", "", "", "", "", ""}, nil},
		{"case-insensitive names, type upper-cased", `{"TYPE":"newcall","Direction":"INBOUND","CallerID":"1","UNIQUEID":"2","Agent":"a","REASON":"x"}`,
			[6]string{"NEWCALL", "INBOUND", "1", "2", "a", "x"}, nil},
		{"aliases", `{"type":"HANGUP","caller_id":"1","unique_id":"2","hangup_reason":"BUSY"}`,
			[6]string{"HANGUP", "", "1", "2", "", "BUSY"}, nil},
		{"cause alias", `{"type":"HANGUP","cause":"MSGONE"}`, [6]string{"HANGUP", "", "", "", "", "MSGONE"}, nil},
		{"hangupreason alias", `{"HangupReason":"PICKUP"}`, [6]string{"", "", "", "", "", "PICKUP"}, nil},
		{"last duplicate wins", `{"type":"NEWCALL","Type":"CONNECT","reason":"BUSY","cause":"FAILED"}`,
			[6]string{"CONNECT", "", "", "", "", "FAILED"}, nil},
		{"unknown type and fields kept", `{"type":"Transfer","agent":"a","queue":"7015","n":-1.5e3,"vars":{"x":[1,{"y":null}]},"ok":true}`,
			[6]string{"TRANSFER", "", "", "", "a", ""},
			map[string]string{"queue": `"7015"`, "n": `-1.5e3`, "vars": `{"x":[1,{"y":null}]}`, "ok": `true`}},
		{"nested value under a known name", `{"agent":"a","agent":{"id":1},"callerid":[1]}`,
			[6]string{"", "", "", "", "", ""}, map[string]string{"agent": `{"id":1}`, "callerid": `[1]`}},
		{"escapes", `{"callerid":"\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac","k\u0065y":"v"}`,
			[6]string{"", "", "\"\\/\b\f\n\r\tAé€", "", "", ""}, map[string]string{"key": `"v"`}},
		{"escaped name", `{"\u0074ype":"pause","direction":"Caf\u00e9"}`, [6]string{"PAUSE", "Café", "", "", "", ""}, nil},
		{"surrogates", `{"direction":"\ud83d\ude00|\ud800|\udc00|\ud800\u0041"}`,
			[6]string{"", "\U0001F600|\uFFFD|\uFFFD|\uFFFDA", "", "", "", ""}, nil},
		{"raw unicode", "{\"direction\":\"Pausa café ☕\"}", [6]string{"", "Pausa café ☕", "", "", "", ""}, nil},
		{"invalid UTF-8 replaced", "{\"agent\":\"a\xffb\"}", [6]string{"", "", "", "", "a\uFFFDb", ""}, nil},
		{"unicode folding as encoding/json", "{\"rea\u017fon\":\"BUSY\"}", [6]string{"", "", "", "", "", "BUSY"}, nil},
		{"white space", " \r\n\t{ \"type\" :\n\"LOGIN\" , \"agent\"\t:\"a\" }\n ", [6]string{"LOGIN", "", "", "", "a", ""}, nil},
		{"empty object", `{}`, [6]string{}, nil},
		{"lower-case type upper-cased beyond ASCII", `{"type":"hangup ſ"}`, [6]string{"HANGUP S", "", "", "", "", ""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := fieldsOf(ev); got != tt.want {
				t.Errorf("fields = %q, want %q", got, tt.want)
			}
			if len(ev.Extra) != len(tt.extra) {
				t.Errorf("Extra = %q, want %q", ev.Extra, tt.extra)
			}
			for k, v := range tt.extra {
				if string(ev.Extra[k]) != v {
					t.Errorf("Extra[%q] = %q, want %q", k, ev.Extra[k], v)
				}
			}
			checkDecode(t, []byte(tt.body))
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, body := range []string{
		``, ` `, `null`, `"NEWCALL"`, `42`, `[{"type":"NEWCALL"}]`,
		`{`, `{"type"`, `{"type":`, `{"type":"NEWCALL"`, `{"type":"NEWCALL",}`, `{,}`,
		`{"type":"NEWCALL"}x`, `{"type":"NEWCALL"}{}`, "{\"type\":\"LOGIN\"}\x00",
		`{'type': 'NEWCALL'}`, `{type:"NEWCALL"}`, `{"type" "NEWCALL"}`,
		`{"a":"\x41"}`, `{"a":"\u12"}`, `{"a":"\u12G4"}`, `{"a":"\'"}`, "{\"a\":\"x\ny\"}",
		`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":1e+}`, `{"a":.5}`, `{"a":+1}`, `{"a":0x10}`,
		`{"a":tru}`, `{"a":nul}`, `{"a":True}`, `{"a":NaN}`,
		`{"a":[1,]}`, `{"a":[1}`, `{"a":{"b"}}`, `{"a":{"b":1,}}`, `{"a":{1:2}}`, `{"a":[}`, `{"a":]}`,
		"\xef\xbb\xbf{}", `{"a":"unterminated}`, `{"a":"\`,
	} {
		ev, err := Decode([]byte(body))
		if err == nil {
			t.Errorf("Decode(%q) = %+v, want an error", body, ev)
			continue
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%q): %v does not wrap ErrMalformed", body, err)
		}
		if !strings.Contains(err.Error(), "offset") {
			t.Errorf("Decode(%q): %v does not say where", body, err)
		}
		checkDecode(t, []byte(body))
	}
}

// TestDecodeDepth checks encoding/json's nesting limit of 10000 (the event
// object is level 1), and that deep bodies do not exhaust the stack.
func TestDecodeDepth(t *testing.T) {
	nest := func(levels int, open, close string) []byte {
		return []byte(`{"x":` + strings.Repeat(open, levels-1) + strings.Repeat(close, levels-1) + `}`)
	}
	for _, tt := range []struct {
		levels int
		ok     bool
	}{{2, true}, {100, true}, {300, true}, {maxDepth, true}, {maxDepth + 1, false}, {100000, false}} {
		for _, kind := range [][2]string{{"[", "]"}, {`{"a":`, "}"}} {
			body := nest(tt.levels, kind[0], kind[1])
			if kind[0] != "[" {
				// {"x":{"a":{"a":...}}}: the innermost needs a value.
				body = []byte(`{"x":` + strings.Repeat(`{"a":`, tt.levels-2) + `{}` + strings.Repeat("}", tt.levels-2) + `}`)
			}
			_, err := Decode(body)
			if (err == nil) != tt.ok {
				t.Errorf("%d levels of %s: err = %v, want ok=%v", tt.levels, kind[0], err, tt.ok)
			}
			if tt.levels <= maxDepth+1 {
				checkDecode(t, body)
			}
		}
	}
	// Unclosed nesting far past the limit fails at the limit.
	if _, err := Decode([]byte(`{"x":` + strings.Repeat("[", 1<<20))); !errors.Is(err, ErrMalformed) {
		t.Errorf("unclosed nesting: %v", err)
	}
}

func TestDecodeExtraIsReadOnlyView(t *testing.T) {
	ev, err := Decode([]byte(`{"type":"NEWCALL","x":[1,2]}`))
	if err != nil {
		t.Fatal(err)
	}
	x := ev.Extra["x"]
	x = append(x, ',')
	_ = x
	if string(ev.Raw) != `{"type":"NEWCALL","x":[1,2]}` {
		t.Fatalf("appending to an Extra value changed Raw: %q", ev.Raw)
	}
	var v []int
	if err := json.Unmarshal(ev.Extra["x"], &v); err != nil || len(v) != 2 {
		t.Fatalf("Extra[x] = %q: %v", ev.Extra["x"], err)
	}
}

func TestDecodeManyExtraFields(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"type":"LOGIN"`)
	for i := 0; i < 50; i++ {
		b.WriteString(`,"f` + strings.Repeat("x", i) + `":` + `"v"`)
	}
	b.WriteString("}")
	ev, err := Decode([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Extra) != 50 || ev.Type != Login {
		t.Fatalf("Extra has %d fields, Type %q", len(ev.Extra), ev.Type)
	}
	checkDecode(t, []byte(b.String()))
}

func TestDecodeLongValues(t *testing.T) {
	long := strings.Repeat("é\\u00e9x", 200)
	body := []byte(`{"agent":"` + long + `","callerid":"` + strings.Repeat("9", 1000) + `"}`)
	checkDecode(t, body)
}

func TestDecodeAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	for _, tt := range []struct {
		body []byte
		max  float64
	}{{benchBody, 2}, {benchHangup, 2}} {
		n := testing.AllocsPerRun(100, func() {
			if _, err := Decode(tt.body); err != nil {
				t.Fatal(err)
			}
		})
		if n > tt.max {
			t.Errorf("Decode(%s): %v allocations, want at most %v", tt.body, n, tt.max)
		}
	}
}

func TestDecodeTypesAndReasonsInterned(t *testing.T) {
	for _, typ := range []Type{NewCall, DNewCall, Connect, DConnect, Hangup, Login, Logout, Pause, Unpause} {
		ev, err := Decode([]byte(`{"type":"` + strings.ToLower(string(typ)) + `"}`))
		if err != nil || ev.Type != typ || !ev.Type.Known() {
			t.Errorf("type %s: %q, %v", typ, ev.Type, err)
		}
	}
	for _, r := range HangupReasons() {
		ev, err := Decode([]byte(`{"type":"HANGUP","reason":"` + r + `"}`))
		if err != nil || ev.Reason != r {
			t.Errorf("reason %s: %q, %v", r, ev.Reason, err)
		}
	}
	if Type("XYZ").Known() {
		t.Error("XYZ is Known")
	}
}
