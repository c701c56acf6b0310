package soapx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tiaguinho/gosoap"

	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// Transport carries requests to an IVWS endpoint over SOAP. It implements
// ivclient.Transport and is safe for use by many goroutines.
type Transport struct {
	endpoint string // the configured endpoint, without credentials
	wsdlURL  string
	opts     options
	log      *slog.Logger

	hc            *http.Client      // for the WSDL
	base          http.RoundTripper // carries every request
	own           *http.Transport   // the default transport, closed by Close; nil with WithHTTPClient
	timeout       time.Duration     // the HTTP client's Timeout, applied per call
	checkRedirect func(*http.Request, []*http.Request) error
	jar           http.CookieJar

	defs atomic.Pointer[definitions]
	enc  encoder

	mu       sync.Mutex
	closed   bool
	fetch    *wsdlFetch
	idle     []*pooled
	inflight map[*pooled]context.CancelFunc
}

// pooled is a gosoap client with the round tripper that serves it. One call
// uses it at a time, so that the round tripper knows whose context applies.
type pooled struct {
	gc *gosoap.Client
	st *callState
}

var errClosed = errs.Wrap("soapx", ivclient.ErrClosed, "", nil)

// New returns a transport for the IVWS endpoint, such as
// "http://acd:7789/"; the WSDL is read from endpoint + "?wsdl". New does no
// I/O: the WSDL is fetched by the first call, with that call's context, and
// fetched again by a later call if that fails.
//
// Requests always go to endpoint, whatever address the WSDL advertises.
// Credentials in the URL (http://user:pass@acd:7789/) are sent as HTTP basic
// credentials, as WithBasicAuth does, and kept out of every message.
func New(endpoint string, opts ...Option) (*Transport, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, invalidArg("endpoint: not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, invalidArg("endpoint: must be an http:// or https:// URL")
	}
	if u.Host == "" {
		return nil, invalidArg("endpoint: no host")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, invalidArg("endpoint: must not have a query or fragment (the WSDL is read from endpoint + \"?wsdl\")")
	}
	var o options
	for i, opt := range opts {
		if opt == nil {
			return nil, invalidArg(fmt.Sprintf("option %d is nil", i+1))
		}
		if err := opt(&o); err != nil {
			return nil, invalidArg(err.Error())
		}
	}
	if u.User != nil {
		if !o.hasAuth {
			o.user = u.User.Username()
			o.pass, _ = u.User.Password()
			o.hasAuth = o.user != ""
		}
		u.User = nil
	}
	if u.Path == "" {
		u.Path = "/"
	}
	if o.maxReply == 0 {
		o.maxReply = defaultMaxReply
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	t := &Transport{
		endpoint: u.String(),
		opts:     o,
		log:      o.log,
		inflight: make(map[*pooled]context.CancelFunc),
	}
	t.wsdlURL = t.endpoint + "?wsdl"
	if hc := o.httpClient; hc != nil {
		t.hc = hc
		t.base = hc.Transport
		if t.base == nil {
			t.base = http.DefaultTransport
		}
		t.timeout, t.checkRedirect, t.jar = hc.Timeout, hc.CheckRedirect, hc.Jar
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		t.own, t.base = tr, tr
		t.hc = &http.Client{Transport: tr}
	}
	return t, nil
}

// Endpoint returns the endpoint requests are sent to (without credentials).
func (t *Transport) Endpoint() string { return t.endpoint }

// decorate adds what every request carries.
func (t *Transport) decorate(r *http.Request) {
	if t.opts.hasAuth {
		r.SetBasicAuth(t.opts.user, t.opts.pass)
	}
	if r.Header.Get("User-Agent") == "" {
		r.Header.Set("User-Agent", "instantvoice-go/soapx")
	}
}

// Call sends req to the endpoint and decodes the method's result into out
// (which may be nil).
//
// The request element is req.Method in the WSDL's namespace, holding <key>
// first and then the fields of req.Args in order, named by their xml tags
// (see the package documentation). The result is converted to JSON and
// decoded into out with encoding/json.
//
// Errors: a non-zero return code is a *codes.Error; a SOAP fault is a
// *Fault (which unwraps to a *codes.Error when it names one); an HTTP error
// that is not a fault is an *HTTPError; a reply that cannot be read wraps
// ivclient.ErrMalformedReply; a connection lost after the request was sent
// wraps ivclient.ErrConnectionLost; a WSDL that cannot be had wraps ErrWSDL;
// a closed transport gives ivclient.ErrClosed; and when ctx ends first, the
// error wraps ctx.Err(). No error text holds the access key.
func (t *Transport) Call(ctx context.Context, req *ivclient.Request, out any) error {
	switch {
	case ctx == nil:
		return errs.Wrap("soapx", ivclient.ErrInvalidArgument, "nil context", nil)
	case req == nil:
		return errs.Wrap("soapx", ivclient.ErrInvalidArgument, "nil request", nil)
	case !isXMLName(req.Method):
		return errs.Wrap("soapx", ivclient.ErrInvalidArgument, fmt.Sprintf("method %q is not a SOAP operation name", req.Method), nil)
	}
	method := req.Method
	if err := ivclient.CheckKey(req.Key); err != nil {
		return errs.Wrap("soapx", err, "", nil)
	}
	if err := ctx.Err(); err != nil {
		return errs.Wrap("soapx", err, "", nil)
	}
	params, err := t.enc.request(req.Key, req.Args)
	if err != nil {
		return scrub(errs.Wrap("soapx", ivclient.ErrInvalidArgument, err.Error(), nil), req.Key)
	}
	if n := paramsSize(params); n > t.opts.maxReply {
		return errs.Wrap("soapx", ivclient.ErrInvalidArgument,
			fmt.Sprintf("request of %d bytes over the limit of %d (WithMaxReplySize): its reply could not be read either", n, t.opts.maxReply), nil)
	}
	err = t.call(ctx, method, req.Key, params, out)
	if err != nil {
		err = scrub(err, req.Key)
		t.log.LogAttrs(ctx, slog.LevelDebug, "soapx: call failed", slog.String("method", method), slog.String("error", err.Error()))
	}
	return err
}

func (t *Transport) call(ctx context.Context, method, key string, params gosoap.ArrayParams, out any) error {
	pc, cctx, cancel, err := t.begin(ctx)
	if err != nil {
		return err
	}
	defs, err := t.definitions(cctx)
	if err != nil {
		cerr := cctx.Err()
		t.end(pc, cancel, true)
		if ctx.Err() != nil {
			return errs.Wrap("soapx", ctx.Err(), "", nil)
		}
		if errors.Is(err, ivclient.ErrClosed) || t.isClosed() {
			return errClosed
		}
		if cerr != nil {
			return t.timeoutError()
		}
		return errs.Wrap("soapx", ErrWSDL, err.Error(), err)
	}
	if !defs.has(method) {
		t.end(pc, cancel, true)
		return errs.Wrap("soapx", ivclient.ErrNotSupported, "the endpoint's WSDL has no operation "+method, nil)
	}

	res, gerr := pc.do(method, params)
	st := *pc.st
	// A gosoap client whose WSDL step failed or that panicked is not reused.
	reuse := gerr == nil || st.status != 0 || st.err != nil
	cerr := cctx.Err()
	t.end(pc, cancel, reuse)

	switch {
	case ctx.Err() != nil:
		return errs.Wrap("soapx", ctx.Err(), "", nil)
	case cerr != nil && t.isClosed():
		return errClosed
	case cerr != nil:
		return t.timeoutError()
	case st.status != 0 && (st.status < 200 || st.status > 299):
		return t.httpFailure(method, key, &st)
	case st.tooLarge:
		return errs.Wrap("soapx", ivclient.ErrMalformedReply, fmt.Sprintf("reply larger than %d bytes", t.opts.maxReply), nil)
	case st.err != nil:
		return t.transportError(&st)
	case gerr != nil && st.status != 0:
		return errs.Wrap("soapx", ivclient.ErrMalformedReply, gerr.Error(), nil)
	case gerr != nil:
		return errs.Wrap("soapx", nil, gerr.Error(), nil)
	case res == nil:
		return errs.Wrap("soapx", ivclient.ErrMalformedReply, "no reply", nil)
	}

	r, err := decodeReply(st.body, method, key, st.status, shapeOf(out))
	if err != nil {
		return errs.Wrap("soapx", ivclient.ErrMalformedReply, err.Error(), nil)
	}
	switch {
	case r.fault != nil:
		return r.fault
	case r.code != nil:
		return r.code
	case out == nil || r.json == nil:
		return nil
	}
	if err := json.Unmarshal(r.json, out); err != nil {
		return errs.Wrap("soapx", ivclient.ErrMalformedReply, err.Error(), nil)
	}
	return nil
}

// begin takes a gosoap client for one call and derives the call's context,
// which Close cancels (and the HTTP client's Timeout bounds).
func (t *Transport) begin(ctx context.Context) (*pooled, context.Context, context.CancelFunc, error) {
	var (
		cctx   context.Context
		cancel context.CancelFunc
	)
	if t.timeout > 0 {
		cctx, cancel = context.WithTimeout(ctx, t.timeout)
	} else {
		cctx, cancel = context.WithCancel(ctx)
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		cancel()
		return nil, nil, nil, errClosed
	}
	var pc *pooled
	if n := len(t.idle); n > 0 {
		pc = t.idle[n-1]
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
	}
	if pc == nil {
		t.mu.Unlock()
		var err error
		if pc, err = t.newPooled(); err != nil {
			cancel()
			return nil, nil, nil, err
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			cancel()
			return nil, nil, nil, errClosed
		}
	}
	t.inflight[pc] = cancel
	t.mu.Unlock()
	pc.st.begin(cctx)
	return pc, cctx, cancel, nil
}

// end returns the gosoap client to the pool (when reuse is set and the
// transport is open) and releases the call's context.
func (t *Transport) end(pc *pooled, cancel context.CancelFunc, reuse bool) {
	pc.st.clear()
	t.mu.Lock()
	delete(t.inflight, pc)
	if reuse && !t.closed && len(t.idle) < maxIdleClients {
		t.idle = append(t.idle, pc)
	}
	closed := t.closed
	t.mu.Unlock()
	cancel()
	if closed && t.own != nil {
		// A call that finished while Close ran may have parked its
		// connection after Close closed the idle ones.
		t.own.CloseIdleConnections()
	}
}

func (t *Transport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// newPooled makes a gosoap client whose HTTP goes through a round tripper of
// its own. Dump stays off (it would print the request, which holds the
// key); no refresh goroutine is started (RefreshDefinitionsAfter is zero);
// credentials are added by the round tripper, not by gosoap.
func (t *Transport) newPooled() (*pooled, error) {
	pc := &pooled{st: &callState{}}
	hc := &http.Client{
		Transport:     &roundTripper{t: t, st: pc.st},
		CheckRedirect: t.checkRedirect,
		Jar:           t.jar,
	}
	gc, err := gosoap.SoapClientWithConfig(gosoapWSDLURL, hc, &gosoap.Config{Dump: false, Logger: nopDump{}})
	if err != nil {
		return nil, fmt.Errorf("soapx: %v", err)
	}
	pc.gc = gc
	return pc, nil
}

// do runs gosoap, turning a panic into an error.
func (pc *pooled) do(method string, params gosoap.ArrayParams) (res *gosoap.Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("gosoap panicked: %v", r)
		}
	}()
	res, err = pc.gc.Do(gosoap.NewRequest(method, params))
	if err != nil {
		// gosoap.ErrorWithPayload carries the request body, which holds the
		// key: keep only its message.
		err = errors.New(err.Error())
	}
	return res, err
}

// httpFailure turns a non-2xx response into a *Fault when its body is a
// SOAP fault (gosoap#86), else into an *HTTPError.
func (t *Transport) httpFailure(method, key string, st *callState) error {
	if el := bodyOfEnvelope(st.body); el != nil && el.name == "Fault" {
		return faultFrom(el, method, key, st.status)
	}
	return &HTTPError{Method: method, StatusCode: st.status, Status: st.statusTx, Body: snippet(st.body, key)}
}

// transportError describes a failed HTTP exchange. When the request had been
// written, the platform may have acted on it: the error wraps
// ivclient.ErrConnectionLost. Otherwise the endpoint could not be reached
// and nothing was sent.
func (t *Transport) transportError(st *callState) error {
	var op *net.OpError
	dial := errors.As(st.err, &op) && op.Op == "dial"
	if st.written() && !dial {
		return errs.Wrap("soapx", ivclient.ErrConnectionLost, st.err.Error(), st.err)
	}
	return fmt.Errorf("soapx: cannot reach %s (nothing was sent): %w", t.endpoint, st.err)
}

func (t *Transport) timeoutError() error {
	return errs.Wrap("soapx", context.DeadlineExceeded, fmt.Sprintf("the HTTP client's Timeout (%v) expired", t.timeout), nil)
}

// Close fails the calls in flight with ivclient.ErrClosed, makes later calls
// fail the same way, and closes the idle connections of the transport's own
// HTTP client (not those of a client given with WithHTTPClient). It is
// idempotent and always returns nil.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	cancels := make([]context.CancelFunc, 0, len(t.inflight))
	for _, c := range t.inflight {
		cancels = append(cancels, c)
	}
	t.idle = nil
	t.mu.Unlock()
	for _, c := range cancels {
		c()
	}
	if t.own != nil {
		t.own.CloseIdleConnections()
	}
	return nil
}

// nopDump is gosoap's dump logger, never used (Dump is off) but set so that
// gosoap's default, which prints to stdout, cannot be reached.
type nopDump struct{}

func (nopDump) LogRequest(string, []byte)  {}
func (nopDump) LogResponse(string, []byte) {}
