package soapx

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/instantvoice/instantvoice-go/codes"
)

var update = flag.Bool("update", false, "rewrite the expected JSON of testdata/replies")

// The reference's XML reply examples, exactly as printed (including its
// "mlns:" misspellings, which leave the prefixes undeclared), decode into
// the JSON values in testdata/replies/*.json.
func TestReferenceReplies(t *testing.T) {
	files, err := filepath.Glob("testdata/replies/*.xml")
	if err != nil || len(files) < 10 {
		t.Fatalf("fixtures: %v, %d files", err, len(files))
	}
	for _, f := range files {
		method := strings.TrimSuffix(filepath.Base(f), ".xml")
		t.Run(method, func(t *testing.T) {
			doc, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			el := bodyOfEnvelope(doc)
			if el == nil {
				t.Fatal("no Body element")
			}
			r, err := decodeElement(el, method, "1234", 200, shapeAny)
			if err != nil || r.fault != nil || r.code != nil {
				t.Fatalf("decode: %v %v %v", err, r.fault, r.code)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, r.json, "", "  "); err != nil {
				t.Fatalf("invalid JSON %s: %v", r.json, err)
			}
			pretty.WriteByte('\n')
			golden := strings.TrimSuffix(f, ".xml") + ".json"
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("got\n%s\nwant\n%s", pretty.Bytes(), want)
			}
		})
	}
}

func TestDecodeShapes(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		shape shape
		json  string
		code  codes.Code
	}{
		{"one item, list expected", `<R><RResult><x>7</x></RResult></R>`, shapeList, `["7"]`, 0},
		{"one item named like an item", `<R><RResult><integer>7</integer></RResult></R>`, shapeAny, `["7"]`, 0},
		{"one struct item, list expected", `<R><RResult><AgentLines><a>1</a></AgentLines></RResult></R>`, shapeList, `[{"a":"1"}]`, 0},
		{"one struct item, typed", `<R><RResult type="tns:AgentLinesArray"><AgentLines><a>1</a></AgentLines></RResult></R>`, shapeAny, `[{"a":"1"}]`, 0},
		{"empty typed list", `<R><RResult type="tns:integerArray"/></R>`, shapeAny, `[]`, 0},
		{"empty, list expected", `<R><RResult></RResult></R>`, shapeList, `[]`, 0},
		{"SOAP-ENC array", `<R><RResult xsi:type="SOAP-ENC:Array"><item>a</item></RResult></R>`, shapeAny, `["a"]`, 0},
		{"repeated member", `<R><RResult><a>1</a><b>x</b><a>2</a></RResult></R>`, shapeObject, `{"a":["1","2"],"b":"x"}`, 0},
		{"nil result", `<R><RResult xsi:nil="true"/></R>`, shapeObject, `null`, 0},
		{"no result", `<R/>`, shapeNone, `null`, 0},
		{"bare code 0", `<R><RResult>0</RResult></R>`, shapeNone, ``, 0},
		{"bare code name", `<R><RResult>RESPONSE_NO_LICENSE</RResult></R>`, shapeNone, ``, codes.NoLicense},
		{"bare code, object expected", `<R><RResult>5</RResult></R>`, shapeObject, ``, codes.Invalid},
		{"scalar string", `<R><RResult> 5 </RResult></R>`, shapeScalar, `"5"`, 0},
		{"escapes", `<R><RResult>a"b\c&#10;&#9;é&lt;</RResult></R>`, shapeScalar, `"a\"b\\c\n\té<"`, 0},
		{"code member", `<R><RResult><code>4</code><description>dup</description></RResult></R>`, shapeScalar, ``, codes.Duplicate},
		{"several parts", `<R><a>1</a><b>2</b></R>`, shapeObject, `{"a":"1","b":"2"}`, 0},
		{"named result among parts", `<R><x>1</x><RResult><a>1</a></RResult></R>`, shapeObject, `{"a":"1"}`, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := decodeBody([]byte(c.body), "R", "k", 200, c.shape)
			if err != nil {
				t.Fatal(err)
			}
			if c.code != 0 {
				if r.code == nil || r.code.Code != c.code || r.code.Method != "R" {
					t.Fatalf("code %v, want %v", r.code, c.code)
				}
				return
			}
			if r.code != nil || string(r.json) != c.json {
				t.Fatalf("json %s (code %v), want %s", r.json, r.code, c.json)
			}
		})
	}
}

func TestFaultCodeParsing(t *testing.T) {
	cases := []struct {
		code, str, detail string
		want              codes.Code
		ok                bool
	}{
		{"SOAP-ENV:Client", "RESPONSE_NOT_FOUND", "", codes.NotFound, true},
		{"Server", "error: PERMISSION_DENIED for this key", "", codes.PermissionDenied, true},
		{"Server.DAC_OFFLINE", "oops", "", codes.DACOffline, true},
		{"Client.-2", "x", "", codes.PermissionDenied, true},
		{"Server", "-1", "", codes.DACOffline, true},
		{"Server", "9999: internal", "", codes.InternalError, true},
		{"Server", "x", "12", codes.NoLicense, true},
		{"Server", "line 42 of file 3", "", 0, false},
		{"Server", "42 things went wrong", "", 0, false},
		// Only an exact naming counts (issue #11): a known number that
		// starts the text is not a code, a name must be a whole word.
		{"Server", "3 agents busy", "", 0, false},
		{"SOAP-ENV:Server", "10 calls in queue 7000", "", 0, false},
		{"Server", "error RESPONSE_NOT_FOUNDX", "", 0, false},
		{"Server", "response_not_found", "", 0, false},
		{"SOAP-ENV:Client.RESPONSE_NOT_FOUND", "Agent 4242 not found", "", codes.NotFound, true},
		{"SOAP-ENV:Client", "RESPONSE_DUPLICATE: Agent default_1001 already exists", "", codes.Duplicate, true},
		{"Server", " 3 ", "", codes.NotFound, true},
		{"Server", "0", "", 0, false},
		{"Server", "OK", "", 0, false},
		{"Server", "", "", 0, false},
	}
	for _, c := range cases {
		got, ok := codeFromFault(c.code, c.str, c.detail)
		if ok != c.ok || got != c.want {
			t.Errorf("codeFromFault(%q, %q, %q) = %v, %v; want %v, %v", c.code, c.str, c.detail, got, ok, c.want, c.ok)
		}
	}
}

func TestRedaction(t *testing.T) {
	err := scrub(errors.New("bad key abc123 and abc123"), "abc123")
	if err.Error() != "bad key [redacted] and [redacted]" {
		t.Errorf("scrub: %q", err)
	}
	if s := snippet([]byte(strings.Repeat("x", 509)+"abc123"), "abc123"); strings.Contains(s, "abc") {
		t.Errorf("snippet cut the key in half: %q", s)
	}
}

// Hostile or odd replies never panic the decoder.
func FuzzDecodeBody(f *testing.F) {
	files, _ := filepath.Glob("testdata/replies/*.xml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`<Fault><faultcode>Client.3</faultcode><faultstring>RESPONSE_NOT_FOUND</faultstring><detail><code>3</code></detail></Fault>`))
	f.Add([]byte(`<R><RResult><a>1</a><a><b xs:nil="1"/></a></RResult></R>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, sh := range []shape{shapeNone, shapeAny, shapeScalar, shapeList, shapeObject} {
			r, err := decodeBody(b, "M", "k3y", 200, sh)
			if err == nil && r.json != nil && !json.Valid(r.json) {
				t.Fatalf("invalid JSON %q from %q", r.json, b)
			}
			if el := bodyOfEnvelope(b); el != nil {
				_, _ = decodeElement(el, "M", "k3y", 500, sh)
			}
		}
	})
}

// decodeBody reads the content of a SOAP Body of a test.
func decodeBody(body []byte, method, key string, status int, sh shape) (result, error) {
	root, err := parseXML(body)
	if err != nil {
		return result{}, err
	}
	return decodeElement(root.first(), method, key, status, sh)
}
