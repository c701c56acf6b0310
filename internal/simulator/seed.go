package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/instantvoice/instantvoice-go/internal/fakeplatform"
)

// Seed is the simulator's start-up state, read from the JSON file -seed-file
// names (or the built-in one). Every member is optional. Queues, SIP users
// and agents are the arguments of QueueAdd, SipUserAdd and AgentAdd as the
// reference names them over STOMP, with an accountcode that defaults to
// -accountcode; an agent also takes "lines" (AgentLineAdd's), "queues"
// (AgentQueueAdd's), "location" (AgentAddPermission's) and "login" (an
// interface such as "SIP/default_1001": the agent starts logged in).
// Requests run any other method. Unknown members are an error, so that a
// typo does not pass unnoticed.
type Seed struct {
	Accountcodes     []string          `json:"accountcodes"`
	Keys             []SeedKey         `json:"keys"`
	PauseReasons     map[string]string `json:"pause_reasons"`
	PermissionGroups []string          `json:"permission_groups"`
	Queues           []map[string]any  `json:"queues"`
	SipUsers         []map[string]any  `json:"sip_users"`
	Agents           []map[string]any  `json:"agents"`
	Requests         []SeedRequest     `json:"requests"`
	NewCallOutcome   *string           `json:"newcall_outcome"` // a hangup reason, or "" to answer
	LicensedAgents   int               `json:"licensed_agents"` // 0: no limit
}

// SeedKey is an access key and the methods it may call (none: every one).
type SeedKey struct {
	Key     string   `json:"key"`
	Methods []string `json:"methods"`
}

// SeedRequest is one request run at start-up (and again on reset).
type SeedRequest struct {
	Method string         `json:"method"`
	Args   map[string]any `json:"args"`
}

// builtinSeed is the state -seed gives: agents 1001-1003 (line 1 each;
// 1001 and 1002 in queue 7000, 1003 in 7001), queues 7000 and 7001, SIP
// users 1010-1012 and permission groups 123 and 456.
func builtinSeed(ac string) *Seed {
	s := &Seed{PermissionGroups: []string{"123", "456"}}
	for _, q := range []string{"7000", "7001"} {
		s.Queues = append(s.Queues, map[string]any{"accountcode": ac, "name": q})
	}
	for _, a := range []struct{ user, name, queue string }{{"1001", "Alice", "7000"}, {"1002", "Bob", "7000"}, {"1003", "Carol", "7001"}} {
		s.Agents = append(s.Agents, map[string]any{"accountcode": ac, "user": a.user, "name": a.name,
			"lines": []any{map[string]any{"linenumber": "1"}}, "queues": []any{map[string]any{"name": a.queue, "priority": "0"}}})
	}
	for _, u := range []string{"1010", "1011", "1012"} {
		s.SipUsers = append(s.SipUsers, map[string]any{"accountcode": ac, "name": u})
	}
	return s
}

// readSeed reads a seed file.
func readSeed(path string) (*Seed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeSeed(f)
}

// maxSeed bounds a seed file.
const maxSeed = 16 << 20

func decodeSeed(r io.Reader) (*Seed, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSeed+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSeed {
		return nil, fmt.Errorf("not a seed: larger than %d MiB", maxSeed>>20)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var s Seed
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("not a seed: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not a seed: data after the JSON object")
	}
	return &s, nil
}

// options turns the seed into the platform's options; ac is the accountcode
// of entries that name none.
func (s *Seed) options(ac string) ([]fakeplatform.Option, error) {
	var opts []fakeplatform.Option
	if len(s.Accountcodes) > 0 {
		opts = append(opts, fakeplatform.WithAccountcodes(s.Accountcodes...))
	}
	for _, k := range s.Keys {
		opts = append(opts, fakeplatform.WithKey(k.Key, k.Methods...))
	}
	reasons := make([]string, 0, len(s.PauseReasons))
	for n := range s.PauseReasons {
		reasons = append(reasons, n)
	}
	sort.Strings(reasons)
	for _, n := range reasons {
		opts = append(opts, fakeplatform.WithPauseReason(n, s.PauseReasons[n]))
	}
	if len(s.PermissionGroups) > 0 {
		opts = append(opts, fakeplatform.WithPermissionGroups(s.PermissionGroups...))
	}
	if s.NewCallOutcome != nil {
		opts = append(opts, fakeplatform.WithNewCallOutcome(fakeplatform.Outcome(*s.NewCallOutcome)))
	}
	if s.LicensedAgents != 0 {
		opts = append(opts, fakeplatform.WithLicensedAgents(s.LicensedAgents))
	}
	seed := func(method string, args map[string]any) {
		opts = append(opts, fakeplatform.WithSeed(method, args))
	}
	withAC := func(m map[string]any) map[string]any {
		out := make(map[string]any, len(m)+1)
		for k, v := range m {
			out[k] = v
		}
		if _, ok := out["accountcode"]; !ok {
			out["accountcode"] = ac
		}
		return out
	}
	for _, q := range s.Queues {
		seed("QueueAdd", withAC(q))
	}
	for _, u := range s.SipUsers {
		seed("SipUserAdd", withAC(u))
	}
	for i, a := range s.Agents {
		args := withAC(a)
		code, _ := args["accountcode"].(string)
		user, ok := args["user"]
		if !ok {
			return nil, fmt.Errorf("agents[%d]: no user", i)
		}
		extra := map[string]any{}
		for _, k := range []string{"lines", "queues", "location", "login"} {
			if v, ok := args[k]; ok {
				extra[k] = v
				delete(args, k)
			}
		}
		seed("AgentAdd", args)
		if v, ok := extra["lines"]; ok {
			seed("AgentLineAdd", map[string]any{"accountcode": code, "user": user, "lines": v})
		}
		if v, ok := extra["queues"]; ok {
			seed("AgentQueueAdd", map[string]any{"accountcode": code, "user": user, "queues": v})
		}
		if v, ok := extra["location"]; ok {
			seed("AgentAddPermission", map[string]any{"accountcode": code, "user": user, "location": v})
		}
		if v, ok := extra["login"]; ok {
			seed("AgentLogin", map[string]any{"Accountcode": code, "User": user, "Interface": v})
		}
	}
	for i, r := range s.Requests {
		if r.Method == "" {
			return nil, fmt.Errorf("requests[%d]: no method", i)
		}
		seed(r.Method, r.Args)
	}
	return opts, nil
}

// summary describes the seed in one line.
func (s *Seed) summary(ac string) string {
	names := func(list []map[string]any, field string) string {
		var out []string
		for _, m := range list {
			v := fmt.Sprint(m[field])
			if a, ok := m["accountcode"].(string); ok && a != ac {
				v = a + "_" + v
			}
			out = append(out, v)
		}
		if len(out) == 0 {
			return "none"
		}
		return strings.Join(out, " ")
	}
	groups := "none"
	if len(s.PermissionGroups) > 0 {
		groups = strings.Join(s.PermissionGroups, " ")
	}
	return fmt.Sprintf("accountcode %s; queues %s; agents %s; SIP users %s; permission groups %s", ac,
		names(s.Queues, "name"), names(s.Agents, "user"), names(s.SipUsers, "name"), groups)
}
