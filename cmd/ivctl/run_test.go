package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestEventsInterruptedWhileConnecting: SIGINT is events' normal end, also
// before the broker answered: exit 0, not a connection error.
func TestEventsInterruptedWhileConnecting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers CONNECT
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel) // the interrupt, while Dial waits for CONNECTED
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"-stomp", ln.Addr().String(), "-timeout", "1m", "events"},
		func(string) string { return "" }, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit status %d after an interrupt while connecting, want 0; stderr: %s", code, stderr.String())
	}
}

// TestSimExitStatus: ivctl sim exits with the simulator's status, 2 for a
// usage error, and adds nothing to what the simulator said.
func TestSimExitStatus(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"sim", "-no-such-flag"}, func(string) string { return "" }, &stdout, &stderr)
	if code != 2 {
		t.Errorf("ivctl sim -no-such-flag: exit status %d, want 2; stderr: %s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "exit status") {
		t.Errorf("stderr %q", stderr.String())
	}
	stderr.Reset()
	code = run(context.Background(), []string{"sim", "-key", "bad-key!"}, func(string) string { return "" }, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "-key") {
		t.Errorf("ivctl sim -key 'bad-key!': exit status %d, want 2; stderr: %s", code, stderr.String())
	}
}

// TestTableEscapesControlCharacters: a value with a tab, a newline or a
// terminal escape stays in its cell, quoted, and reaches no terminal raw.
func TestTableEscapesControlCharacters(t *testing.T) {
	var out bytes.Buffer
	b := []byte(`[{"name":"7000","note":"a\tb\nc\u001b[2J"},{"name":"7001","note":"plain"}]`)
	if err := writeTable(&out, b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || strings.ContainsRune(out.String(), 0x1b) || !strings.Contains(lines[1], `"a\tb\nc\x1b[2J"`) ||
		!strings.HasSuffix(lines[2], "plain") {
		t.Errorf("table:\n%s", out.String())
	}
	if got := printable("Agent 4242 not found"); got != "Agent 4242 not found" {
		t.Errorf("plain text shown as %q", got)
	}
	if got := printable("not found\x1b]0;owned\a"); strings.ContainsRune(got, 0x1b) {
		t.Errorf("a platform text with an escape shown as %q", got)
	}
}
