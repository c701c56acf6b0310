package stompx

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/instantvoice/instantvoice-go/internal/wire"
)

var replySeeds = []string{
	`[0, "Successful QueueAdd", "key1234"]`,
	`[0, [1234, 5678], "9b2f3c1e-7d4a-4f7e-9a51-0c6b2d8e4f10"]`,
	`[3, "not found", "9b2f3c1e-7d4a-4f7e-9a51-0c6b2d8e4f10"]`,
	`[0, {"name": "7015", "strategy": "ringall"}, "id-1"]`,
	`[0, ['1002', '1004'], 'id-1']`,
	`["0", "ok", "id-1"]`,
	`[0, "ok", 42]`,
	`[0, "id-1"]`,
	`[0]`,
	`[-1, null, "id-1"]`,
	` [ 0 , "a\", \"id-1" ] `,
	`[0, "x", "id-1", "id-2"]`,
	`[0, 1, 2, "id-1"]`,
	`{"code": 0}`,
	`[0, "unterminated, "id-1"]`,
	`[01, "x", "id-1"]`,
	`[1e3, "x", "id-1"]`,
}

// FuzzFastReply checks the dispatcher's fast path against the full parser:
// whatever the fast path accepts, wire.ParseReply reads the same way.
func FuzzFastReply(f *testing.F) {
	for _, s := range replySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, ok := fastReply(body)
		if !ok {
			return
		}
		w, err := wire.ParseReply(body)
		if err != nil {
			t.Fatalf("fast path accepted %q, ParseReply: %v", body, err)
		}
		if !w.HasID || w.ID != r.id || w.Code != r.code {
			t.Fatalf("%q: fast %d %q, full %d %q (has id %v)", body, r.code, r.id, w.Code, w.ID, w.HasID)
		}
		var a, b bytes.Buffer
		if json.Compact(&a, r.payload) != nil || json.Compact(&b, w.Payload) != nil || !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("%q: payload fast %q, full %q", body, r.payload, w.Payload)
		}
	})
}

// FuzzDispatch feeds arbitrary reply bodies to the dispatcher of a session
// with three pending calls (two on the reply's key, one on another key):
// no panic, every body is counted once, at most one call gets it, and only
// the call whose identifier the body carries, on the right key.
func FuzzDispatch(f *testing.F) {
	const (
		key   = "Kx7Qz9Lm2Vb"
		other = "Other1"
		id1   = "9b2f3c1e-7d4a-4f7e-9a51-0c6b2d8e4f10"
		id2   = "id-2"
		id3   = "id-3"
	)
	for _, s := range replySeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`[0, {"n": 1}, "` + id1 + `"]`))
	f.Add([]byte(`[7, "full", "` + id2 + `"]`))
	f.Add([]byte(`[0, "ok", "` + id3 + `"]`))
	f.Add([]byte(`[0, "` + id2 + `"]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		o := defaultOptions()
		o.finish()
		tr := &Transport{opts: o, log: slog.New(slog.DiscardHandler), red: newRedactor("")}
		s := &session{ending: newEnding(), t: tr, pending: make(map[string]*call)}
		calls := map[string]*call{
			id1: {ch: make(chan result, 1), key: key},
			id2: {ch: make(chan result, 1), key: key},
			id3: {ch: make(chan result, 1), key: other},
		}
		for id, c := range calls {
			s.pending[id] = c
		}
		s.dispatch(key, body)
		st := tr.Stats()
		if st.RepliesMatched+st.RepliesUnknown+st.RepliesMalformed != 1 {
			t.Fatalf("%q counted %+v", body, st)
		}
		got := 0
		for id, c := range calls {
			select {
			case r := <-c.ch:
				got++
				if c.key != key {
					t.Fatalf("%q delivered to a call of another key", body)
				}
				if !bytes.Contains(body, []byte(id)) {
					t.Fatalf("%q delivered to %s", body, id)
				}
				if _, still := s.pending[id]; still {
					t.Fatalf("%s delivered but still pending", id)
				}
				if r.err != nil {
					t.Fatalf("unexpected error result %v", r.err)
				}
				if len(r.payload) > 0 && !json.Valid(r.payload) {
					t.Fatalf("%q: payload %q is not JSON", body, r.payload)
				}
				_ = outcome("Fuzz", r, new(any)) // must not panic
			default:
			}
		}
		if got > 1 || (got == 1) != (st.RepliesMatched == 1) {
			t.Fatalf("%q: %d deliveries, stats %+v", body, got, st)
		}
	})
}
