package main

import (
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/instantvoice/instantvoice-go/events"
)

// The store merges every record of a call: a call handed over Open, then
// ended by another worker that saw only its HANGUP, is stored whole, and a
// later Expired record of it (a worker that lost track of it) does not
// undo its end.
func TestStoreMergesEveryRecord(t *testing.T) {
	defer goleak.VerifyNone(t)
	st := newStore(io.Discard, "")
	at := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	open := events.Call{UniqueID: "1.1", Agent: "default_1001", Direction: "INBOUND", CallerID: "555",
		NewCallAt: at, ConnectAt: at.Add(time.Second), Open: true}
	end := events.Call{UniqueID: "1.1", Agent: "default_1001", CallerID: "555", Reason: events.ReasonByCaller,
		HangupAt: at.Add(time.Hour)}
	expired := events.Call{UniqueID: "1.1", Agent: "default_1001", Direction: "INBOUND", CallerID: "555",
		NewCallAt: at, Expired: true}
	for i, c := range []events.Call{open, end, expired} {
		if err := st.put(newRecord(c, "w")); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	r := st.byKey["default_1001/1.1"]
	if r.Direction != "INBOUND" || r.Reason != events.ReasonByCaller || r.Open || r.Expired || !r.EndedAt.Equal(end.HangupAt) {
		t.Fatalf("stored %+v", r)
	}
	if !r.Answered {
		t.Fatalf("the answer of the Open record was lost: %+v", r)
	}
}
