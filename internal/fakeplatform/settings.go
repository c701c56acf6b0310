package fakeplatform

import (
	"net"
	"strings"

	"github.com/instantvoice/instantvoice-go/codes"
)

// ---- Settings of queues and SIP users ----

type fieldKind int

const (
	fText     fieldKind = iota
	fNullText           // text that reads null until set
	fInt                // a non-negative integer
	fYesNo
	fEnum
	fQualify  // yes, no or milliseconds
	fCodecs   // codecs separated by ';'
	fIntList  // integers separated by ','
	fIP       // an IP address
	fNet      // an IP address or network
	fSetVar   // variable=value
	fDigits   // digits
	fMAC      // a MAC address
	fDisallow // codecs separated by ';', or "all"
)

type field struct {
	name    string
	aliases []string
	kind    fieldKind
	def     any
	enum    []string
	below   int // an integer must be smaller than this, when not 0
}

func (f field) names() []string { return append([]string{f.name}, f.aliases...) }

var queueFields = []field{
	{name: "description", kind: fText, def: ""},
	{name: "sl_answeredbefore_1", kind: fInt, def: 30, below: 300},
	{name: "sl_answeredbefore_2", kind: fInt, def: 60, below: 900},
	{name: "sl_answeredbefore_3", kind: fInt, def: 60, below: 900},
	{name: "joinempty", kind: fYesNo, def: "yes"},
	{name: "requiresendinfo", aliases: []string{"requisendinfo"}, kind: fYesNo, def: "yes"},
	{name: "timeout", kind: fInt, def: 0},
	{name: "dialtimeout", kind: fInt, def: 10},
	{name: "maxlen", kind: fInt, def: 0},
	{name: "wrapuptime", kind: fInt, def: 0},
	{name: "quarantinetime", kind: fInt, def: 0},
	{name: "announce", kind: fText, def: ""},
	{name: "musiconhold", kind: fText, def: "default"},
}

var sipFields = []field{
	{name: "description", kind: fText, def: ""},
	{name: "allow", kind: fCodecs, def: "ilbc;gsm;ulaw;alaw"},
	{name: "amaflags", kind: fEnum, def: "default", enum: []string{"default", "omit", "billing", "documentation"}},
	{name: "call-limit", aliases: []string{"call_limit", "calllimit"}, kind: fInt, def: 0},
	{name: "callerid", kind: fNullText, def: nil},
	{name: "callgroup", kind: fIntList, def: ""},
	{name: "canreinvite", kind: fYesNo, def: "yes"},
	{name: "context", kind: fText, def: "instantvoice_agent"},
	{name: "defaultip", kind: fIP, def: ""},
	{name: "deny", kind: fNet, def: ""},
	{name: "disallow", kind: fDisallow, def: ""},
	{name: "dtmfmode", kind: fEnum, def: "rfc2833", enum: []string{"inband", "info", "rfc2833"}},
	{name: "fromdomain", kind: fText, def: ""},
	{name: "fromuser", kind: fText, def: ""},
	{name: "fullcontact", kind: fText, def: ""},
	{name: "host", kind: fText, def: "dynamic"},
	{name: "ignoreregexpire", aliases: []string{"ignoreexpire", "ignoregexpire"}, kind: fYesNo, def: "no"},
	{name: "insecure", kind: fEnum, def: "", enum: []string{"invite", "port", "invite,port", "port,invite"}},
	{name: "ipaddr", kind: fIP, def: ""},
	{name: "language", kind: fEnum, def: "en_US", enum: []string{"en_US", "pt_BR", "es_ES"}},
	{name: "mailbox", kind: fText, def: ""},
	{name: "md5secret", kind: fText, def: ""},
	{name: "musiconhold", kind: fText, def: ""},
	{name: "nat", kind: fYesNo, def: "no"},
	{name: "permit", kind: fNet, def: ""},
	{name: "pickupgroup", kind: fIntList, def: ""},
	{name: "port", kind: fInt, def: 5060, below: 65536},
	{name: "progressinband", kind: fEnum, def: "never", enum: []string{"yes", "no", "never"}},
	{name: "promiscredir", kind: fYesNo, def: "no"},
	{name: "qualify", kind: fQualify, def: "no"},
	{name: "regexten", kind: fDigits, def: ""},
	{name: "regseconds", kind: fInt, def: 0},
	{name: "rpid", kind: fText, def: ""},
	{name: "rtpholdtimeout", kind: fInt, def: 0},
	{name: "rtptimeout", kind: fInt, def: 0},
	{name: "secret", kind: fText, def: ""},
	{name: "sendrpid", kind: fYesNo, def: "no"},
	{name: "setvar", kind: fSetVar, def: ""},
	{name: "subscribecontext", kind: fText, def: ""},
	{name: "trustrpid", kind: fYesNo, def: "no"},
	{name: "type", kind: fEnum, def: "friend", enum: []string{"user", "friend", "peer"}},
	{name: "useclientcode", kind: fYesNo, def: "no"},
	{name: "username", kind: fText, def: ""},
	{name: "route", kind: fYesNo, def: "no"},
	{name: "macaddr", kind: fMAC, def: ""},
}

func defaults(fields []field) map[string]any {
	m := make(map[string]any, len(fields))
	for _, f := range fields {
		m[f.name] = f.def
	}
	return m
}

// readFields reads the settings present in r into a fresh map; absent
// settings are left out.
func readFields(r *rq, fields []field) map[string]any {
	out := make(map[string]any)
	for _, f := range fields {
		s, ok := r.opt(f.names()...)
		if !ok {
			continue
		}
		v, ok := parseField(f, s)
		if !ok {
			r.fail(codes.Invalid, "Invalid value for %s", f.name)
			continue
		}
		out[f.name] = v
	}
	return out
}

// isCodec reports whether name (lower case) is a codec SIP users may allow.
func isCodec(name string) bool {
	switch name {
	case "ilbc", "gsm", "ulaw", "alaw", "g729":
		return true
	}
	return false
}

func parseField(f field, s string) (any, bool) {
	switch f.kind {
	case fText, fNullText:
		return s, true
	case fInt:
		n, ok := parseInt(s)
		if !ok || n < 0 || (f.below > 0 && n >= f.below) {
			return nil, false
		}
		return n, true
	case fYesNo:
		s = strings.ToLower(s)
		return s, s == "yes" || s == "no"
	case fEnum:
		for _, e := range f.enum {
			if strings.EqualFold(s, e) {
				return e, true
			}
		}
		return nil, false
	case fQualify:
		if l := strings.ToLower(s); l == "yes" || l == "no" {
			return l, true
		}
		if n, ok := parseInt(s); ok && n >= 0 {
			return n, true
		}
		return nil, false
	case fCodecs, fDisallow:
		if f.kind == fDisallow && strings.EqualFold(s, "all") {
			return "all", true
		}
		for _, c := range strings.Split(s, ";") {
			if !isCodec(strings.ToLower(strings.TrimSpace(c))) {
				return nil, false
			}
		}
		return s, true
	case fIntList:
		for _, n := range strings.Split(s, ",") {
			if !isDigits(strings.TrimSpace(n)) {
				return nil, false
			}
		}
		return s, true
	case fIP:
		return s, net.ParseIP(s) != nil
	case fNet:
		if net.ParseIP(s) != nil {
			return s, true
		}
		if _, _, err := net.ParseCIDR(s); err == nil {
			return s, true
		}
		ip, mask, ok := strings.Cut(s, "/")
		return s, ok && net.ParseIP(ip) != nil && net.ParseIP(mask) != nil
	case fSetVar:
		k, _, ok := strings.Cut(s, "=")
		return s, ok && strings.TrimSpace(k) != ""
	case fDigits:
		return s, isDigits(s)
	case fMAC:
		_, err := net.ParseMAC(s)
		return s, err == nil
	}
	return nil, false
}
