package events

import (
	"encoding/json"
	"testing"
	"time"
)

// benchBody is the reference's event example, as the platform sends it.
var benchBody = []byte(`{"direction": "INBOUND", "callerid": "2198765456", "type": "NEWCALL", "uniqueid": "1282781304.2.5", "agent": "default_1001"}`)

var benchHangup = []byte(`{"direction": "", "callerid": "2198765456", "type": "HANGUP", "uniqueid": "1282781304.2.5", "agent": "default_1001", "reason": "BYCALLER"}`)

var benchExtra = []byte(`{"direction": "OUTBOUND", "callerid": 1234, "type": "NEWCALL", "uniqueid": "1282779516.1.6", "agent": "default_1001", "queue": "7015", "vars": {"crm": [1, 2, 3]}}`)

var sinkEvent Event

// BenchmarkDecode measures Decode on the reference's NEWCALL example.
func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for i := 0; i < b.N; i++ {
		ev, err := Decode(benchBody)
		if err != nil {
			b.Fatal(err)
		}
		sinkEvent = ev
	}
}

// BenchmarkDecodeHangup measures Decode on a HANGUP with a reason.
func BenchmarkDecodeHangup(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchHangup)))
	for i := 0; i < b.N; i++ {
		ev, err := Decode(benchHangup)
		if err != nil {
			b.Fatal(err)
		}
		sinkEvent = ev
	}
}

// BenchmarkDecodeExtra measures Decode on an event with unknown fields
// (kept in Extra) and a numeric callerid.
func BenchmarkDecodeExtra(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchExtra)))
	for i := 0; i < b.N; i++ {
		ev, err := Decode(benchExtra)
		if err != nil {
			b.Fatal(err)
		}
		sinkEvent = ev
	}
}

// wireEvent is what a partner would write with encoding/json: a struct of
// the six fields.
type wireEvent struct {
	Type      string `json:"type"`
	Direction string `json:"direction"`
	CallerID  string `json:"callerid"`
	UniqueID  string `json:"uniqueid"`
	Agent     string `json:"agent"`
	Reason    string `json:"reason"`
}

var sinkWire wireEvent

// BenchmarkDecodeEncodingJSON is the baseline: encoding/json into a struct
// of the six fields (no Raw copy, no unknown fields kept).
func BenchmarkDecodeEncodingJSON(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for i := 0; i < b.N; i++ {
		var w wireEvent
		if err := json.Unmarshal(benchBody, &w); err != nil {
			b.Fatal(err)
		}
		sinkWire = w
	}
}

// BenchmarkPublish measures a Feed.Publish (decode and queue) with the
// consumer keeping up.
func BenchmarkPublish(b *testing.B) {
	s, feed := newSubscription(feedConfig{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range s.C() {
		}
	}()
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		feed.publish("/topic/iv.agents.default_1001", benchBody, now)
	}
	b.StopTimer()
	s.Close()
	<-done
}
