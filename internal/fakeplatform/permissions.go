package fakeplatform

import (
	"github.com/instantvoice/instantvoice-go/codes"
)

// ---- Permission groups ----

// permTarget is an agent or a SIP user, for the *Permission methods.
type permTarget interface{ loc() **location }

func (a *agent) loc() **location   { return &a.location }
func (u *sipUser) loc() **location { return &u.location }

func agentTarget(p *Platform, r *rq, withLocation bool) (permTarget, string) {
	code := r.must("accountcode")
	user := r.number(code, "user")
	var loc string
	if withLocation {
		loc = r.must("location")
	}
	if r.bad() {
		return nil, ""
	}
	if ag := p.st.agent(r, code, user); ag != nil {
		return ag, loc
	}
	return nil, ""
}

func sipTarget(p *Platform, r *rq, withLocation bool) (permTarget, string) {
	code := r.must("accountcode")
	name := r.number(code, "name")
	var loc string
	if withLocation {
		loc = r.must("location")
	}
	if r.bad() {
		return nil, ""
	}
	if u := p.st.sip(r, code, name); u != nil {
		return u, loc
	}
	return nil, ""
}

func permAdd(p *Platform, r *rq, t permTarget, name string) any {
	if t == nil {
		return nil
	}
	g := p.st.location(r, name)
	if g == nil {
		return nil
	}
	if *t.loc() != nil {
		return r.fail(codes.Duplicate, "A permission group is already set; use the Modify method")
	}
	*t.loc() = g
	return nil
}

func permModify(p *Platform, r *rq, t permTarget, name string) any {
	if t == nil {
		return nil
	}
	g := p.st.location(r, name)
	if g == nil {
		return nil
	}
	if *t.loc() == nil {
		return r.fail(codes.NotFound, "No permission group is set")
	}
	*t.loc() = g
	return nil
}

func permDelete(r *rq, t permTarget) any {
	if t == nil {
		return nil
	}
	if *t.loc() == nil {
		return r.fail(codes.NotFound, "No permission group is set")
	}
	*t.loc() = nil
	return nil
}

func permInfo(r *rq, t permTarget) any {
	if t == nil {
		return nil
	}
	g := *t.loc()
	if g == nil {
		return r.fail(codes.NotFound, "No permission group is set")
	}
	return g.name
}

func agentAddPermission(p *Platform, r *rq) any {
	t, loc := agentTarget(p, r, true)
	return permAdd(p, r, t, loc)
}

func agentModifyPermission(p *Platform, r *rq) any {
	t, loc := agentTarget(p, r, true)
	return permModify(p, r, t, loc)
}

func agentDeletePermission(p *Platform, r *rq) any {
	t, _ := agentTarget(p, r, false)
	return permDelete(r, t)
}

func agentInfoPermission(p *Platform, r *rq) any {
	t, _ := agentTarget(p, r, false)
	return permInfo(r, t)
}

func sipUserAddPermission(p *Platform, r *rq) any {
	t, loc := sipTarget(p, r, true)
	return permAdd(p, r, t, loc)
}

func sipUserModifyPermission(p *Platform, r *rq) any {
	t, loc := sipTarget(p, r, true)
	return permModify(p, r, t, loc)
}

func sipUserDeletePermission(p *Platform, r *rq) any {
	t, _ := sipTarget(p, r, false)
	return permDelete(r, t)
}

func sipUserInfoPermission(p *Platform, r *rq) any {
	t, _ := sipTarget(p, r, false)
	return permInfo(r, t)
}
