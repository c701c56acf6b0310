package fakeplatform

import (
	"sort"
	"strings"

	"github.com/instantvoice/instantvoice-go/internal/catalog"
)

// ---- Lenient acceptances ----
//
// The fake accepts some requests the platform, as its reference describes
// it, might refuse: an argument under a name the reference does not give
// it over that transport (User in a NewCall over STOMP, whose example has
// Agent; passwd in an AgentAdd over STOMP; dest_ext for Exten), and a call
// to or from an agent with no line configured. Partners and other
// implementations send both names, and a test that never configures lines
// should still run; so the fake accepts them, but counts each kind
// (Lenient, Stats.Lenient), marks the request (Request.Lenient), and logs
// it: at Info the first time a kind is seen, at Debug after that. A test
// that wants to hold its code to the reference's reading asserts that
// Lenient is empty.

// lenient records one kind of lenient acceptance in r, once.
func (r *rq) lenient(kind string) {
	for _, k := range r.lenients {
		if k == kind {
			return
		}
	}
	r.lenients = append(r.lenients, kind)
}

// checkName records a lenient acceptance when the argument found under
// name (one of names, the aliases of one argument) is not the name the
// reference gives it for r's method over r's transport. Requests without
// a transport (Do, the seeds) are not checked.
func (r *rq) checkName(name string, names []string) {
	if r.transport == "" {
		return
	}
	for _, a := range r.ref {
		if !matchesAny(a, names) {
			continue
		}
		want, over := a.Name, "STOMP"
		if r.transport == transportSOAP {
			want, over = a.XMLName, "SOAP"
		}
		if want != "" && !strings.EqualFold(want, name) {
			r.lenient(r.method + " over " + over + ": " + name + " for " + want)
		}
		return
	}
}

func matchesAny(a catalog.ArgInfo, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(a.Name, n) || strings.EqualFold(a.XMLName, n) {
			return true
		}
	}
	return false
}

// referenceArgs returns each method's arguments as the reference names
// them over STOMP and over SOAP.
func referenceArgs() map[string][]catalog.ArgInfo {
	m := make(map[string][]catalog.ArgInfo)
	for _, mi := range catalog.Methods() {
		m[mi.Name] = mi.Args
	}
	return m
}

// noteLenient counts and logs the lenient acceptances of one request or
// flow.
func (p *Platform) noteLenient(r *rq, transport string) {
	if len(r.lenients) == 0 {
		return
	}
	p.lenientMu.Lock()
	if p.lenientN == nil {
		p.lenientN = make(map[string]int64)
	}
	var first []string
	for _, k := range r.lenients {
		if p.lenientN[k] == 0 {
			first = append(first, k)
		}
		p.lenientN[k]++
	}
	p.lenientMu.Unlock()
	p.stats.lenient.Add(int64(len(r.lenients)))
	for _, k := range r.lenients {
		level := p.log.Debug
		for _, f := range first {
			if f == k {
				level = p.log.Info
			}
		}
		level("ivtest: accepted a request the platform's reference does not describe", "kind", k,
			"method", r.method, "transport", transport)
	}
}

// LenientCount is how many times the platform accepted one kind of
// request that the platform's reference does not describe.
type LenientCount struct {
	Kind  string // "NewCall over STOMP: user for Agent", "an agent with no line configured took a call on line 1"
	Count int64
}

// Lenient returns what the platform accepted leniently since it started,
// by kind, the most frequent first (see Request.Lenient). Reset keeps it,
// as it keeps Stats.
func (p *Platform) Lenient() []LenientCount {
	p.lenientMu.Lock()
	out := make([]LenientCount, 0, len(p.lenientN))
	for k, n := range p.lenientN {
		out = append(out, LenientCount{k, n})
	}
	p.lenientMu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}
