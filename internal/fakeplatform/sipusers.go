package fakeplatform

import (
	"github.com/instantvoice/instantvoice-go/codes"
)

// ---- SIP users ----

func sipUserAdd(p *Platform, r *rq) any {
	code := r.must("accountcode")
	name := r.number(code, "name")
	set := readFields(r, sipFields)
	loc, hasLoc := r.opt("location")
	if r.bad() {
		return nil
	}
	a := p.st.account(r, code)
	if a == nil {
		return nil
	}
	var g *location
	if hasLoc {
		if g = p.st.location(r, loc); g == nil {
			return nil
		}
	}
	if a.sips[canon(name)] != nil {
		return r.fail(codes.Duplicate, "Sip user %s already exists", name)
	}
	conf := defaults(sipFields)
	for k, v := range set {
		conf[k] = v
	}
	a.sips[canon(name)] = &sipUser{id: p.st.nextID(), acct: a, name: name, conf: conf, location: g}
	return nil
}

func sipUserModify(p *Platform, r *rq) any {
	ocode := r.must("original_accountcode")
	oname := r.number(ocode, "original_name")
	ncode, hasCode := r.opt("accountcode")
	prefix := ocode
	if hasCode {
		prefix = ncode
	}
	nname, hasName := r.optNumber(prefix, "name")
	set := readFields(r, sipFields)
	loc, hasLoc := r.opt("location")
	if r.bad() {
		return nil
	}
	u := p.st.sip(r, ocode, oname)
	if u == nil {
		return nil
	}
	var g *location
	if hasLoc {
		if g = p.st.location(r, loc); g == nil {
			return nil
		}
	}
	target := u.acct
	if hasCode {
		if target = p.st.account(r, ncode); target == nil {
			return nil
		}
	}
	if !hasName {
		nname = u.name
	}
	if target != u.acct || canon(nname) != canon(u.name) {
		if other := target.sips[canon(nname)]; other != nil && other != u {
			return r.fail(codes.Duplicate, "Sip user %s already exists", nname)
		}
		delete(u.acct.sips, canon(u.name))
		u.acct = target
		target.sips[canon(nname)] = u
	}
	u.name = nname
	for k, v := range set {
		u.conf[k] = v
	}
	if hasLoc {
		u.location = g
	}
	return nil
}

func sipUserDelete(p *Platform, r *rq) any {
	code := r.must("accountcode")
	name := r.number(code, "name")
	if r.bad() {
		return nil
	}
	u := p.st.sip(r, code, name)
	if u == nil {
		return nil
	}
	delete(u.acct.sips, canon(u.name))
	return nil
}

func sipUserList(p *Platform, r *rq) any {
	code := r.must("accountcode")
	if r.bad() {
		return nil
	}
	a := p.st.account(r, code)
	if a == nil {
		return nil
	}
	out := []any{}
	for _, u := range byID(a.sips, func(u *sipUser) int { return u.id }) {
		out = append(out, u.name)
	}
	return out
}

func sipUserInfo(p *Platform, r *rq) any {
	code := r.must("accountcode")
	name := r.number(code, "name")
	if r.bad() {
		return nil
	}
	u := p.st.sip(r, code, name)
	if u == nil {
		return nil
	}
	m := make(map[string]any, len(u.conf)+3)
	for k, v := range u.conf {
		if k != "macaddr" {
			m[k] = v
		}
	}
	m["id"] = u.id
	m["accountcode"] = u.acct.code
	m["name"] = u.acct.code + "_" + u.name
	return m
}
