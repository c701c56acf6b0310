package soapx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
)

// gosoapWSDLHost is where the gosoap clients believe their WSDL lives. The
// round tripper answers that request from memory (the .invalid top-level
// domain never resolves), so gosoap never fetches anything itself.
const gosoapWSDLHost = "soapx.invalid"

const gosoapWSDLURL = "http://" + gosoapWSDLHost + "/ivws.wsdl"

// callState is what the round tripper learns about one call. Each pooled
// gosoap client has its own, used by one call at a time.
type callState struct {
	ctx      context.Context // the call's context, applied to every request
	status   int             // the last HTTP status received
	statusTx string
	body     []byte // the body of the last response, read in full
	tooLarge bool
	wrote    *atomic.Bool // the last request was written to a connection
	err      error        // the error of the HTTP exchange, if it failed
}

// begin readies the state for a call made with ctx.
func (st *callState) begin(ctx context.Context) {
	st.clear()
	st.ctx = ctx
}

// clear forgets the last call, its context included.
func (st *callState) clear() {
	st.ctx = nil
	st.status, st.statusTx, st.body = 0, "", nil
	st.tooLarge, st.wrote, st.err = false, nil, nil
}

// written reports whether the last request was written out in full.
func (st *callState) written() bool { return st.wrote != nil && st.wrote.Load() }

// roundTripper sits between gosoap and the real HTTP transport. It
//   - answers gosoap's WSDL request with the transport's small WSDL;
//   - gives every request the call's context (gosoap has none), so that a
//     cancelled call aborts its HTTP request and its connection;
//   - adds basic credentials and quotes the SOAPAction header;
//   - reads every response body in full, bounded, and keeps it for the
//     transport to decode.
type roundTripper struct {
	t  *Transport
	st *callState
}

func (rt *roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL != nil && r.URL.Host == gosoapWSDLHost {
		if r.Body != nil {
			r.Body.Close()
		}
		d := rt.t.defs.Load()
		if d == nil {
			return nil, errors.New("soapx: no WSDL loaded")
		}
		return &http.Response{
			Status: "200 OK", StatusCode: http.StatusOK,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"Content-Type": {"text/xml"}},
			Body:          io.NopCloser(bytes.NewReader(d.gosoapWSDL)),
			ContentLength: int64(len(d.gosoapWSDL)),
			Request:       r,
		}, nil
	}
	st := rt.st
	st.status, st.statusTx, st.body, st.tooLarge, st.err = 0, "", nil, false, nil // a redirect starts over
	ctx := st.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	// Whether the request was written tells a connection lost mid-call (the
	// platform may have acted) from one that was never made. The hook may
	// run on the transport's writer goroutine, even after the call returned,
	// so each request gets its own flag.
	wrote := new(atomic.Bool)
	st.wrote = wrote
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	})
	req := r.Clone(ctx)
	rt.t.decorate(req)
	if a, ok := req.Header["Soapaction"]; ok && len(a) == 1 && !(len(a[0]) >= 2 && a[0][0] == '"' && a[0][len(a[0])-1] == '"') {
		req.Header["Soapaction"] = []string{strconv.Quote(a[0])}
	}
	resp, err := rt.t.base.RoundTrip(req)
	if err != nil {
		st.err = err
		return nil, err
	}
	st.status, st.statusTx = resp.StatusCode, resp.Status
	// Read the whole body here, bounded, and keep it: a non-2xx body
	// because gosoap drops it unread (gosoap#86: a SOAP fault sent with HTTP
	// 500 is lost, and the connection with it), a 2xx body because the
	// transport decodes it itself. gosoap is handed an empty envelope: its
	// own decoding (the whole document into an innerxml field, which the
	// transport would have to parse again) would only double the work.
	limit := rt.t.opts.maxReply
	b, rerr := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	resp.Body.Close()
	if int64(len(b)) > limit {
		b, st.tooLarge = b[:limit], true
	}
	if rerr != nil {
		st.err = rerr // a connection dropped in the middle of the reply
	}
	st.body = b
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body = http.NoBody
		resp.ContentLength = 0
		return resp, nil
	}
	resp.Body = io.NopCloser(strings.NewReader(emptyEnvelope))
	resp.ContentLength = int64(len(emptyEnvelope))
	return resp, nil
}

// emptyEnvelope is what gosoap is given to decode in place of a 2xx reply.
const emptyEnvelope = `<Envelope><Body></Body></Envelope>`
