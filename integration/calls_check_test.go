package integration

import (
	"testing"
	"time"
)

// TestCheckCalls feeds checkCalls made-up worker lines, right and wrong,
// so that the whole-call tests' checker is known to catch what it must.
func TestCheckCalls(t *testing.T) {
	topics := agentTopics("chk", 2)
	s := newCallScript("r", topics, 4, 1)
	base := time.Unix(1_000_000, 0)
	at := func(ms int) int64 { return base.Add(time.Duration(ms) * time.Millisecond).UnixNano() }
	rec := func(w, i, ms int, redelivered bool) callLine {
		c := s.calls[i]
		return callLine{Kind: "call", Worker: w, At: at(ms), UniqueID: c.uid, Agent: c.agent, Direction: c.direction,
			CallerID: c.callerID, Reason: c.reason, Redelivered: redelivered}
	}
	act := func(w, ms int, a bool) callLine { return callLine{Kind: "active", Worker: w, At: at(ms), Active: a} }
	good := func() map[int][]callLine {
		return map[int][]callLine{
			0: {act(0, 0, true), rec(0, 0, 10, false), rec(0, 1, 20, false)}, // killed at 30
			1: {act(1, 0, false), act(1, 500, true), rec(1, 1, 510, true), rec(1, 2, 520, true), rec(1, 3, 530, false), act(1, 600, false)},
		}
	}
	kills := []kill{{worker: 0, at: base.Add(30 * time.Millisecond), what: "process"}}
	end := base.Add(time.Second)

	v := checkCalls(s, good(), kills, end)
	if len(v.lost)+len(v.wrong)+len(v.half)+len(v.unmarked)+len(v.outside)+len(v.overlaps)+v.unknown != 0 {
		t.Fatalf("a good run judged bad: %+v", v)
	}
	if len(v.takeovers) != 1 || v.takeovers[0] != 480*time.Millisecond || v.dupes != 1 {
		t.Errorf("takeovers %v, dupes %d; want [480ms], 1", v.takeovers, v.dupes)
	}

	for _, tc := range []struct {
		name  string
		edit  func(map[int][]callLine)
		found func(callVerdict) bool
	}{
		{"lost", func(l map[int][]callLine) { l[1] = l[1][:4] }, func(v callVerdict) bool { return len(v.lost) == 1 }},
		{"wrong reason", func(l map[int][]callLine) { l[1][3].Reason = "BUSY?" }, func(v callVerdict) bool { return len(v.wrong) == 1 }},
		{"half", func(l map[int][]callLine) { l[1][3].Expired = true }, func(v callVerdict) bool { return len(v.half) == 1 }},
		{"partial second record, to merge", func(l map[int][]callLine) { l[1][2].Direction = "" },
			func(v callVerdict) bool { return len(v.wrong) == 0 && v.partial == 1 }},
		{"partial second record, wrong", func(l map[int][]callLine) { l[1][2].Direction, l[1][2].Reason = "", "BUSY?" },
			func(v callVerdict) bool { return len(v.wrong) == 1 }},
		{"partial only record", func(l map[int][]callLine) { l[1][3].Direction = "" }, func(v callVerdict) bool { return len(v.wrong) == 1 }},
		{"second not redelivered", func(l map[int][]callLine) { l[1][2].Redelivered = false }, func(v callVerdict) bool { return len(v.unmarked) == 1 }},
		{"standby handing over", func(l map[int][]callLine) { l[1] = append([]callLine{rec(1, 0, 5, true)}, l[1]...) }, func(v callVerdict) bool { return len(v.outside) == 1 }},
		{"two at once", func(l map[int][]callLine) { l[1][1], l[1][2].At = act(1, 15, true), at(16) }, func(v callVerdict) bool { return len(v.overlaps) > 0 }},
		{"unknown", func(l map[int][]callLine) { l[1][4].UniqueID = "other" }, func(v callVerdict) bool { return v.unknown == 1 }},
	} {
		l := good()
		tc.edit(l)
		if v := checkCalls(s, l, kills, end); !tc.found(v) {
			t.Errorf("%s: not found: %+v", tc.name, v)
		}
	}
}
