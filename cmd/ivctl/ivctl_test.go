package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode"

	"go.uber.org/goleak"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/catalog"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
)

// binary is ivctl, built once by TestMain: the tests run it as partners do.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ivctl-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ivctl")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building ivctl: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of ivctl.
type result struct {
	stdout, stderr string
	code           int
}

// command returns ivctl with args, in an environment without the IV_
// variables of the test's own, plus env.
func command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IV_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

func ivctl(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := command(env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ivctl %q: %v", args, err)
	}
	return r
}

// want checks the exit status, and that stderr names no secret.
func (r result) want(t *testing.T, code int, secrets ...string) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range secrets {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Fatalf("the secret %q appears in the output:\nstdout: %s\nstderr: %s", s, r.stdout, r.stderr)
		}
	}
	return r
}

const testKey = "Cl1Key0nly4Tests"

type endpoint struct {
	name string
	flag func(p *ivtest.Platform) []string
}

var endpoints = []endpoint{
	{"stomp", func(p *ivtest.Platform) []string { return []string{"-stomp", p.STOMPAddr()} }},
	{"soap", func(p *ivtest.Platform) []string { return []string{"-soap", p.SOAPURL()} }},
}

func newPlatform(t *testing.T, opts ...ivtest.Option) *ivtest.Platform {
	opts = append([]ivtest.Option{
		ivtest.WithKey(testKey),
		ivtest.WithQueue("default", "7000"),
		ivtest.WithQueue("default", "7001"),
		ivtest.WithAgent("default", "1001", "", "Alice"),
	}, opts...)
	return ivtest.NewPlatform(t, opts...)
}

func TestCall(t *testing.T) {
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			p := newPlatform(t)
			flags := append(ep.flag(p), "-key", testKey)
			call := func(args ...string) result {
				return ivctl(t, nil, append(append(append([]string{}, flags...), "call"), args...)...)
			}

			// A method with a result: one JSON value with the platform's (STOMP) names.
			r := call("AgentInfo", "accountcode=default", "user=1001").want(t, 0, testKey)
			var info map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
				t.Fatalf("AgentInfo printed %q: %v", r.stdout, err)
			}
			reply, err := p.Do("AgentInfo", map[string]any{"accountcode": "default", "user": "1001"})
			if err != nil {
				t.Fatal(err)
			}
			for name := range reply.(map[string]any) {
				if _, ok := info[name]; !ok {
					t.Errorf("AgentInfo's %q missing from %s", name, r.stdout)
				}
			}
			if info["name"] != "Alice" || info["agentstatus"] != "LOGOFF" {
				t.Errorf("AgentInfo printed %s", r.stdout)
			}

			// A method without a result prints nothing; argument names in any case;
			// the bare agent number prefixed as the client does.
			r = call("agentlogin", "ACCOUNTCODE=default", "user=1001", "Interface=SIP/default_0001").want(t, 0)
			if r.stdout != "" {
				t.Errorf("AgentLogin printed %q", r.stdout)
			}
			reqs := p.Requests()
			if last := reqs[len(reqs)-1]; last.Method != "AgentLogin" || fmt.Sprint(last.Args["User"]) != "default_1001" {
				t.Errorf("the platform received %s %v", last.Method, last.Args)
			}

			// A list argument, as JSON.
			call("AgentQueueAdd", "accountcode=default", "user=1001", `queues=[{"name":"7001","priority":"2"}]`).want(t, 0)
			r = call("AgentQueueList", "accountcode=default", "user=1001").want(t, 0)
			var queues []map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &queues); err != nil {
				t.Fatalf("AgentQueueList printed %q: %v", r.stdout, err)
			}
			if len(queues) != 1 || fmt.Sprint(queues[0]["name"]) != "7001" || fmt.Sprint(queues[0]["priority"]) != "2" {
				t.Errorf("AgentQueueList printed %s", r.stdout)
			}
			r = call("AgentList", "accountcode=default").want(t, 0)
			if strings.Join(strings.Fields(r.stdout), "") != `["1001"]` {
				t.Errorf("AgentList printed %q", r.stdout)
			}
			// Any other argument is text as written, brackets and braces included.
			call("QueueAdd", "accountcode=default", "name=7005", "description=[night] {overflow}").want(t, 0)
			r = call("QueueInfo", "accountcode=default", "name=7005").want(t, 0)
			if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || info["description"] != "[night] {overflow}" {
				t.Errorf("QueueInfo printed %s (%v)", r.stdout, err)
			}

			// A platform code: exit status 1, the code's name and number and the platform's text.
			r = call("AgentInfo", "accountcode=default", "user=4242").want(t, 1, testKey)
			if !strings.HasPrefix(r.stderr, "RESPONSE_NOT_FOUND (3): ") || r.stdout != "" {
				t.Errorf("stderr %q, stdout %q", r.stderr, r.stdout)
			}
			r = ivctl(t, nil, append(ep.flag(p), "-key", "NotAKnownKey9", "call", "AgentList", "accountcode=default")...).want(t, 1, "NotAKnownKey9")
			if !strings.HasPrefix(r.stderr, "PERMISSION_DENIED (-2): ") {
				t.Errorf("stderr %q", r.stderr)
			}

			// -o table.
			r = ivctl(t, nil, append(flags, "-o", "table", "call", "AgentQueueList", "accountcode=default", "user=1001")...).want(t, 0)
			if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "name") || !strings.HasPrefix(lines[1], "7001") {
				t.Errorf("table:\n%s", r.stdout)
			}
			r = ivctl(t, nil, append(flags, "-o", "table", "call", "AgentInfo", "accountcode=default", "user=1001")...).want(t, 0)
			fields := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				k, v, _ := strings.Cut(l, " ")
				fields[k] = strings.TrimSpace(v)
			}
			if fields["name"] != "Alice" || fields["agentstatus"] != "LOGIN" {
				t.Errorf("table:\n%s", r.stdout)
			}
		})
	}
}

// TestUsageErrorsSendNothing runs every kind of usage error: each exits 2,
// says why on stderr, and the platform receives no request.
func TestUsageErrorsSendNothing(t *testing.T) {
	p := newPlatform(t)
	stomp, soap := []string{"-stomp", p.STOMPAddr()}, []string{"-soap", p.SOAPURL()}
	key := []string{"-key", testKey}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		says string
	}{
		{"no command", nil, cat(stomp, key), "no command"},
		{"unknown command", nil, cat(stomp, key, []string{"dance"}), "unknown command"},
		{"unknown method", nil, cat(stomp, key, []string{"call", "AgentDance"}), "unknown method"},
		{"unknown argument", nil, cat(stomp, key, []string{"call", "AgentInfo", "accountcode=default", "user=1001", "colour=blue"}), `no argument "colour"`},
		{"missing mandatory argument", nil, cat(stomp, key, []string{"call", "AgentInfo", "accountcode=default"}), "argument user is required"},
		{"missing mandatory argument over SOAP", nil, cat(soap, key, []string{"call", "AgentInfo", "user=1001"}), "argument accountcode is required"},
		{"not a number", nil, cat(stomp, key, []string{"call", "AgentAdd", "accountcode=default", "user=abc"}), "must be a number"},
		{"not an integer", nil, cat(stomp, key, []string{"call", "AgentLineDelete", "accountcode=default", "user=1001", "linenumber=one"}), "must be an integer"},
		{"bad JSON", nil, cat(stomp, key, []string{"call", "AgentQueueAdd", "accountcode=default", "user=1001", "queues=[{"}), "is a list, given as JSON"},
		{"repeated argument", nil, cat(stomp, key, []string{"call", "AgentInfo", "accountcode=default", "user=4242", "user=1001"}), "user given twice (user= and user=)"},
		{"repeated argument, other case", nil, cat(stomp, key, []string{"call", "AgentInfo", "accountcode=default", "user=4242", "USER=1001"}), "user given twice (user= and USER=)"},
		{"not name=value", nil, cat(stomp, key, []string{"call", "AgentInfo", "default"}), "name=value"},
		{"flag after the command", nil, cat(stomp, key, []string{"call", "AgentInfo", "accountcode=default", "-o", "table"}), "flags go before the command: ivctl -o table call AgentInfo"},
		{"no key", nil, cat(stomp, []string{"call", "AgentList", "accountcode=default"}), "no access key"},
		{"bad key", nil, cat(stomp, []string{"-key", "not-a-key!", "call", "AgentList", "accountcode=default"}), "invalid access key"},
		{"both endpoints", nil, cat(stomp, soap, key, []string{"call", "AgentList", "accountcode=default"}), "choose one"},
		{"no endpoint", nil, cat(key, []string{"call", "AgentList", "accountcode=default"}), "no platform"},
		{"events over SOAP", nil, cat(soap, []string{"events"}), "events needs -stomp"},
		{"bad flag", nil, []string{"-stomp"}, "flag needs an argument"},
		{"bad output", nil, cat(stomp, key, []string{"-o", "xml", "methods"}), "-o"},
		{"help without a method", nil, []string{"help"}, "help takes one method"},
		{"every missing argument named", nil, cat(stomp, key, []string{"call", "AgentLogin", "Accountcode=default"}), "arguments User, Interface are required"},
		{"one object for a list", nil, cat(stomp, key, []string{"call", "AgentQueueAdd", "accountcode=default", "user=1001", `queues={"name":"7000"}`}), "must be a list of objects"},
		{"a queue that is not a number", nil, cat(stomp, key, []string{"call", "AgentQueueAdd", "accountcode=default", "user=1001", `queues=[{"name":"night"}]`}), "queues[0].name must be a number"},
		{"a pause reason that is not a number", nil, cat(stomp, key, []string{"call", "AgentPause", "Accountcode=default", "User=1001", "Reason=lunch"}), "Reason must be a number"},
		{"an agent that is not a number", nil, cat(soap, key, []string{"call", "AgentInfo", "accountcode=default", "user=alice"}), "user must be a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(p.Requests())
			r := ivctl(t, tc.env, tc.args...).want(t, 2, testKey)
			if !strings.Contains(r.stderr, tc.says) {
				t.Errorf("stderr %q does not say %q", r.stderr, tc.says)
			}
			if r.stdout != "" && tc.name != "no command" {
				t.Errorf("stdout %q", r.stdout)
			}
			if n := len(p.Requests()); n != before {
				t.Errorf("the platform received %d requests", n-before)
			}
		})
	}
	if st := p.Stats(); st.Requests != 0 {
		t.Errorf("the platform counted %d requests", st.Requests)
	}
}

func TestEnvironment(t *testing.T) {
	const login, passcode = "ops", "Pa55codeSecret"
	p := newPlatform(t, ivtest.WithSTOMPLogin(login, passcode))
	list := []string{"call", "AgentList", "accountcode=default"}

	ivctl(t, []string{"IV_STOMP_ADDR=" + p.STOMPAddr(), "IV_KEY=" + testKey, "IV_STOMP_LOGIN=" + login, "IV_STOMP_PASSCODE=" + passcode}, list...).want(t, 0)
	ivctl(t, []string{"IV_SOAP_URL=" + p.SOAPURL(), "IV_KEY=" + testKey}, list...).want(t, 0)
	// Both variables set, as the simulator prints them: STOMP.
	ivctl(t, []string{"IV_STOMP_ADDR=" + p.STOMPAddr(), "IV_SOAP_URL=http://127.0.0.1:1/", "IV_KEY=" + testKey, "IV_STOMP_LOGIN=" + login, "IV_STOMP_PASSCODE=" + passcode}, list...).want(t, 0)
	// A flag overrides the variables: -soap wins over IV_STOMP_ADDR, -key over IV_KEY.
	ivctl(t, []string{"IV_STOMP_ADDR=127.0.0.1:1", "IV_KEY=Wrong0Key"}, append([]string{"-soap", p.SOAPURL(), "-key", testKey}, list...)...).want(t, 0)
	ivctl(t, []string{"IV_STOMP_ADDR=" + p.STOMPAddr(), "IV_KEY=" + testKey, "IV_STOMP_LOGIN=" + login}, append([]string{"-passcode", passcode}, list...)...).want(t, 0)

	// A refused login fails with status 1 and names neither the passcode nor the key.
	r := ivctl(t, []string{"IV_STOMP_ADDR=" + p.STOMPAddr(), "IV_KEY=" + testKey, "IV_STOMP_LOGIN=" + login, "IV_STOMP_PASSCODE=Wr0ngPasscodeX"}, list...).want(t, 1, testKey, "Wr0ngPasscodeX", passcode)
	if r.stderr == "" {
		t.Error("a refused login printed nothing on stderr")
	}
	// No broker there: status 1.
	r = ivctl(t, []string{"IV_STOMP_ADDR=127.0.0.1:1", "IV_KEY=" + testKey}, list...).want(t, 1, testKey)
	if !strings.HasPrefix(r.stderr, "ivctl: ") {
		t.Errorf("stderr %q", r.stderr)
	}
	// A cluster's nodes, comma-separated: a dead first node is passed over
	// (TestEvents does the same for events); a list of none is a usage error.
	nodes := "127.0.0.1:1, " + p.STOMPAddr()
	ivctl(t, []string{"IV_STOMP_ADDR=" + nodes, "IV_KEY=" + testKey, "IV_STOMP_LOGIN=" + login, "IV_STOMP_PASSCODE=" + passcode}, list...).want(t, 0)
	r = ivctl(t, []string{"IV_KEY=" + testKey, "IV_STOMP_LOGIN=" + login, "IV_STOMP_PASSCODE=" + passcode}, "-stomp", " , ", "call", "AgentList", "accountcode=default").want(t, 2)
	if r.stderr != "ivctl: -stomp (IV_STOMP_ADDR) lists no address: \" , \"\n" {
		t.Errorf("stderr %q", r.stderr)
	}
	// A URL that soapx refuses is a usage error too: nothing could be sent.
	r = ivctl(t, []string{"IV_KEY=" + testKey}, "-soap", "ftp://acd:7789/", "call", "AgentList", "accountcode=default").want(t, 2)
	if r.stderr != "ivctl: -soap (IV_SOAP_URL): must be an http:// or https:// URL\n" {
		t.Errorf("stderr %q", r.stderr)
	}
	// No login given: the platform's default, which this platform refuses.
	ivctl(t, []string{"IV_STOMP_ADDR=" + p.STOMPAddr(), "IV_KEY=" + testKey}, list...).want(t, 1, testKey)
}

func TestMethodsAndHelp(t *testing.T) {
	r := ivctl(t, nil, "methods").want(t, 0)
	for _, m := range catalog.Methods() {
		if !strings.Contains(r.stdout, "\n"+m.Name+" ") && !strings.HasPrefix(r.stdout, m.Name+" ") {
			t.Errorf("methods does not list %s", m.Name)
		}
	}
	if !strings.Contains(r.stdout, "NewCall ") || !strings.Contains(r.stdout, "Accountcode Agent Exten [External_id]") {
		t.Errorf("methods:\n%s", r.stdout)
	}
	r = ivctl(t, nil, "-o", "json", "methods").want(t, 0)
	var ms []catalog.MethodInfo
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil || len(ms) != 41 {
		t.Errorf("methods -o json: %d methods, %v", len(ms), err)
	}

	for _, args := range [][]string{{"help", "AgentLineAdd"}, {"call", "agentlineadd", "-h"}} {
		r := ivctl(t, nil, args...).want(t, 0)
		for _, s := range []string{"AgentLineAdd: Adds lines", "accountcode*", "lines*", "linenumber*", "inbound ", "JSON list"} {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("%q does not say %q:\n%s", args, s, r.stdout)
			}
		}
	}
	r = ivctl(t, nil, "help", "NewCall").want(t, 0)
	if !strings.Contains(r.stdout, "Agent*") || !strings.Contains(r.stdout, "(IVWS: User)") || !strings.Contains(r.stdout, "External_id ") {
		t.Errorf("help NewCall:\n%s", r.stdout)
	}
	ivctl(t, nil, "help", "NoSuchMethod").want(t, 2)
	ivctl(t, nil, "-h").want(t, 0)
}

// lines reads an ivctl's output line by line.
type lines struct {
	c chan string
}

func readLines(r io.Reader) *lines {
	l := &lines{c: make(chan string, 100)}
	go func() {
		defer close(l.c)
		s := bufio.NewScanner(r)
		for s.Scan() {
			l.c <- s.Text()
		}
	}()
	return l
}

// next returns the next line that contains substr, failing after 10s.
func (l *lines) next(t *testing.T, what, substr string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case s, ok := <-l.c:
			if !ok {
				t.Fatalf("%s: ended before a line with %q", what, substr)
			}
			if strings.Contains(s, substr) {
				return s
			}
		case <-timeout:
			t.Fatalf("%s: no line with %q", what, substr)
		}
	}
}

// start runs ivctl in the background; stop interrupts it and returns its
// exit status.
func start(t *testing.T, env []string, args ...string) (stdout, stderr *lines, stop func() int) {
	t.Helper()
	cmd := command(env, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errOut, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdout, stderr = readLines(out), readLines(errOut)
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGINT)
			for range stdout.c {
			}
			for range stderr.c {
			}
			err := cmd.Wait()
			code = 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return stdout, stderr, stop
}

// events against a broker that is not there: status 1, and the reason
// once (no "gave up reconnecting" for a connection never made).
func TestEventsNoBroker(t *testing.T) {
	r := ivctl(t, nil, "-stomp", "127.0.0.1:1", "events").want(t, 1)
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "connection refused") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestEvents(t *testing.T) {
	p := newPlatform(t)
	// A node list whose first node is down: events go on the second.
	stdout, stderr, stop := start(t, []string{"IV_STOMP_ADDR=127.0.0.1:1," + p.STOMPAddr()}, "events")
	if s := stderr.next(t, "events", "subscribed:"); s != "subscribed: /topic/iv.agents.#" {
		t.Errorf("stderr %q", s)
	}
	ivctl(t, nil, "-stomp", p.STOMPAddr(), "-key", testKey, "call", "AgentLogin",
		"Accountcode=default", "User=1001", "Interface=SIP/default_0001").want(t, 0)
	line := stdout.next(t, "events", "LOGIN")
	var ev map[string]any
	if err := json.Unmarshal([]byte(line), &ev); err != nil || ev["agent"] != "default_1001" || ev["type"] != "LOGIN" {
		t.Errorf("event line %q: %v", line, err)
	}
	if code := stop(); code != 0 {
		t.Errorf("events exited %d after SIGINT, want 0", code)
	}
}

// A bare agent number is an agent of -accountcode, as call prefixes it.
func TestEventsBareAgentNumber(t *testing.T) {
	p := newPlatform(t)
	_, stderr, stop := start(t, []string{"IV_STOMP_ADDR=" + p.STOMPAddr()}, "events", "1001")
	if s := stderr.next(t, "events", "subscribed:"); s != "subscribed: /topic/iv.agents.default_1001" {
		t.Errorf("stderr %q", s)
	}
	if code := stop(); code != 0 {
		t.Errorf("events exited %d after SIGINT, want 0", code)
	}
}

// A call that runs out of -timeout says so, naming the flag.
func TestTimeoutNamesTheFlag(t *testing.T) {
	p := newPlatform(t)
	p.DropReplies(1, "AgentList")
	r := ivctl(t, nil, "-stomp", p.STOMPAddr(), "-key", testKey, "-timeout", "200ms", "call", "AgentList", "accountcode=default").want(t, 1, testKey)
	if !strings.Contains(r.stderr, "deadline exceeded") || !strings.Contains(r.stderr, "-timeout 200ms") {
		t.Errorf("stderr %q does not name -timeout", r.stderr)
	}
}

// Over STOMP, AgentLineList prints the members the reply carries: no
// accountcode (the reference's STOMP reply has none; IVWS's has).
func TestAgentLineListPrintsWhatTheReplyCarries(t *testing.T) {
	p := newPlatform(t)
	ivctl(t, nil, "-stomp", p.STOMPAddr(), "-key", testKey, "call", "AgentLineAdd", "accountcode=default", "user=1001", `lines=[{"linenumber":"1"}]`).want(t, 0)
	for _, ep := range endpoints {
		r := ivctl(t, nil, append(ep.flag(p), "-key", testKey, "call", "AgentLineList", "accountcode=default", "user=1001")...).want(t, 0, testKey)
		var lines []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &lines); err != nil || len(lines) == 0 {
			t.Fatalf("%s: stdout %q: %v", ep.name, r.stdout, err)
		}
		if v, ok := lines[0]["accountcode"]; ep.name == "stomp" && ok {
			t.Errorf("stomp: accountcode %v printed, which the reply does not carry: %s", v, r.stdout)
		}
	}
}

func TestEventsCalls(t *testing.T) {
	p := newPlatform(t)
	if _, err := p.Do("AgentLogin", map[string]any{"Accountcode": "default", "User": "1001", "Interface": "SIP/default_0001"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Do("AgentQueueAdd", map[string]any{"accountcode": "default", "user": "1001",
		"queues": []any{map[string]any{"name": "7000", "priority": "0"}}}); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, stop := start(t, nil, "-stomp", p.STOMPAddr(), "events", "-calls", "default_1001")
	if s := stderr.next(t, "events -calls", "subscribed:"); s != "subscribed: /topic/iv.agents.default_1001" {
		t.Errorf("stderr %q", s)
	}
	id, err := p.InboundCall("default", "7000", "1001", "2125550100", ivtest.Outcome(events.ReasonByCaller))
	if err != nil {
		t.Fatal(err)
	}
	line := stdout.next(t, "events -calls", id)
	var call map[string]any
	if err := json.Unmarshal([]byte(line), &call); err != nil || call["agent"] != "default_1001" || call["callerid"] != "2125550100" || call["reason"] == "" {
		t.Errorf("call line %q: %v", line, err)
	}
	if code := stop(); code != 0 {
		t.Errorf("events -calls exited %d after SIGINT, want 0", code)
	}
}

// TestEventsReconnect drops ivctl's connection under it: it says so on
// stderr, reconnects, and prints the events that follow.
func TestEventsReconnect(t *testing.T) {
	p := newPlatform(t)
	px := newProxy(t, p.STOMPAddr())
	stdout, stderr, stop := start(t, nil, "-stomp", px.addr(), "events")
	stderr.next(t, "events", "subscribed:")
	px.kill()
	stderr.next(t, "events", "reconnecting")
	stderr.next(t, "events", "reconnected")
	if _, err := p.Do("AgentLogin", map[string]any{"Accountcode": "default", "User": "1001", "Interface": "SIP/default_0001"}); err != nil {
		t.Fatal(err)
	}
	stdout.next(t, "events after reconnecting", `"LOGIN"`)
	if code := stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestSim(t *testing.T) {
	stdout, _, stop := start(t, nil, "sim", "-stomp", "127.0.0.1:0", "-soap", "127.0.0.1:0", "-key", testKey)
	line := stdout.next(t, "sim", "export IV_STOMP_ADDR=")
	var env []string
	for _, f := range strings.Fields(line) {
		if strings.HasPrefix(f, "IV_") {
			env = append(env, f)
		}
	}
	r := ivctl(t, env, "call", "AgentList", "accountcode=default").want(t, 0)
	if strings.Join(strings.Fields(r.stdout), "") != `["1001","1002","1003"]` {
		t.Errorf("AgentList on the simulator: %q", r.stdout)
	}
	if code := stop(); code != 0 {
		t.Errorf("sim exited %d", code)
	}
}

// proxy forwards TCP connections to a target; kill drops them all.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px := &proxy{ln: ln, target: target}
	px.wg.Add(1)
	go px.accept()
	t.Cleanup(func() {
		ln.Close()
		px.kill()
		px.wg.Wait()
	})
	return px
}

func (px *proxy) addr() string { return px.ln.Addr().String() }

func (px *proxy) accept() {
	defer px.wg.Done()
	for {
		c, err := px.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", px.target)
		if err != nil {
			c.Close()
			continue
		}
		px.mu.Lock()
		px.conns = append(px.conns, c, u)
		px.mu.Unlock()
		px.wg.Add(2)
		go func() { defer px.wg.Done(); io.Copy(u, c); u.Close() }()
		go func() { defer px.wg.Done(); io.Copy(c, u); c.Close() }()
	}
}

func (px *proxy) kill() {
	px.mu.Lock()
	defer px.mu.Unlock()
	for _, c := range px.conns {
		c.Close()
	}
	px.conns = nil
}

// An endpoint's or a broker's text in an error reaches the terminal
// quoted, never raw: no escape sequence of its own gets through.
func TestErrorTextNeverRaw(t *testing.T) {
	p := newPlatform(t)
	resp, err := http.Get(p.SOAPURL() + "?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	wsdl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	const evil = "boom\x1b]0;owned\a\x1b[2J"
	for name, reply := range map[string]func(w http.ResponseWriter){
		"HTTP 500 body": func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, evil)
		},
		"fault text": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Server</faultcode><faultstring>`+evil+`</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>`)
		},
		"fault text, escaped": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Server</faultcode><faultstring>boom&#10;line two&#9;tab</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>`)
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					w.Write(wsdl)
					return
				}
				reply(w)
			}))
			defer srv.Close()
			r := ivctl(t, nil, "-soap", srv.URL+"/", "-key", testKey, "call", "AgentList", "accountcode=default").want(t, 1, testKey)
			body := strings.TrimSuffix(r.stderr, "\n")
			if strings.ContainsFunc(body, unicode.IsControl) || !strings.Contains(body, "boom") {
				t.Errorf("stderr %q", r.stderr)
			}
		})
	}
}
