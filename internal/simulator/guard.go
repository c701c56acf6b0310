package simulator

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// guard keeps a page of another site from driving the simulator through
// the browser of someone who has it open:
//
//   - a request whose Host is not the simulator's own address or a
//     loopback name is refused (a DNS rebinding page reaches 127.0.0.1
//     under its own name), unless the control interface was opened beyond
//     loopback on purpose (anyHost);
//   - a request with an Origin header other than the Host's, or a
//     Sec-Fetch-Site header other than same-origin or none, is refused;
//   - a POST must carry Content-Type: application/json, which a form or a
//     simple cross-site fetch cannot send without a CORS preflight, and no
//     CORS header is ever granted.
//
// Programs (curl, a test's HTTP client) send no Origin and no
// Sec-Fetch-Site, and pass.
func guard(h http.Handler, self string, anyHost bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !anyHost && !loopbackHost(r.Host, self) {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": "host " + r.Host + " is not this simulator's address"})
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || u.Host != r.Host || (u.Scheme != "http" && u.Scheme != "https") {
				writeJSON(w, http.StatusForbidden, map[string]any{"error": "cross-origin request refused"})
				return
			}
		}
		if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": "cross-site request refused"})
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{
					"error": "send a JSON body with Content-Type: application/json (curl --json '{...}')"})
				return
			}
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether host (a Host header) names the simulator:
// its listening address, localhost or a loopback IP, with any port.
func loopbackHost(host, self string) bool {
	if host == self {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if strings.EqualFold(name, "localhost") {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}

// isLoopback reports whether addr (host:port) listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
