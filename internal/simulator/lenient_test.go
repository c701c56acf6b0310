package simulator

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"

	"github.com/instantvoice/instantvoice-go/stompx"
)

// A request the platform's reference does not describe (NewCall over STOMP
// with the SOAP name User, where the STOMP example has Agent) is served,
// and shows as lenient: marked on the request in the console's stream and
// in GET /requests, counted in the stream's stats and in GET /lenient.
func TestConsoleLenient(t *testing.T) {
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.control+"console/stream", nil)
	resp, err := http.DefaultClient.Do(req)
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
	if first := next(); !strings.Contains(first, `"lenient":0`) {
		t.Fatalf("first message: no lenient count of 0: %.400s", first)
	}
	if code, out, _ := s.call(t, "/agents/login", map[string]any{"agent": 1001}); code != 200 {
		t.Fatalf("login: %d %v", code, out)
	}

	conn, err := stomp.Dial("tcp", s.stompAddr, stomp.ConnOpt.Login(stompx.DefaultLogin, stompx.DefaultPasscode))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Disconnect()
	body := `["NewCall", "` + s.key + `", {"Accountcode": "default", "User": "default_1001", "Exten": "6100"}, "n1"]`
	if err := conn.Send(stompx.DefaultRequestQueue, "application/json", []byte(body), stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	const kind = `"lenient":["NewCall over STOMP: user for Agent"]`
	for {
		m := next()
		if !strings.Contains(m, `"method":"NewCall"`) {
			continue
		}
		if !strings.Contains(m, kind) || !strings.Contains(m, `"code":0`) || !strings.Contains(m, `"lenient":1`) {
			t.Fatalf("the lenient NewCall in the stream: %.600s", m)
		}
		if strings.Contains(m, s.key) {
			t.Fatal("the stream holds the key")
		}
		break
	}
	_, _, reqs := s.call(t, "/requests?method=NewCall", nil)
	if len(reqs) != 1 || mustJSON(reqs[0].(map[string]any)["lenient"]) != `["NewCall over STOMP: user for Agent"]` {
		t.Errorf("GET /requests: %v", reqs)
	}
	_, _, kinds := s.call(t, "/lenient", nil)
	if mustJSON(kinds) != `[{"count":1,"kind":"NewCall over STOMP: user for Agent"}]` {
		t.Errorf("GET /lenient: %s", mustJSON(kinds))
	}
}
