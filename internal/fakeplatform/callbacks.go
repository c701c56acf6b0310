package fakeplatform

import (
	"strconv"
	"strings"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// ---- SendSms and NewCallBack ----

func phoneNumber(s string) bool { return isDigits(strings.TrimPrefix(s, "+")) }

func sendSms(p *Platform, r *rq) any {
	code := r.must("accountcode")
	num := r.must("number")
	text := r.must("text")
	if num != "" && !phoneNumber(num) {
		r.fail(codes.Invalid, "number must be a telephone number")
	}
	if r.bad() {
		return nil
	}
	if p.st.account(r, code) == nil {
		return nil
	}
	p.st.sms = append(p.st.sms, SMS{Accountcode: code, Number: num, Text: text})
	return nil
}

func newCallBack(p *Platform, r *rq) any {
	code := r.must("accountcode")
	mcdu := r.must("mcdu")
	orig := r.must("originator")
	rule, _ := r.opt("ruleid", "rule_id")
	lang, hasLang := r.opt("language")
	locID, hasLoc := r.opt("location_id", "locationid")
	queueID, hasQueue := r.opt("queue_id", "queueid")
	email, hasEmail := r.opt("email")
	if mcdu != "" && !isDigits(mcdu) {
		r.fail(codes.Invalid, "mcdu must be a number")
	}
	if orig != "" && !phoneNumber(orig) {
		r.fail(codes.Invalid, "originator must be a telephone number")
	}
	if rule != "" && !isDigits(rule) {
		r.fail(codes.Invalid, "ruleid must be a number")
	}
	if hasLang && lang != "pt_BR" && lang != "en_US" {
		r.fail(codes.Invalid, "language must be pt_BR or en_US")
	}
	if hasEmail && !strings.Contains(email, "@") {
		r.fail(codes.Invalid, "email must be an email address")
	}
	if r.bad() {
		return nil
	}
	a := p.st.account(r, code)
	if a == nil {
		return nil
	}
	cb := ivclient.CallBack{Accountcode: code, RuleID: rule, Mcdu: mcdu, Originator: orig, Language: lang, Email: email}
	if hasLoc {
		g := p.st.location(r, locID)
		if g == nil {
			return nil
		}
		cb.LocationID = strconv.Itoa(g.id)
	}
	if hasQueue {
		var q *queue
		if n, err := strconv.Atoi(queueID); err == nil {
			for _, x := range a.queues {
				if x.id == n {
					q = x
				}
			}
		}
		if q == nil {
			q = a.queues[canon(queueID)]
		}
		if q == nil {
			return r.fail(codes.NotFound, "Queue %s not found", queueID)
		}
		cb.QueueID = strconv.Itoa(q.id)
	}
	for _, c := range p.st.callbacks {
		if c.Accountcode == code && canon(c.Originator) == canon(orig) {
			return r.fail(codes.Duplicate, "%s is already on the callback list", orig)
		}
	}
	p.st.callbacks = append(p.st.callbacks, cb)
	return nil
}

// SentSMS returns the text messages sent with SendSms, oldest first.
func (p *Platform) SentSMS() []SMS {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]SMS(nil), p.st.sms...)
}

// CallBacks returns the callback list NewCallBack appends to, oldest first;
// LocationID and QueueID are the permission group's and the queue's ids,
// when given.
func (p *Platform) CallBacks() []ivclient.CallBack {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ivclient.CallBack(nil), p.st.callbacks...)
}
