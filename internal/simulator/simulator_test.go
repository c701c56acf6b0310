package simulator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/soapx"
	"github.com/instantvoice/instantvoice-go/stompx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sim is a simulator running in-process, on free ports.
type sim struct {
	stompAddr, soapURL, key, control string
	out                              *bytes.Buffer
}

// start runs Main with args (and free ports, and a control port) until the
// test ends, and returns what it printed about where it listens.
func start(t *testing.T, args ...string) *sim {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		code := Main(ctx, "simulator", append([]string{"-stomp", "127.0.0.1:0", "-soap", "127.0.0.1:0", "-control", "127.0.0.1:0"}, args...), pw, &stderr)
		pw.Close()
		done <- code
	}()
	s := &sim{out: &bytes.Buffer{}}
	ready := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.out.WriteString(line + "\n")
			if rest, ok := strings.CutPrefix(line, "control: "); ok {
				s.control, _, _ = strings.Cut(rest, " ")
			}
			if rest, ok := strings.CutPrefix(line, "for the examples: export "); ok {
				for _, kv := range strings.Fields(rest) {
					k, v, _ := strings.Cut(kv, "=")
					switch k {
					case "IV_STOMP_ADDR":
						s.stompAddr = v
					case "IV_SOAP_URL":
						s.soapURL = v
					case "IV_KEY":
						s.key = v
					}
				}
			}
			if strings.HasPrefix(line, "running ") {
				close(ready)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case <-ready:
	case code := <-done:
		cancel()
		t.Fatalf("the simulator exited with %d: %s", code, stderr.String())
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("the simulator did not start")
	}
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("the simulator exited with %d: %s", code, stderr.String())
		}
		<-copied
	})
	return s
}

// call posts body (or gets, when body is nil) to the control interface.
// stompClient returns a client of the simulator over STOMP, with the
// simulator's key, and a subscription to topic on the same transport; both
// are closed at the end of the test.
func (s *sim) stompClient(ctx context.Context, t *testing.T, topic string) (*ivclient.Client, *events.Subscription) {
	t.Helper()
	tr, err := stompx.Dial(ctx, s.stompAddr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ivclient.New(tr, s.key)
	if err != nil {
		tr.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sub, err := tr.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	return c, sub
}

func (s *sim) call(t *testing.T, path string, body any) (int, map[string]any, []any) {
	t.Helper()
	var resp *http.Response
	var err error
	if body == nil {
		resp, err = http.Get(strings.TrimSuffix(s.control, "/") + path)
	} else {
		b, _ := json.Marshal(body)
		resp, err = http.Post(strings.TrimSuffix(s.control, "/")+path, "application/json", bytes.NewReader(b))
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var obj map[string]any
	var list []any
	if json.Unmarshal(raw, &obj) != nil && json.Unmarshal(raw, &list) != nil {
		t.Fatalf("%s: not JSON: %s", path, raw)
	}
	return resp.StatusCode, obj, list
}

// The control interface plays calls, hangs them up, transfers them,
// publishes raw events, withholds replies, resets and lists requests; a
// client over the SDK sees all of it.
func TestControl(t *testing.T) {
	s := start(t, "-key", "simkey1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, sub := s.stompClient(ctx, t, events.AllAgents)
	next := func(want events.Type) events.Event {
		t.Helper()
		select {
		case ev := <-sub.C():
			if ev.Type != want {
				t.Fatalf("event %s %+v, want %s", ev.Type, ev, want)
			}
			return ev
		case <-ctx.Done():
			t.Fatalf("no %s event", want)
		}
		return events.Event{}
	}

	for _, u := range []string{"1001", "1002", "1003"} {
		if err := c.AgentLogin(ctx, "default", u, "SIP/default_"+u); err != nil {
			t.Fatal(err)
		}
		next(events.Login)
	}
	status, in, _ := s.call(t, "/calls/inbound", map[string]any{"agent": "1001", "queue": "7000", "callerid": "2198765456"})
	if status != 200 || in["uniqueid"] == "" {
		t.Fatalf("inbound: %d %v", status, in)
	}
	if ev := next(events.NewCall); ev.CallerID != "2198765456" || ev.Direction != "INBOUND" || ev.UniqueID != in["uniqueid"] {
		t.Errorf("NEWCALL %+v", ev)
	}
	next(events.Connect)
	if status, _, list := s.call(t, "/calls", nil); status != 200 || len(list) != 1 {
		t.Errorf("calls: %d %v", status, list)
	}
	if status, _, _ := s.call(t, "/calls/hangup", map[string]any{"uniqueid": in["uniqueid"], "reason": "QUEUEMISSED"}); status != 200 {
		t.Fatalf("hangup: %d", status)
	}
	if ev := next(events.Hangup); ev.Reason != events.ReasonQueueMissed {
		t.Errorf("HANGUP %+v", ev)
	}

	status, out, _ := s.call(t, "/calls/outbound", map[string]any{"agent": "1002", "exten": "6100", "outcome": "BUSY"})
	if status != 200 || out["uniqueid"] == "" || out["in_progress"] != false {
		t.Fatalf("outbound: %d %v", status, out)
	}
	for _, want := range []events.Type{events.NewCall, events.Connect, events.DNewCall, events.Hangup} {
		next(want)
	}

	status, ag, _ := s.call(t, "/calls/agent", map[string]any{"from": "1001", "to": "1002"})
	if status != 200 || ag["from_uniqueid"] == "" || ag["to_uniqueid"] == "" {
		t.Fatalf("agent call: %d %v", status, ag)
	}
	for _, want := range []events.Type{events.NewCall, events.NewCall, events.Connect, events.Connect} {
		next(want)
	}
	status, moved, _ := s.call(t, "/calls/transfer", map[string]any{"agent": "1002", "exten": "1003"})
	if ids, _ := moved["uniqueids"].([]any); status != 200 || len(ids) != 1 {
		t.Fatalf("transfer: %d %v", status, moved)
	}
	if ev := next(events.Hangup); ev.Reason != events.ReasonBTransfer || ev.Agent != "default_1002" {
		t.Errorf("transfer HANGUP %+v", ev)
	}
	next(events.NewCall)
	next(events.Connect)

	// Refusals: the platform's code, HTTP 422; unreadable requests, 400.
	status, e, _ := s.call(t, "/calls/inbound", map[string]any{"agent": "4242"})
	if status != 422 || e["code"] != float64(codes.NotFound) || e["code_name"] != "RESPONSE_NOT_FOUND" {
		t.Errorf("missing agent: %d %v", status, e)
	}
	for path, body := range map[string]any{
		"/calls/inbound":    map[string]any{"agent": "1001", "outcome": "MAYBE"},
		"/calls/hangup":     map[string]any{"uniqueid": "1.1.1"},
		"/calls/outbound":   map[string]any{"agnet": "1001"},
		"/events":           map[string]any{"agent": "default_1001"},
		"/replies/drop":     map[string]any{"count": -1},
		"/newcall-outcome":  map[string]any{"outcome": "LATER"},
		"/calls/transfer":   map[string]any{"agent": "1001"},
		"/calls/agent":      map[string]any{"from": "1001"},
		"/calls/inbound?x=": "not an object",
	} {
		if status, e, _ := s.call(t, path, body); status != 400 || e["error"] == "" {
			t.Errorf("%s %v: %d %v", path, body, status, e)
		}
	}
	if resp, err := http.Get(strings.TrimSuffix(s.control, "/") + "/reset"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /reset: %v %v", resp.Status, err)
	} else {
		resp.Body.Close()
	}

	// A raw event reaches the agent's topic and the all-agents one as it is.
	if status, _, _ := s.call(t, "/events", map[string]any{"agent": "default_1001", "body": `{"type":"PAUSE","agent":"default_1001","direction":"Raw"}`}); status != 200 {
		t.Fatalf("events: %d", status)
	}
	if ev := next(events.Pause); ev.Direction != "Raw" {
		t.Errorf("raw event %+v", ev)
	}

	// Withheld replies: the call ends in the caller's deadline; the
	// platform acted on it.
	if status, _, _ := s.call(t, "/replies/drop", map[string]any{"count": 1, "methods": []string{"AgentPause"}}); status != 200 {
		t.Fatal(status)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	err := c.AgentPause(short, "default", "1003", "1")
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("withheld AgentPause: %v", err)
	}
	next(events.Pause)

	// The NewCall outcome.
	if status, _, _ := s.call(t, "/newcall-outcome", map[string]any{"outcome": "NOANSWER"}); status != 200 {
		t.Fatal(status)
	}
	// 1001's one line still holds the call transferred to 1003: busy. The
	// platform accepts the NewCall and finds the agent's phone busy.
	if err := c.NewCall(ctx, "default", "1001", "6100", "77"); err != nil {
		t.Fatalf("NewCall for an agent on a call: %v, want nil (the call ends BUSY)", err)
	}
	busyNC := next(events.NewCall)
	if ev := next(events.Hangup); ev.Reason != events.ReasonBusy || ev.UniqueID != busyNC.UniqueID || ev.Agent != "default_1001" {
		t.Errorf("NewCall for a busy agent: %+v, want HANGUP (BUSY) of default_1001's %s", ev, busyNC.UniqueID)
	}
	status, busyOut, _ := s.call(t, "/calls/outbound", map[string]any{"agent": "1001", "exten": "6100"})
	if status != 200 || busyOut["uniqueid"] == "" || busyOut["in_progress"] != false {
		t.Fatalf("outbound for a busy agent: %d %v, want 200, not in progress", status, busyOut)
	}
	if ev := next(events.NewCall); ev.UniqueID != busyOut["uniqueid"] {
		t.Errorf("outbound for a busy agent: %+v", ev)
	}
	if ev := next(events.Hangup); ev.Reason != events.ReasonBusy || ev.UniqueID != busyOut["uniqueid"] {
		t.Errorf("outbound for a busy agent: %+v, want HANGUP (BUSY)", ev)
	}
	if err := c.NewCall(ctx, "default", "1002", "6100", "77"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []events.Type{events.NewCall, events.Connect, events.DNewCall} {
		next(want)
	}
	if ev := next(events.Hangup); ev.Reason != events.ReasonNoAnswer {
		t.Errorf("NewCall with NOANSWER: %+v", ev)
	}

	// The requests, without the key.
	status, _, reqs := s.call(t, "/requests?method=AgentLogin", nil)
	if status != 200 || len(reqs) != 3 {
		t.Fatalf("requests: %d %v", status, reqs)
	}
	r0, _ := reqs[0].(map[string]any)
	if r0["transport"] != "stomp" || r0["code"] != float64(0) || r0["id"] == "" {
		t.Errorf("request %v", r0)
	}
	if _, _, all := s.call(t, "/requests", nil); strings.Contains(mustJSON(all), s.key) {
		t.Error("the request list holds the key")
	}

	// Reset: calls end with MSSTART, agents are logged off, the log is empty.
	if status, _, _ := s.call(t, "/reset", map[string]any{}); status != 200 {
		t.Fatal(status)
	}
	if ev := next(events.Hangup); ev.Reason != events.ReasonMSStart {
		t.Errorf("reset HANGUP %+v", ev)
	}
	if _, _, reqs := s.call(t, "/requests", nil); len(reqs) != 0 {
		t.Errorf("requests after reset: %v", reqs)
	}
	info, err := c.AgentInfo(ctx, "default", "1001")
	if err != nil || info.AgentStatus != "LOGOFF" {
		t.Errorf("after reset: %+v %v", info, err)
	}
	if _, _, calls := s.call(t, "/calls", nil); len(calls) != 0 {
		t.Errorf("calls after reset: %v", calls)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// A seed file configures keys, accountcodes, pause reasons, permission
// groups, queues, SIP users, agents (with lines, queues, a group and a
// login) and requests; TestSeedFileOutcomeAndLicences the rest.
func TestSeedFile(t *testing.T) {
	s := start(t, "-seed-file", filepath.Join("..", "..", "examples", "simulator", "seed.json"))
	if s.key != "partnerkey1" {
		t.Errorf("printed key %q, want the seed's partnerkey1", s.key)
	}
	if !strings.Contains(s.out.String(), "seeded from ") || !strings.Contains(s.out.String(), "agents 1001 1002 acme_2001") {
		t.Errorf("output:\n%s", s.out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := soapx.New(s.soapURL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ivclient.New(tr, s.key)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.AgentInfo(ctx, "default", "1001")
	if err != nil || info.AgentStatus != "LOGIN" || info.Interface != "SIP/default_1010" || info.Pass != "1234" {
		t.Errorf("agent 1001: %+v %v", info, err)
	}
	if loc, err := c.AgentInfoPermission(ctx, "default", "1001"); err != nil || loc != "123" {
		t.Errorf("agent 1001's group: %q %v", loc, err)
	}
	if info, err := c.AgentInfo(ctx, "default", "1002"); err != nil || info.AgentStatus != "LOGIN" {
		t.Errorf("agent 1002 (logged in by a request): %+v %v", info, err)
	}
	if _, err := c.AgentInfo(ctx, "acme", "2001"); err != nil {
		t.Errorf("acme's agent: %v", err)
	}
	q, err := c.QueueInfo(ctx, "default", "7001")
	if err != nil || q.DialTimeout != 20 || q.Description != "Sales" {
		t.Errorf("queue 7001: %+v %v", q, err)
	}
	if loc, err := c.SipUserInfoPermission(ctx, "default", "1011"); err != nil || loc != "123" {
		t.Errorf("SIP user 1011's group: %q %v", loc, err)
	}
	if err := c.AgentPause(ctx, "default", "1001", "4"); err != nil {
		t.Errorf("the seed's pause reason 4: %v", err)
	}
	limited, err := ivclient.New(tr, "crmreadonly", ivclient.KeepTransportOpen())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := limited.QueueList(ctx, "default"); err != nil {
		t.Errorf("a limited key's method: %v", err)
	}
	if err := limited.AgentLogoff(ctx, "default", "1001"); !errors.Is(err, codes.ErrPermissionDenied) {
		t.Errorf("a limited key's other method: %v", err)
	}
}

// A seed file's NewCall outcome and licence count hold.
func TestSeedFileOutcomeAndLicences(t *testing.T) {
	seed := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(seed, []byte(`{"keys": [{"key": "seedkey01"}], "newcall_outcome": "BUSY", "licensed_agents": 1,
		"agents": [{"user": "1001"}, {"user": "1002"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, "-seed-file", seed)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, sub := s.stompClient(ctx, t, events.AgentTopic("default", "1001"))
	if err := c.AgentLogin(ctx, "default", "1001", "SIP/default_1001"); err != nil {
		t.Fatal(err)
	}
	if err := c.AgentLogin(ctx, "default", "1002", "SIP/default_1002"); !errors.Is(err, codes.ErrNoLicense) {
		t.Errorf("a second agent with one licence: %v, want ErrNoLicense", err)
	}
	if err := c.NewCall(ctx, "default", "1001", "6100", ""); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev := <-sub.C():
			if ev.Type != events.Hangup {
				continue
			}
			if ev.Reason != "BUSY" {
				t.Errorf("NewCall ended %s, want the seed's BUSY", ev.Reason)
			}
			return
		case <-ctx.Done():
			t.Fatal("no HANGUP for the NewCall")
		}
	}
}

func TestSeedErrors(t *testing.T) {
	for _, body := range []string{
		`{"agent": []}`,                          // a typo
		`{"agents": [{"name": "no user"}]}`,      // no user
		`{"requests": [{"args": {}}]}`,           // no method
		`[]`,                                     // not an object
		`{"queues": [{"name": "7000"}]} {"x":1}`, // trailing data
	} {
		seed, err := decodeSeed(strings.NewReader(body))
		if err == nil {
			_, err = seed.options("default")
		}
		if err == nil {
			t.Errorf("%s: no error", body)
		}
	}
	// A file past the limit says so, rather than "unexpected EOF".
	big := `{"queues": [` + strings.Repeat(`{"name": "7000"},`, maxSeed/17) + `{"name": "7001"}]}`
	if _, err := decodeSeed(strings.NewReader(big)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a seed of %d bytes: %v, want an error naming the limit", len(big), err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"requests": [{"method": "QueueAdd", "args": {"accountcode": "nosuch", "name": "1"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	code := Main(context.Background(), "simulator", []string{"-stomp", "127.0.0.1:0", "-soap", "127.0.0.1:0", "-seed-file", bad}, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "RESPONSE_NOT_FOUND") {
		t.Errorf("a seed that fails: exit %d, %s", code, stderr.String())
	}
	for _, args := range [][]string{{"-seed=false", "-traffic", "1s"}, {"-seed-file", bad, "-traffic", "1s"}} {
		stderr.Reset()
		if code := Main(context.Background(), "simulator", args, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "-traffic") {
			t.Errorf("%q: exit %d, %s; want 2, naming -traffic", args, code, stderr.String())
		}
	}
	stderr.Reset()
	if code := Main(context.Background(), "simulator", []string{"-newcall-outcome", "LATER"}, io.Discard, &stderr); code != 2 {
		t.Errorf("-newcall-outcome LATER: exit %d, %s", code, stderr.String())
	}
	// The flags that become the platform's options are checked by their
	// own names, before the platform starts.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-stomp", "61613"}, "simulator: -stomp: address 61613: missing port in address\n"},
		{[]string{"-soap", "localhost"}, "simulator: -soap: address localhost: missing port in address\n"},
		{[]string{"-passcode", "sec\nret"}, "simulator: -login and -passcode must not contain line breaks or NUL\n"},
		{[]string{"-accountcode", ""}, "simulator: -accountcode is empty\n"},
		{[]string{"-licensed-agents", "-1"}, "simulator: -licensed-agents must be at least 0, got -1\n"},
	} {
		stderr.Reset()
		if code := Main(context.Background(), "simulator", c.args, io.Discard, &stderr); code != 2 || stderr.String() != c.want {
			t.Errorf("%q: exit %d, %q; want 2, %q", c.args, code, stderr.String(), c.want)
		}
	}
}

// The partner's Python test (examples/simulator/partner_test.py), as a
// partner runs it: stdlib, zeep and stomp.py against the simulator, no Go.
// It fails, rather than skips, when Python's zeep or stomp is missing and
// IV_REQUIRE_ZEEP=1 (as CI sets it).
func TestPartnerScript(t *testing.T) {
	python := partnerPython()
	if python == "" {
		if os.Getenv("IV_REQUIRE_ZEEP") == "1" || os.Getenv("CI") == "true" {
			t.Fatal("python3 with zeep and stomp is required (apt-get install python3-zeep python3-stomp) but not found")
		}
		t.Skip("python3 with zeep and stomp is not installed; set IV_REQUIRE_ZEEP=1 to require it")
	}
	s := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, filepath.Join("..", "..", "examples", "simulator", "partner_test.py"))
	cmd.Env = append(os.Environ(), "IV_SIM_CONTROL="+s.control, "IV_STOMP_ADDR="+s.stompAddr,
		"IV_SOAP_URL="+s.soapURL, "IV_KEY="+s.key)
	out, err := cmd.CombinedOutput()
	t.Logf("partner_test.py:\n%s", out)
	if err != nil {
		t.Fatalf("partner_test.py: %v", err)
	}
	if !strings.Contains(string(out), "partner test passed") {
		t.Fatal("partner_test.py did not report success")
	}
}

// partnerPython returns a python3 that can import zeep and stomp:
// $IV_ZEEP_PYTHON when set (and only it), else /usr/bin/python3 (where
// Debian's packages install), else python3 on PATH.
func partnerPython() string {
	ok := func(py string) bool { return exec.Command(py, "-c", "import zeep, stomp").Run() == nil }
	if p := os.Getenv("IV_ZEEP_PYTHON"); p != "" {
		if ok(p) {
			return p
		}
		return ""
	}
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, py := range cands {
		if ok(py) {
			return py
		}
	}
	return ""
}
