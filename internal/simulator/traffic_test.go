package simulator

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseLoad(t *testing.T) {
	l, err := parseLoad("agents=200,cps=12.5,talk=5s-20s,answered=7,busy=3,outbound=25%")
	if err != nil {
		t.Fatal(err)
	}
	if l.agents != 200 || l.cps != 12.5 || l.talkMin != 5*time.Second || l.talkMax != 20*time.Second ||
		l.mix != [5]int{7, 0, 3, 0, 0} || l.outbound != 25 {
		t.Errorf("parsed %+v", l)
	}
	if l, err := parseLoad("2s"); err != nil || l.legacy != 2*time.Second || l.cps != 0.5 || l.mix[0] != 100 {
		t.Errorf("2s: %+v %v", l, err)
	}
	if l, err := parseLoad("cps=3"); err != nil || l.agents != 0 || l.mix[0] != 100 || l.talkMin != 30*time.Second {
		t.Errorf("cps=3: %+v %v", l, err)
	}
	for _, bad := range []string{"0s", "-1s", "agents=0", "cps=0", "cps=NaN", "talk=0s", "talk=9s-2s", "outbound=101",
		"answered=0", "busy=-1", "colour=red", "agents", "agents=x"} {
		if _, err := parseLoad(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// A load plays calls of each kind asked for to its agents, and says what it
// did; Reset brings its agents back, logged in.
func TestTrafficLoad(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, "simulator", []string{"-stomp", "127.0.0.1:0", "-soap", "127.0.0.1:0", "-control", "off", "-duration", "1500ms",
			"-traffic", "agents=30,cps=100,talk=20ms-60ms,answered=4,noanswer=1,busy=1,failed=1,giveup=1,outbound=30"}, &out, &out)
	}()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	text := out.String()
	if !strings.Contains(text, "traffic: 100 calls/s to and from 30 agents (20001-20030, queue 7900), logged in") {
		t.Errorf("no description of the load:\n%s", text)
	}
	m := regexp.MustCompile(`traffic: (\d+) calls in [\d.]+s \([\d.]+/s; answered (\d+), noanswer (\d+), busy (\d+), failed (\d+), giveup (\d+); (\d+) outbound\)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no summary with every outcome:\n%s", text)
	}
	total, _ := strconv.Atoi(m[1])
	sum := 0
	for _, s := range m[2:7] {
		n, _ := strconv.Atoi(s)
		sum += n
	}
	if out, _ := strconv.Atoi(m[7]); total < 20 || sum != total || out == 0 || out == total {
		t.Errorf("calls %d, outcomes adding to %d, outbound %s:\n%s", total, sum, m[7], text)
	}
	if !regexp.MustCompile(`load: \d+ events/s`).MatchString(text) {
		t.Errorf("no load line:\n%s", text)
	}
}

// A load that names its agents needs no built-in seed; one that does not
// needs it.
func TestTrafficSeedFile(t *testing.T) {
	s := start(t, "-seed=false", "-traffic", "agents=3,cps=1")
	_, _, list := s.call(t, "/agents", nil)
	if len(list) != 3 || list[0].(map[string]any)["status"] != "LOGIN" {
		t.Fatalf("agents: %v", list)
	}
	if code, _, _ := s.call(t, "/reset", map[string]any{}); code != 200 {
		t.Fatal("reset")
	}
	_, _, list = s.call(t, "/agents", nil)
	if len(list) != 3 || list[2].(map[string]any)["status"] != "LOGIN" {
		t.Fatalf("agents after reset: %v", list)
	}
}
