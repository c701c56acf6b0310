package simulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/instantvoice/instantvoice-go/internal/fakeplatform"
)

// The control interface takes agent, queue and number-like members as JSON
// strings or numbers, counts as numbers or strings of digits, and names the
// member and the type it wanted when it gets another.
func TestControlValueTypes(t *testing.T) {
	p, err := fakeplatform.Start(fakeplatform.WithAgent("default", "1001", "", "Ana"),
		fakeplatform.WithSeed("AgentLineAdd", map[string]any{"accountcode": "default", "user": "1001",
			"lines": []any{map[string]any{"linenumber": "1"}, map[string]any{"linenumber": "2"}}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	h := (&control{p: p, ac: "default"}).handler()
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(body)))
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: not a JSON object: %s", path, body, rec.Body)
		}
		return rec.Code, out
	}
	for _, c := range []struct{ path, body string }{
		{"/agents/login", `{"agent": 1001}`},
		{"/calls/inbound", `{"agent": 1001, "callerid": 2100000001, "accountcode": "default"}`},
		{"/calls/outbound", `{"agent": "default_1001", "exten": 6100}`},
		{"/replies/drop", `{"count": "0"}`},
		{"/replies/delay", `{"count": 0, "delay": "1s"}`},
	} {
		if code, out := post(c.path, c.body); code != http.StatusOK {
			t.Errorf("%s %s: %d %v", c.path, c.body, code, out)
		}
	}
	calls := p.Calls()
	if len(calls) != 2 || calls[0].CallerID != "2100000001" || calls[1].CallerID != "6100" {
		t.Fatalf("numbers given as JSON numbers did not reach the calls: %+v", calls)
	}
	for _, c := range []struct{ path, body, want string }{
		{"/agents/logoff", `{"agent": true}`, "agent: want a string or a number, got a bool"},
		{"/calls/inbound", `{"agent": {"n": 1001}}`, "agent: want a string or a number, got an object"},
		{"/calls/outbound", `{"agent": 1001, "exten": [6100]}`, "exten: want a string or a number, got an array"},
		{"/replies/drop", `{"count": "two"}`, "count: want an integer (a number or a string of digits), got a non-integer string two"},
		{"/replies/drop", `{"count": false}`, "count: want an integer (a number or a string of digits), got a bool"},
		{"/replies/drop", `{"methods": "NewCall"}`, "methods: want a list of strings, got a string"},
	} {
		code, out := post(c.path, c.body)
		if code != http.StatusBadRequest || out["error"] != c.want {
			t.Errorf("%s %s: %d %q, want 400 %q", c.path, c.body, code, out["error"], c.want)
		}
	}
}
