package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// text is a control argument given as a JSON string or number: {"agent":
// "1001"} and {"agent": 1001} are the same. Another JSON type (true, an
// object, a list) is an error that read reports with the member's name.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch kind := jsonKind(b); kind {
	case "string":
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	case "null":
	case "number":
		*t = text(b)
	default:
		return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[text]()}
	}
	return nil
}

// count is a control argument that counts, given as a JSON number or a
// string of digits: {"count": 2} and {"count": "2"} are the same.
type count int

func (n *count) UnmarshalJSON(b []byte) error {
	var t text
	if err := t.UnmarshalJSON(b); err != nil {
		return &json.UnmarshalTypeError{Value: jsonKind(bytes.TrimSpace(b)), Type: reflect.TypeFor[count]()}
	}
	if t == "" {
		*n = 0
		return nil
	}
	v, err := strconv.Atoi(string(t))
	if err != nil {
		return &json.UnmarshalTypeError{Value: "non-integer " + jsonKind(bytes.TrimSpace(b)) + " " + string(t), Type: reflect.TypeFor[count]()}
	}
	*n = count(v)
	return nil
}

// jsonKind names the JSON type of the value b: string, number, bool, null,
// object or array.
func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "number"
}

// typeError rewrites a decoding error that names a member of the wrong
// JSON type in the control interface's words: `agent: want a string or a
// number, got a bool`.
func typeError(err error) (string, bool) {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field == "" {
		return "", false
	}
	want := "a " + te.Type.String()
	switch te.Type {
	case reflect.TypeFor[text]():
		want = "a string or a number"
	case reflect.TypeFor[count](), reflect.TypeFor[int]():
		want = "an integer (a number or a string of digits)"
	case reflect.TypeFor[[]string]():
		want = "a list of strings"
	}
	got := "a " + te.Value
	if te.Value != "" && strings.ContainsAny(te.Value[:1], "aeiou") {
		got = "an " + te.Value
	}
	return fmt.Sprintf("%s: want %s, got %s", strings.ToLower(te.Field), want, got), true
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
			Count   count
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
		c.p.DelayReplies(int(in.Count), d, in.Methods...)
		reply(w, map[string]any{})
	})
}
