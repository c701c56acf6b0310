package events

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
)

func TestPollerReferenceFormat(t *testing.T) {
	p := mustPoller()
	if got := p.PollEvents(); got != "[]" {
		t.Fatalf("empty poll = %q", got)
	}
	for _, b := range []string{
		`{"direction": "OUTBOUND", "callerid": "1234", "type": "NEWCALL", "uniqueid": "1282779516.1.6", "agent": "default_1001"}`,
		`{"direction": "INBOUND", "callerid": "2198765456", "type": "NEWCALL", "uniqueid": "1282781304.2.5", "agent": "default_1001"}`,
		`{"direction": "", "callerid": "2198765456", "type": "HANGUP", "uniqueid": "1282781304.2.5", "agent": "default_1001", "reason": "BYCALLER", "extra": 1}`,
	} {
		ev, err := Decode([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		p.Apply(ev)
	}
	if p.Len() != 3 {
		t.Fatalf("Len = %d", p.Len())
	}
	want := `[{"direction":"OUTBOUND","callerid":"1234","type":"NEWCALL","uniqueid":"1282779516.1.6","agent":"default_1001"},` +
		`{"direction":"INBOUND","callerid":"2198765456","type":"NEWCALL","uniqueid":"1282781304.2.5","agent":"default_1001"},` +
		`{"direction":"","callerid":"2198765456","type":"HANGUP","uniqueid":"1282781304.2.5","agent":"default_1001","reason":"BYCALLER"}]`
	if got := p.PollEvents(); got != want {
		t.Fatalf("PollEvents =\n%s\nwant\n%s", got, want)
	}
	// Events since the last poll only.
	if got := p.PollEvents(); got != "[]" || p.Len() != 0 {
		t.Fatalf("second poll = %q", got)
	}
}

func TestPollerEscaping(t *testing.T) {
	p := mustPoller(WithPollLimit(10))
	odd := "q\"b\\s/\n\r\t\x01\x1f é \u2028\u2029 \xff <&>"
	p.Apply(Event{Type: Pause, Direction: odd, Agent: "a"})
	var got []map[string]string
	if err := json.Unmarshal([]byte(p.PollEvents()), &got); err != nil {
		t.Fatal(err)
	}
	if want := "q\"b\\s/\n\r\t\x01\x1f é \u2028\u2029 \uFFFD <&>"; got[0]["direction"] != want {
		t.Fatalf("direction = %q, want %q", got[0]["direction"], want)
	}
	if _, ok := got[0]["reason"]; ok {
		t.Fatal("reason present without one")
	}
}

func TestPollerBounded(t *testing.T) {
	p := mustPoller(WithPollLimit(100))
	for i := 0; i < 250; i++ {
		p.Apply(Event{Type: NewCall, UniqueID: fmt.Sprint(i), Agent: "a"})
	}
	if p.Len() != 100 || p.Dropped() != 150 {
		t.Fatalf("Len %d Dropped %d", p.Len(), p.Dropped())
	}
	var got []struct{ UniqueID string }
	if err := json.Unmarshal([]byte(p.PollEvents()), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 || got[0].UniqueID != "150" || got[99].UniqueID != "249" {
		t.Fatalf("kept %d events, %v..%v", len(got), got[0], got[len(got)-1])
	}
	// Under the limit after a poll, nothing more is dropped.
	for i := 0; i < 50; i++ {
		p.Apply(Event{Type: Login, Agent: "a"})
	}
	if p.Dropped() != 150 || p.Len() != 50 {
		t.Fatalf("Len %d Dropped %d", p.Len(), p.Dropped())
	}
	small := mustPoller(WithPollLimit(3))
	for i := 0; i < 5; i++ {
		small.Apply(Event{Type: NewCall, UniqueID: fmt.Sprint(i)})
	}
	if got := small.PollEvents(); got != `[{"direction":"","callerid":"","type":"NEWCALL","uniqueid":"2","agent":""},`+
		`{"direction":"","callerid":"","type":"NEWCALL","uniqueid":"3","agent":""},{"direction":"","callerid":"","type":"NEWCALL","uniqueid":"4","agent":""}]` {
		t.Fatalf("small poll %s", got)
	}
}

func TestPollerConcurrent(t *testing.T) {
	p := mustPoller(WithPollLimit(1000))
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				p.Apply(Event{Type: NewCall, UniqueID: fmt.Sprint(i), Agent: "a"})
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 100; i++ {
			var evs []json.RawMessage
			if err := json.Unmarshal([]byte(p.PollEvents()), &evs); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			total += len(evs)
			mu.Unlock()
		}
	}()
	wg.Wait()
	var evs []json.RawMessage
	json.Unmarshal([]byte(p.PollEvents()), &evs)
	if total+len(evs)+int(p.Dropped()) != 2000 {
		t.Fatalf("polled %d + %d, dropped %d: not 2000", total, len(evs), p.Dropped())
	}
}
