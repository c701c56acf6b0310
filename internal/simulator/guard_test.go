package simulator

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A page of another site cannot drive the simulator: a POST without a JSON
// body, with another Origin or Sec-Fetch-Site, or under another Host name
// (DNS rebinding) is refused, and nothing happens; programs, which send
// none of these headers, pass.
func TestControlGuard(t *testing.T) {
	s := start(t)
	base := strings.TrimSuffix(s.control, "/")
	host := strings.TrimPrefix(base, "http://")
	send := func(method, path, ctype, body string, hdr map[string]string) int {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
				continue
			}
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	login := `{"agent": 1001}`
	for _, c := range []struct {
		name, ctype string
		hdr         map[string]string
		want        int
	}{
		{"a form post", "application/x-www-form-urlencoded", nil, http.StatusUnsupportedMediaType},
		{"text/plain", "text/plain", nil, http.StatusUnsupportedMediaType},
		{"no content type", "", nil, http.StatusUnsupportedMediaType},
		{"another origin", "application/json", map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"cross-site fetch", "application/json", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site fetch", "application/json", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"a rebound name", "application/json", map[string]string{"Host": "evil.example:" + strings.Split(host, ":")[1]}, http.StatusForbidden},
	} {
		if got := send("POST", "/agents/login", c.ctype, login, c.hdr); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	if got := send("GET", "/requests", "", "", map[string]string{"Host": "evil.example"}); got != http.StatusForbidden {
		t.Errorf("GET under another host name: %d, want 403", got)
	}
	if got := send("GET", "/console/stream", "", "", map[string]string{"Sec-Fetch-Site": "cross-site"}); got != http.StatusForbidden {
		t.Errorf("the stream from another site: %d, want 403", got)
	}
	if _, _, list := s.call(t, "/agents", nil); list[0].(map[string]any)["status"] != "LOGOFF" {
		t.Fatalf("a refused request logged agent 1001 in: %v", list[0])
	}
	// The page itself, and programs, pass.
	same := map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin"}
	if got := send("POST", "/agents/login", "application/json", login, same); got != http.StatusOK {
		t.Errorf("same-origin login: %d, want 200", got)
	}
	if got := send("POST", "/agents/pause", "application/json; charset=utf-8", `{"agent": "1001", "reason": 2}`, nil); got != http.StatusOK {
		t.Errorf("a program's pause: %d, want 200", got)
	}
	_, _, list := s.call(t, "/agents", nil)
	if a := list[0].(map[string]any); a["status"] != "PAUSE" || a["pause_reason"] != "Lunch" {
		t.Errorf("agent 1001: %v, want paused for Lunch", a)
	}
	if got := send("GET", "/", "", "", map[string]string{"Host": "localhost:" + strings.Split(host, ":")[1]}); got != http.StatusOK {
		t.Errorf("the console under localhost: %d", got)
	}
}

// The console page and its stream: the page names the platform; the
// stream's first message is a full snapshot with the seeded agents, and a
// call played then shows in a later one with its NEWCALL.
func TestConsoleStream(t *testing.T) {
	s := start(t)
	resp, err := http.Get(s.control)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(page, []byte("InstantVoice simulator")) || !bytes.Contains(page, []byte(s.stompAddr)) {
		t.Fatalf("GET /: %d %.200s", resp.StatusCode, page)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.control+"console/stream", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<24)
	next := func() string {
		t.Helper()
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				return d
			}
		}
		t.Fatalf("the stream ended: %v", sc.Err())
		return ""
	}
	first := next()
	if !strings.Contains(first, `"full":true`) || !strings.Contains(first, `"key":"default_1003"`) {
		t.Fatalf("first message: %.300s", first)
	}
	for _, path := range []string{"/agents/login", "/calls/inbound"} {
		if code, out, _ := s.call(t, path, map[string]any{"agent": "1001"}); code != 200 {
			t.Fatalf("%s: %d %v", path, code, out)
		}
	}
	sawCall := false
	for {
		m := next()
		sawCall = sawCall || strings.Contains(m, `"calls":{"upsert":[{`)
		if strings.Contains(m, `"type":"NEWCALL"`) {
			if !sawCall {
				t.Errorf("the NEWCALL came before its call: %.300s", m)
			}
			break
		}
	}
}

// The control interface's agent and reply calls: a call played ringing is
// answered; a delayed reply still comes; pause and unpause, log in and off.
func TestControlAgentsAndReplies(t *testing.T) {
	s := start(t, "-key", "simkey3")
	ok := func(path string, body map[string]any) map[string]any {
		t.Helper()
		code, out, _ := s.call(t, path, body)
		if code != 200 {
			t.Fatalf("%s %v: %d %v", path, body, code, out)
		}
		return out
	}
	ok("/agents/login", map[string]any{"agent": "1001"})
	if code, out, _ := s.call(t, "/agents/login", map[string]any{"agent": "1001"}); code != 422 || out["code_name"] != "RESPONSE_DUPLICATE" {
		t.Errorf("logging in twice: %d %v", code, out)
	}
	uid := ok("/calls/inbound", map[string]any{"agent": 1001, "outcome": "RING"})["uniqueid"]
	_, _, calls := s.call(t, "/calls", nil)
	if len(calls) != 1 || calls[0].(map[string]any)["answered"] != false {
		t.Fatalf("ringing call: %v", calls)
	}
	ok("/calls/answer", map[string]any{"uniqueid": uid})
	_, _, calls = s.call(t, "/calls", nil)
	if len(calls) != 1 || calls[0].(map[string]any)["answered"] != true {
		t.Fatalf("answered call: %v", calls)
	}
	ok("/calls/hangup", map[string]any{"uniqueid": uid, "reason": "BYCALLEE"})
	ok("/agents/pause", map[string]any{"agent": "1001", "reason": "3"})
	ok("/agents/unpause", map[string]any{"agent": "1001"})
	ok("/agents/logoff", map[string]any{"agent": "1001"})
	for _, bad := range []map[string]any{{"count": 1, "delay": "soon"}, {"count": 1, "delay": "0s"}, {"count": -1, "delay": "1s"}, {"count": 1}} {
		if code, _, _ := s.call(t, "/replies/delay", bad); code != 400 {
			t.Errorf("delay %v: %d, want 400", bad, code)
		}
	}
	ok("/replies/delay", map[string]any{"count": 1, "methods": []string{"AgentList"}, "delay": "50ms"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _ := s.stompClient(ctx, t, "/topic/unused")
	if list, err := c.AgentList(ctx, "default"); err != nil || len(list) != 3 {
		t.Fatalf("AgentList with its reply delayed: %v %v", list, err)
	}
	if err := c.AgentPause(ctx, "default", "1003", "1"); err == nil {
		t.Fatal("AgentPause of an agent logged off: no error")
	}
	_, _, reqs := s.call(t, "/requests?method=AgentPause", nil)
	if len(reqs) != 1 {
		t.Fatalf("requests: %v", reqs)
	}
	if r := reqs[0].(map[string]any); r["transport"] != "stomp" || r["code_name"] != "RESPONSE_NOT_ALLOWED" ||
		!strings.Contains(fmt.Sprint(r["description"]), "not logged in") {
		t.Errorf("the refused request: %v", r)
	}
	_, _, qs := s.call(t, "/queues", nil)
	if len(qs) != 2 || qs[0].(map[string]any)["name"] != "7000" {
		t.Errorf("queues: %v", qs)
	}
}

// -control beyond loopback needs -control-public, and then warns.
func TestControlPublic(t *testing.T) {
	var stderr bytes.Buffer
	if code := Main(context.Background(), "simulator", []string{"-control", "0.0.0.0:0", "-duration", "1ms"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "-control-public") {
		t.Errorf("beyond loopback: exit %d, %q; want 2 naming -control-public", code, stderr.String())
	}
	stderr.Reset()
	code := Main(context.Background(), "simulator", []string{"-stomp", "127.0.0.1:0", "-soap", "127.0.0.1:0",
		"-control", "0.0.0.0:0", "-control-public", "-duration", "10ms"}, io.Discard, &stderr)
	if code != 0 || !strings.Contains(stderr.String(), "WARNING") {
		t.Errorf("with -control-public: exit %d, %q; want 0 and a warning", code, stderr.String())
	}
}
