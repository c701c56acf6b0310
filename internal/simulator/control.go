package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/fakeplatform"
)

// The control interface: a small HTTP API, JSON in and out, with which a
// test in any language drives the simulator (the README's "Simulator"
// section shows each call with curl).
//
//	POST /reset             back to the seed (fakeplatform.Platform.Reset)
//	POST /calls/inbound     {"agent", "callerid", "queue", "outcome", "accountcode"} -> {"uniqueid"}
//	POST /calls/outbound    {"agent", "exten", "outcome", "accountcode"}             -> {"uniqueid", "in_progress"}
//	POST /calls/agent       {"from", "to", "outcome", "accountcode"}                  -> {"from_uniqueid", "to_uniqueid"}
//	POST /calls/transfer    {"agent", "exten", "accountcode"}                         -> {"uniqueids"}
//	POST /calls/hangup      {"uniqueid", "reason"}                                     -> {}
//	POST /calls/answer      {"uniqueid"}: answer a call played with outcome RING      -> {}
//	GET  /calls             the calls in progress
//	POST /agents/login      {"agent", "interface", "accountcode"}                     -> {}
//	POST /agents/logoff     {"agent", "accountcode"}                                  -> {}
//	POST /agents/pause      {"agent", "reason" (a pause number), "accountcode"}      -> {}
//	POST /agents/unpause    {"agent", "accountcode"}                                  -> {}
//	GET  /agents, /queues   the agents with their state, the queues with their members
//	POST /events            {"topic" or "agent", "body"}: publish body as it is, on
//	                        topic, or on the agent's topic and the all-agents one
//	POST /replies/drop      {"count", "methods"}: act on requests, withhold replies
//	POST /replies/delay     {"count", "methods", "delay"}: act on requests, hold
//	                        their replies for delay ("2s")
//	POST /newcall-outcome   {"outcome"}: how NewCall's remote party answers
//	GET  /requests          what the platform received (?method=AgentLogin), with the
//	                        description of a non-zero code, and "lenient": what the
//	                        platform accepted that its reference does not describe
//	GET  /lenient           those lenient acceptances by kind, with their counts
//	GET  /sms, /callbacks   what SendSms and NewCallBack recorded
//
// /calls/outbound plays NewCall: the platform accepts it and calls the
// agent's phone first, so an agent busy on each line that can place calls
// does not make it fail: the call ends at once with HANGUP (BUSY), and the
// answer is 200 with "in_progress" false (as it is for an outcome that
// ends the call; true while the call is up when the answer is written).
//
// accountcode defaults to the simulator's -accountcode; outcome to ""
// (answered; RING leaves the call ringing until /calls/answer; else a
// hangup reason such as NOANSWER or BUSY). Values may be given as JSON
// strings or numbers ({"agent": 1001}), counts as numbers or strings of
// digits; another type is refused naming the member ("agent: want a string
// or a number, got a bool"). A failure is
// {"error": "..."} with HTTP 400 for a request the interface cannot read,
// or with HTTP 422 and the platform's "code" and "code_name" for one the
// platform refuses (an agent that is not logged in, say).
//
// Every POST takes a JSON body (Content-Type: application/json; curl
// --json) and is refused from a page of another site (see guard).
type control struct {
	p  *fakeplatform.Platform
	ac string
}

// maxControlBody bounds a control request's body.
const maxControlBody = 1 << 20

func (c *control) handler() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		if err := c.p.Reset(); err != nil {
			fail(w, err)
			return
		}
		reply(w, map[string]any{})
	})
	c.callRoutes(mux)
	c.agentRoutes(mux)
	mux.HandleFunc("POST /events", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Topic, Agent string
			Body         *string
		}
		if !c.read(w, r, &in, nil) {
			return
		}
		var topics []string
		switch {
		case in.Body == nil:
			bad(w, "body is missing (the message to publish, as a string)")
			return
		case in.Topic != "":
			topics = []string{in.Topic}
		case in.Agent != "":
			// As the platform publishes an event: on the agent's topic and,
			// since the embedded broker matches topics exactly, on the
			// all-agents one.
			topics = []string{events.TopicPrefix + in.Agent, events.AllAgents}
		default:
			bad(w, "give topic (a STOMP destination) or agent (<accountcode>_<number>)")
			return
		}
		for _, t := range topics {
			if err := c.p.PublishRaw(t, []byte(*in.Body)); err != nil {
				bad(w, err.Error())
				return
			}
		}
		reply(w, map[string]any{"topics": topics})
	})
	mux.HandleFunc("POST /replies/drop", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Count   count
			Methods []string
		}
		if !c.read(w, r, &in, nil) {
			return
		}
		if in.Count < 0 {
			bad(w, "count must not be negative")
			return
		}
		c.p.DropReplies(int(in.Count), in.Methods...)
		reply(w, map[string]any{})
	})
	mux.HandleFunc("POST /newcall-outcome", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Outcome text }
		if !c.read(w, r, &in, nil) {
			return
		}
		if err := c.p.SetNewCallOutcome(fakeplatform.Outcome(in.Outcome)); err != nil {
			bad(w, err.Error())
			return
		}
		reply(w, map[string]any{})
	})
	c.listRoutes(mux)
	return mux
}

// listRoutes serves what the platform recorded: requests, SMS, callbacks.
func (c *control) listRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, r *http.Request) {
		method := r.URL.Query().Get("method")
		out := []map[string]any{}
		for _, req := range c.p.Requests() {
			if method != "" && req.Method != method {
				continue
			}
			// The key is left out: access keys never leave the platform.
			e := map[string]any{"method": req.Method, "transport": req.Transport, "args": req.Args,
				"code": int(req.Code), "code_name": req.Code.String()}
			if req.HasID {
				e["id"] = req.ID
			}
			if req.Description != "" {
				e["description"] = req.Description
			}
			if len(req.Lenient) > 0 {
				e["lenient"] = req.Lenient
			}
			out = append(out, e)
		}
		reply(w, out)
	})
	mux.HandleFunc("GET /lenient", func(w http.ResponseWriter, r *http.Request) {
		out := []map[string]any{}
		for _, l := range c.p.Lenient() {
			out = append(out, map[string]any{"kind": l.Kind, "count": l.Count})
		}
		reply(w, out)
	})
	mux.HandleFunc("GET /sms", func(w http.ResponseWriter, r *http.Request) {
		out := []map[string]any{}
		for _, m := range c.p.SentSMS() {
			out = append(out, map[string]any{"accountcode": m.Accountcode, "number": m.Number, "text": m.Text})
		}
		reply(w, out)
	})
	mux.HandleFunc("GET /callbacks", func(w http.ResponseWriter, r *http.Request) {
		out := []map[string]any{}
		for _, cb := range c.p.CallBacks() {
			out = append(out, map[string]any{"accountcode": cb.Accountcode, "ruleid": cb.RuleID, "mcdu": cb.Mcdu,
				"originator": cb.Originator, "language": cb.Language, "location_id": cb.LocationID,
				"queue_id": cb.QueueID, "email": cb.Email})
		}
		reply(w, out)
	})
}

// callRoutes serves the calls' part of the control interface.
func (c *control) callRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /calls/inbound", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Accountcode, Queue, Agent, CallerID, Outcome text }
		if !c.read(w, r, &in, &in.Accountcode) || !need(w, "agent", in.Agent) {
			return
		}
		uid, err := c.p.InboundCall(string(in.Accountcode), string(in.Queue), string(in.Agent), string(in.CallerID), fakeplatform.Outcome(in.Outcome))
		result(w, err, map[string]any{"uniqueid": uid})
	})
	mux.HandleFunc("POST /calls/outbound", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Accountcode, Agent, Exten, Outcome text }
		if !c.read(w, r, &in, &in.Accountcode) || !need(w, "agent", in.Agent) || !need(w, "exten", in.Exten) {
			return
		}
		uid, err := c.p.OutboundCall(string(in.Accountcode), string(in.Agent), string(in.Exten), fakeplatform.Outcome(in.Outcome))
		up := err == nil && slices.ContainsFunc(c.p.Calls(), func(call fakeplatform.Call) bool { return call.UniqueID == uid })
		result(w, err, map[string]any{"uniqueid": uid, "in_progress": up})
	})
	mux.HandleFunc("POST /calls/agent", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Accountcode, From, To, Outcome text }
		if !c.read(w, r, &in, &in.Accountcode) || !need(w, "from", in.From) || !need(w, "to", in.To) {
			return
		}
		a, b, err := c.p.AgentCall(string(in.Accountcode), string(in.From), string(in.To), fakeplatform.Outcome(in.Outcome))
		result(w, err, map[string]any{"from_uniqueid": a, "to_uniqueid": b})
	})
	mux.HandleFunc("POST /calls/transfer", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Accountcode, Agent, Exten text }
		if !c.read(w, r, &in, &in.Accountcode) || !need(w, "agent", in.Agent) || !need(w, "exten", in.Exten) {
			return
		}
		uids, err := c.p.TransferCall(string(in.Accountcode), string(in.Agent), string(in.Exten))
		if uids == nil {
			uids = []string{}
		}
		result(w, err, map[string]any{"uniqueids": uids})
	})
	mux.HandleFunc("POST /calls/hangup", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ UniqueID, Reason text }
		if !c.read(w, r, &in, nil) || !need(w, "uniqueid", in.UniqueID) || !need(w, "reason", in.Reason) {
			return
		}
		result(w, c.p.EndCall(string(in.UniqueID), string(in.Reason)), map[string]any{})
	})
	mux.HandleFunc("POST /calls/answer", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ UniqueID text }
		if !c.read(w, r, &in, nil) || !need(w, "uniqueid", in.UniqueID) {
			return
		}
		result(w, c.p.AnswerCall(string(in.UniqueID)), map[string]any{})
	})
	mux.HandleFunc("GET /calls", func(w http.ResponseWriter, r *http.Request) {
		out := []map[string]any{}
		for _, call := range c.p.Calls() {
			out = append(out, map[string]any{"uniqueid": call.UniqueID, "accountcode": call.Accountcode,
				"agent": call.Agent, "direction": call.Direction, "callerid": call.CallerID,
				"answered": call.Answered, "peer": call.Peer, "external_id": call.ExternalID})
		}
		reply(w, out)
	})
}

// read decodes the JSON body into v (member names match case-insensitively,
// unknown ones are an error) and defaults *accountcode; it answers 400 and
// reports false when it cannot.
func (c *control) read(w http.ResponseWriter, r *http.Request, v any, accountcode *text) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
	if err != nil {
		bad(w, "reading the request: "+err.Error())
		return false
	}
	if len(body) > maxControlBody {
		bad(w, "request body too large")
		return false
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			if msg, ok := typeError(err); ok {
				bad(w, msg)
				return false
			}
			bad(w, "the body is not the JSON object this call takes: "+err.Error())
			return false
		}
	}
	if accountcode != nil && *accountcode == "" {
		*accountcode = text(c.ac)
	}
	return true
}

func need(w http.ResponseWriter, name string, value text) bool {
	if strings.TrimSpace(string(value)) == "" {
		bad(w, name+" is missing")
		return false
	}
	return true
}

func result(w http.ResponseWriter, err error, v any) {
	if err != nil {
		fail(w, err)
		return
	}
	reply(w, v)
}

// fail answers a platform refusal (422, with its code) or another error
// (400).
func fail(w http.ResponseWriter, err error) {
	var ce *codes.Error
	if errors.As(err, &ce) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": err.Error(),
			"code": int(ce.Code), "code_name": ce.Code.String()})
		return
	}
	bad(w, err.Error())
}

func bad(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"error": msg})
}

func reply(w http.ResponseWriter, v any) { writeJSON(w, http.StatusOK, v) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(fmt.Sprintf(`{"error":%q}`, err.Error()))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
