// Package examples_test builds every program in examples/ and runs it: on
// the embedded fake platform (no IV_* environment), with -h, against an
// unreachable broker, and against the simulator program.
package examples_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// runTimeout bounds one run of a program; buildTimeout the build of all.
const (
	runTimeout   = 90 * time.Second
	buildTimeout = 5 * time.Minute
)

// run is one run of a program and what its output must contain.
type run struct {
	args []string
	want []string
}

// programs lists every program of examples/ with the runs that test it on
// the embedded fake platform. A program missing here fails
// TestEveryProgramIsTested.
var programs = map[string][]run{
	"quickstart": {{
		want: []string{"started the fake platform: STOMP broker on 127.0.0.1:", ", IVWS endpoint http://127.0.0.1:",
			"to run against a real platform: IV_STOMP_ADDR=<host>:61613 IV_KEY=<access key> go run ./examples/quickstart",
			"AgentLogin: ok", "NewCall: ok",
			"event DCONNECT", "Hangup: ok", `event HANGUP   agent=default_1001 callerid=6100 direction="" reason="BYCALLER"`,
			"AgentInfo: user=default_1001 name=Alice status=LOGIN", "AgentLogoff: ok"},
	}},
	"agent-session": {
		{want: agentSession("stomp")},
		{args: []string{"-transport", "soap"}, want: agentSession("soap")},
	},
	"provisioning": {
		{want: provisioning("stomp")},
		{args: []string{"-transport", "soap"}, want: provisioning("soap")},
	},
	"crm-screen-pop": {{
		want: []string{
			"started the fake platform",
			"listening to every agent's calls",
			"screen pop for default_1001: Maria Silva calling from 2198765456 (account ACME-0042): VIP; renewal due in March",
			"call record #1: default_1001 INBOUND 2198765456 customer=ACME-0042 answered, talked ",
			"screen pop for default_1002: unknown caller 2155550000: open a new lead form",
			"call record #2: default_1002 INBOUND 2155550000 customer=(none) answered, talked ",
			"screen pop for default_1001: João Pereira calling from 2133334444 (account ACME-0107)",
			"call record #3: default_1001 INBOUND 2133334444 customer=ACME-0107 not answered, ended QUEUEMISSED",
			"3 call records written",
		},
	}},
	"dialer": {
		{want: []string{
			"started the fake platform",
			"calling 8 numbers with 3 agents, at most 3 calls at once",
			"call 2198765401 by default_100", "call 2198765402 by default_100",
			"not answered (BUSY)", "not answered (NOANSWER)", "not answered (FAILED)", "ended BYCALLEE",
			"campaign done: 8 of 8 numbers called: 1 BUSY, 1 FAILED, 1 NOANSWER, 5 answered",
		}},
		// The per-call deadline: answered calls outlive it and are hung up.
		{args: []string{"-concurrency", "2", "-call-timeout", "1s", "-talk", "1m"}, want: []string{
			"calling 8 numbers with 3 agents, at most 2 calls at once",
			"no HANGUP within 1s: hung up",
			"campaign done: 8 of 8 numbers called: 1 BUSY, 1 FAILED, 1 NOANSWER, 1 answered, 4 timed out",
		}},
	},
	"call-workers": {{
		want: []string{
			"started the fake platform",
			"worker w1 is active", "worker w2 is a standby", "worker w3 is a standby",
			"the store is down for the next 2 writes",
			"4 calls played, one from an anonymous caller",
			`"direction":"INBOUND","callerid":"2198765456","reason":"BYCALLER","answered":true`,
			`"direction":"OUTBOUND","callerid":"2144445555","reason":"BUSY","answered":false`,
			`"reason":"QUEUEMISSED","answered":false`,
			"worker w1 dies with call ", " took over; the call ends",
			`"direction":"INBOUND","callerid":"2133334444","reason":"BYCALLEE","answered":true,"ring_seconds":null,"talk_seconds":null`,
			`"redelivered":true`,
			`dead letter: HANGUP of call `, `(default_1002, callerid anonymous): store: callerid "anonymous" is not a phone number`,
			"dead letters purged (ivctl -stomp 127.0.0.1:",
			"worker w1 is no longer active",
			"4 calls stored whole (1 handed over again after the takeover), 5 tries failed; by worker: w1 3, w",
		},
	}},
	"events-tail": {{
		want: []string{
			"started the fake platform",
			"tailing /topic/iv.agents.#",
			"playing a few calls on the fake platform",
			"default_1002   PAUSE    direction=Break",
			"default_1001   HANGUP   uniqueid=", "reason=BTRANSFER",
			"default_1001 INBOUND 2198765456: answered after ",
			"default_1001 OUTBOUND 2133334444: not answered, rang ", "ended NOANSWER",
			"default_1002 INBOUND 1001: answered after ",
			"default_1002 INBOUND 2155550000: not answered, rang ", "ended QUEUEMISSED",
			"default_1002   LOGOUT",
			"6 calls finished",
		},
	}},
	"simulator": {{
		// Free ports, not 61613 and 7789, where a RabbitMQ or another
		// simulator may be listening.
		args: []string{"-stomp", "127.0.0.1:0", "-soap", "127.0.0.1:0", "-duration", "2s"},
		want: []string{
			"InstantVoice fake platform (package ivtest)",
			"STOMP: 127.0.0.1:", "IVWS:  http://127.0.0.1:", "key:   ",
			"seeded: accountcode default; queues 7000 7001; agents 1001 1002 1003; SIP users 1010 1011 1012; permission groups 123 456",
			"for the examples: export IV_STOMP_ADDR=127.0.0.1:",
			"running for 2s", "stopping: -duration passed", "stopped after 0 STOMP requests, 0 SOAP requests and 0 events",
		},
	}, {
		args: []string{"-stomp", "127.0.0.1:0", "-soap", "127.0.0.1:0", "-duration", "1s", "-traffic", "100ms"},
		want: []string{"traffic: an inbound call every 100ms to agents 1001-1003, logged in", "stopping: -duration passed"},
	}},
}

func agentSession(transport string) []string {
	return []string{
		"started the fake platform",
		"requests over " + transport + ", events over stomp",
		"AgentLogin: ok", "  event LOGIN",
		"AgentPause: ok", "  event PAUSE    direction=Break",
		`AgentInfo: status=PAUSE pause="Break"`,
		"AgentUnpause: ok", "  event UNPAUSE",
		"NewCall: ok", "callerid=6100 direction=OUTBOUND", "  event DCONNECT",
		"Hangup: ok", "reason=BYCALLER", "call ended: BYCALLER",
		"AgentLogoff: ok", "  event LOGOUT",
		"session done",
	}
}

func provisioning(transport string) []string {
	// AgentInfo's user is "<accountcode>_<number>" over STOMP and the bare
	// number over IVWS, as the reference's replies show it.
	user := "default_1001"
	if transport == "soap" {
		user = "1001"
	}
	return []string{
		"started the fake platform",
		"connected over " + transport,
		"QueueAdd 7015: ok",
		"QueueAdd 7015 again: RESPONSE_DUPLICATE, as expected",
		"QueueList: [7015 7016]",
		`QueueInfo 7015: description="Support" timeout=120 wrapuptime=5 maxlen=0`,
		`QueueInfo 7015: description="Technical support" timeout=120 wrapuptime=5 maxlen=10`,
		"AgentList: [1001]",
		`AgentInfo 1001: user=` + user + ` name="Alice Smith" status=LOGOFF`,
		"AgentLineList: [1(inbound=true outbound=true) 2(inbound=true outbound=false)]",
		"AgentLineDelete 1 (the only line): RESPONSE_NOT_ALLOWED, as expected",
		"AgentLineList: [1(inbound=true outbound=true)]",
		"AgentQueueList: [7015(priority 5) 7016(priority 2)]",
		"AgentQueueMembers 7015: [1001(priority 5)]",
		"SipUserList: [1010]",
		`SipUserInfo 1010: name=default_1010 description="Alice's desk phone" call-limit=2 port=5070 dtmfmode=info`,
		"AgentInfoPermission: 456",
		"AgentInfoPermission (no group): RESPONSE_NOT_FOUND, as expected",
		"SipUserInfoPermission: 456",
		"QueueInfo 7015 (deleted): RESPONSE_NOT_FOUND, as expected",
		"QueueList: []",
		"AgentList: []",
		"provisioning done: 42 steps",
	}
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// binary returns the path of the built program name, building every
// program on first use (with the race detector when the tests have it).
func binary(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "iv-examples-")
		if buildErr != nil {
			return
		}
		dirs, err := programDirs()
		if err != nil {
			buildErr = err
			return
		}
		args := []string{"build", "-buildvcs=false", "-o", binDir + string(filepath.Separator)}
		if raceEnabled {
			args = append(args, "-race")
		}
		for _, d := range dirs {
			args = append(args, "./"+d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool(), args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	exe := filepath.Join(binDir, name)
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	return exe
}

// programDirs lists the directories of examples/ that hold a main.go.
func programDirs() ([]string, error) {
	entries, err := os.ReadDir(".")
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(e.Name(), "main.go")); e.IsDir() && err == nil {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs, nil
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

// env is the test's environment without the IV_* variables, so that the
// programs run on their embedded fake platform; extra is added.
func env(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IV_") {
			out = append(out, kv)
		}
	}
	if raceEnabled && os.Getenv("GORACE") == "" {
		// A race still fails the program (exit status 66); it just does
		// not wait the default second at exit for more reports.
		out = append(out, "GORACE=atexit_sleep_ms=100")
	}
	return append(out, extra...)
}

// result is a finished run.
type result struct {
	stdout, stderr string
	err            error // nil for exit status 0
}

// execute runs a program to its end, within runTimeout.
func execute(t *testing.T, name string, environ []string, args ...string) result {
	t.Helper()
	exe := binary(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = environ
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("still running after %v: killed", runTimeout)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

func TestEveryProgramIsTested(t *testing.T) {
	dirs, err := programDirs()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		seen[d] = true
		if _, ok := programs[d]; !ok {
			t.Errorf("examples/%s has no runs in programs", d)
		}
	}
	for name := range programs {
		if !seen[name] {
			t.Errorf("programs lists %s, which is not a program of examples/", name)
		}
	}
}

// TestPrograms runs every program on its embedded fake platform and checks
// that it exits 0 and prints what it documents.
func TestPrograms(t *testing.T) {
	for name, runs := range programs {
		name, runs := name, runs
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, r := range runs {
				res := execute(t, name, env(), r.args...)
				if res.err != nil {
					t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(r.args, " "), res.err, res.stdout, res.stderr)
				}
				for _, w := range r.want {
					if !strings.Contains(res.stdout, w) {
						t.Errorf("%s %s: the output lacks %q", name, strings.Join(r.args, " "), w)
					}
				}
				if t.Failed() {
					t.Logf("stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
					return
				}
			}
		})
	}
}

// TestProgramsHelp checks that -h exits 0 and says what the program runs
// against.
func TestProgramsHelp(t *testing.T) {
	for name := range programs {
		name := name
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := execute(t, name, env(), "-h")
			if res.err != nil {
				t.Fatalf("%s -h: %v\n%s", name, res.err, res.stderr)
			}
			help := res.stdout + res.stderr
			for _, w := range []string{"Usage: " + name, "IV_STOMP_ADDR", "IV_KEY", "fake platform"} {
				if !strings.Contains(help, w) {
					t.Errorf("%s -h lacks %q:\n%s", name, w, help)
				}
			}
		})
	}
}

// TestProgramsFail checks that a program that cannot reach its platform
// exits non-zero with a message on stderr.
func TestProgramsFail(t *testing.T) {
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	for name := range programs {
		name := name
		if name == "simulator" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var args []string
			if name == "dialer" {
				args = []string{"-numbers", "2100000001"} // no default numbers against a real platform
			}
			res := execute(t, name, env("IV_STOMP_ADDR="+closed, "IV_KEY=abc123"), args...)
			if res.err == nil {
				t.Fatalf("%s exited 0 with an unreachable broker:\n%s", name, res.stdout)
			}
			var exit *exec.ExitError
			if !errors.As(res.err, &exit) {
				t.Fatalf("%s: %v", name, res.err)
			}
			if !strings.Contains(res.stderr, closed) && !strings.Contains(res.stderr, "connect") {
				t.Errorf("%s: the error does not say what failed: %q", name, res.stderr)
			}
			if name == "quickstart" {
				return
			}
			if !strings.HasPrefix(res.stderr, name+": ") {
				t.Errorf("%s: the error does not start with the program's name: %q", name, res.stderr)
			}
			if name == "call-workers" {
				return // events only: it needs no IV_KEY
			}
			res = execute(t, name, env("IV_STOMP_ADDR="+closed), args...)
			if res.err == nil || !strings.Contains(res.stderr, "IV_KEY is not set") {
				t.Errorf("%s without IV_KEY: exit %v, stderr %q; want a failure saying IV_KEY is not set", name, res.err, res.stderr)
			}
		})
	}

	t.Run("simulator", func(t *testing.T) {
		t.Parallel()
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		res := execute(t, "simulator", env(), "-stomp", busy.Addr().String(), "-soap", "127.0.0.1:0", "-duration", "10s")
		if res.err == nil || !strings.HasPrefix(res.stderr, "simulator: ") {
			t.Errorf("simulator on a busy port: exit %v, stderr %q; want a failure", res.err, res.stderr)
		}
	})
}

// TestSimulatorServesTheExamples runs the simulator and the other programs
// against it, through IV_STOMP_ADDR, IV_SOAP_URL and IV_KEY as it prints
// them, then interrupts it.
func TestSimulatorServesTheExamples(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("interrupts the simulator with SIGINT")
	}
	exe := binary(t, "simulator")
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-stomp", "127.0.0.1:0", "-soap", "127.0.0.1:0", "-duration", "80s")
	cmd.Env = env()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() // if the test fails before the interrupt

	// Read the output; the export line says where to connect.
	var (
		mu     sync.Mutex
		output strings.Builder
	)
	exports := make(chan string, 1)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			output.WriteString(line + "\n")
			mu.Unlock()
			if rest, ok := strings.CutPrefix(line, "for the examples: export "); ok {
				exports <- rest
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var vars []string
	select {
	case line := <-exports:
		vars = strings.Fields(line)
	case <-ctx.Done():
		t.Fatalf("the simulator printed no addresses; stderr:\n%s", stderr.String())
	}
	if len(vars) != 3 {
		t.Fatalf("export line %q: want IV_STOMP_ADDR, IV_SOAP_URL and IV_KEY", vars)
	}
	soapURL := strings.TrimPrefix(vars[1], "IV_SOAP_URL=")

	// The WSDL names the simulator's own address, for SOAP clients that
	// post where the WSDL says.
	resp, err := http.Get(soapURL + "?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	wsdl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(wsdl, []byte(`location="`+soapURL+`"`)) {
		t.Errorf("the WSDL does not give %s as the address:\n%s", soapURL, wsdl)
	}

	// The other programs, as a partner would run them against it. The
	// simulator's agents 1001-1003 exist; provisioning creates free numbers.
	provisioningArgs := []string{"-queue", "7901", "-queue2", "7902", "-agent", "1901", "-sip", "1991"}
	// IV_STOMP_ADDR as a cluster's node list whose first node is down.
	nodeList := append([]string{"IV_STOMP_ADDR=127.0.0.1:1," + strings.TrimPrefix(vars[0], "IV_STOMP_ADDR=")}, vars[1:]...)
	for _, r := range []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"quickstart", vars, nil, []string{"AgentLogin: ok", "Hangup: ok", "AgentLogoff: ok"}},
		{"quickstart", nodeList, nil, []string{"AgentLogin: ok", "Hangup: ok", "AgentLogoff: ok"}},
		{"agent-session", vars, nil, []string{"requests over stomp", "call ended: BYCALLER", "session done"}},
		{"agent-session", vars, []string{"-transport", "soap"}, []string{"requests over soap", "session done"}},
		{"provisioning", vars, provisioningArgs, []string{"connected over stomp", "AgentList: [1001 1002 1003 1901]", "provisioning done: 40 steps"}},
		{"provisioning", vars[1:], provisioningArgs, []string{"connected over soap", "SipUserList: [1010 1011 1012 1991]", "provisioning done: 40 steps"}},
		{"dialer", vars, []string{"-numbers", "2100000001,2100000002,2100000003,2100000004"},
			[]string{"calling 4 numbers with 3 agents", "campaign done: 4 of 4 numbers called: 4 answered"}},
		{"events-tail", vars, []string{"-duration", "1s"}, []string{"tailing /topic/iv.agents.#", "0 calls finished"}},
		{"crm-screen-pop", vars, []string{"-duration", "1s"}, []string{"listening to every agent's calls", "0 call records written"}},
		// Its status goes to stderr, its records (none here) to stdout.
		{"call-workers", vars, []string{"-duration", "1s", "-idle-expiry", "1m"}, nil},
	} {
		res := execute(t, r.name, env(r.env...), r.args...)
		if res.err != nil {
			t.Errorf("%s %s against the simulator: %v\nstdout:\n%s\nstderr:\n%s", r.name, strings.Join(r.args, " "), res.err, res.stdout, res.stderr)
			continue
		}
		if strings.Contains(res.stdout, "started the fake platform") {
			t.Errorf("%s started its own fake platform despite %v", r.name, r.env)
		}
		for _, w := range r.want {
			if !strings.Contains(res.stdout, w) {
				t.Errorf("%s %s against the simulator: the output lacks %q:\n%s", r.name, strings.Join(r.args, " "), w, res.stdout)
			}
		}
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-readDone
	if err := cmd.Wait(); err != nil {
		t.Fatalf("simulator after SIGINT: %v\nstderr:\n%s", err, stderr.String())
	}
	mu.Lock()
	out := output.String()
	mu.Unlock()
	for _, w := range []string{"stopping: interrupted", "stopped after "} {
		if !strings.Contains(out, w) {
			t.Errorf("the simulator's output lacks %q:\n%s", w, out)
		}
	}
	// Programs ran over both transports: both are counted.
	var stompN, soapN, eventsN int
	if i := strings.Index(out, "stopped after "); i < 0 {
		t.Errorf("no count in %q", out)
	} else if _, err := fmt.Sscanf(out[i:], "stopped after %d STOMP requests, %d SOAP requests and %d events", &stompN, &soapN, &eventsN); err != nil || stompN == 0 || soapN == 0 || eventsN == 0 {
		t.Errorf("the simulator counted %d STOMP and %d SOAP requests, %d events (%v):\n%s", stompN, soapN, eventsN, err, out)
	}
}
