package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// text is a control argument given as a JSON string or number: {"agent":
// "1001"} and {"agent": 1001} are the same.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	case bytes.Equal(b, []byte("null")):
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string or a number, got %s", b)
		}
		*t = text(n)
	}
	return nil
}

// agentRoutes serves the agents' part of the control interface: log in and
// off, pause and unpause (as the integration methods do, without a
// transport: they are not recorded as requests), the agents' and queues'
// state, and the delay of replies.
func (c *control) agentRoutes(mux *http.ServeMux) {
	do := func(w http.ResponseWriter, method string, args map[string]any) {
		_, err := c.p.Do(method, args)
		result(w, err, map[string]any{})
	}
	mux.HandleFunc("POST /agents/login", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Accountcode, Agent, Interface text }
		if !c.read(w, r, &in, &in.Accountcode) || !need(w, "agent", in.Agent) {
			return
		}
		if in.Interface == "" {
			in.Interface = "SIP/" + in.Accountcode + "_" + in.Agent
		}
		do(w, "AgentLogin", map[string]any{"accountcode": string(in.Accountcode), "user": string(in.Agent), "interface": string(in.Interface)})
	})
	mux.HandleFunc("POST /agents/logoff", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Accountcode, Agent text }
		if !c.read(w, r, &in, &in.Accountcode) || !need(w, "agent", in.Agent) {
			return
		}
		do(w, "AgentLogoff", map[string]any{"accountcode": string(in.Accountcode), "user": string(in.Agent)})
	})
	mux.HandleFunc("POST /agents/pause", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Accountcode, Agent, Reason text }
		if !c.read(w, r, &in, &in.Accountcode) || !need(w, "agent", in.Agent) || !need(w, "reason", in.Reason) {
			return
		}
		do(w, "AgentPause", map[string]any{"accountcode": string(in.Accountcode), "user": string(in.Agent), "reason": string(in.Reason)})
	})
	mux.HandleFunc("POST /agents/unpause", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Accountcode, Agent text }
		if !c.read(w, r, &in, &in.Accountcode) || !need(w, "agent", in.Agent) {
			return
		}
		do(w, "AgentUnpause", map[string]any{"accountcode": string(in.Accountcode), "user": string(in.Agent)})
	})
	mux.HandleFunc("GET /agents", func(w http.ResponseWriter, r *http.Request) {
		out := []map[string]any{}
		for _, a := range c.p.Agents() {
			out = append(out, map[string]any{"accountcode": a.Accountcode, "agent": a.User, "name": a.Name,
				"status": a.Status, "pause_reason": a.PauseReason, "interface": a.Interface,
				"lines": a.Lines, "queues": a.Queues})
		}
		reply(w, out)
	})
	mux.HandleFunc("GET /queues", func(w http.ResponseWriter, r *http.Request) {
		out := []map[string]any{}
		for _, q := range c.p.Queues() {
			out = append(out, map[string]any{"accountcode": q.Accountcode, "name": q.Name, "members": q.Members})
		}
		reply(w, out)
	})
	mux.HandleFunc("POST /replies/delay", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Count   int
			Methods []string
			Delay   text
		}
		if !c.read(w, r, &in, nil) || !need(w, "delay", in.Delay) {
			return
		}
		d, err := time.ParseDuration(string(in.Delay))
		if err != nil || d <= 0 || d > time.Hour {
			bad(w, fmt.Sprintf("delay must be a duration such as \"2s\", up to 1h, got %q", in.Delay))
			return
		}
		if in.Count < 0 {
			bad(w, "count must not be negative")
			return
		}
		c.p.DelayReplies(in.Count, d, in.Methods...)
		reply(w, map[string]any{})
	})
}
