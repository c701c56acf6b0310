package soapx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/soapx"
)

type loginArgs struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode"`
	User        string `json:"Agent" xml:"User"`
	Interface   string `json:"Interface" xml:"Interface"`
}

type line struct {
	Number   int   `json:"linenumber,string" xml:"linenumber"`
	Inbound  *bool `json:"-" xml:"inbound,omitempty"`
	Outbound *bool `json:"-" xml:"outbound,omitempty"`
}

type lineAddArgs struct {
	Accountcode string `xml:"accountcode"`
	User        string `xml:"user"`
	Lines       []line `xml:"lines" iv:"required,item=line"`
}

type flag bool

func (f flag) MarshalText() ([]byte, error) {
	if f {
		return []byte("yes"), nil
	}
	return []byte("no"), nil
}

type queueBody struct {
	Accountcode string `xml:"accountcode,omitempty"`
	Name        string `xml:"name,omitempty"`
	Description string `xml:"description,omitempty"`
	Timeout     *int   `xml:"timeout,omitempty"`
	MaxLen      *int   `xml:"maxlen,omitempty"`
	JoinEmpty   *flag  `xml:"joinempty,omitempty"`
}

type queueModifyArgs struct {
	OriginalAccountcode string `xml:"original_accountcode"`
	OriginalName        string `xml:"original_name"`
	queueBody           `iv:"optional"`
}

type hidden struct {
	Flag  flag `xml:"flag"`
	Plain string
}

type withHidden struct {
	hidden
	Last string `xml:"last"`
}

type callBackArgs struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode"`
	RuleID      string `json:"Ruleid,omitempty" xml:"-"`
	Mcdu        string `xml:"Mcdu"`
	Weight      float64
	Count       uint8 `xml:"count"`
}

func ptr[T any](v T) *T { return &v }

// The request: key first, then the fields in order under their xml names,
// in the WSDL's namespace; numbers in decimal; nil and omitempty fields left
// out; lists as numbered items; the SOAPAction quoted.
func TestRequestEncoding(t *testing.T) {
	e := newIVWS(t, result(`<x xsi:type="xs:integer">0</x>`))
	tr := newTransport(t, e.URL())
	ctx := context.Background()

	cases := []struct {
		method string
		args   any
		want   []string
	}{
		{"AgentLogin", &loginArgs{"default", "default_1001", "SIP/default_0001"},
			[]string{"key=" + testKey, "Accountcode=default", "User=default_1001", "Interface=SIP/default_0001"}},
		{"AgentLineAdd", lineAddArgs{"default", "0001", []line{{1, ptr(false), ptr(true)}, {Number: 2}}},
			[]string{"key=" + testKey, "accountcode=default", "user=0001",
				"lines{line1{linenumber=1 inbound=0 outbound=1} line2{linenumber=2}}"}},
		{"QueueAdd", &queueModifyArgs{"default", "7015", queueBody{Accountcode: "default", Name: "8015", Timeout: ptr(0), JoinEmpty: ptr(flag(true))}},
			[]string{"key=" + testKey, "original_accountcode=default", "original_name=7015",
				"accountcode=default", "name=8015", "timeout=0", "joinempty=yes"}},
		{"NewCallBack", callBackArgs{Accountcode: "default", RuleID: "1", Mcdu: "6100", Weight: 1.5, Count: 3},
			[]string{"key=" + testKey, "Accountcode=default", "Mcdu=6100", "Weight=1.5", "count=3"}},
		{"AgentList", map[string]any{"b": 2, "a": "x", "c": nil},
			[]string{"key=" + testKey, "a=x", "b=2"}},
		{"QueueList", nil, []string{"key=" + testKey}},
		{"Echo", withHidden{hidden{true, "p"}, "l"}, []string{"key=" + testKey, "flag=yes", "Plain=p", "last=l"}},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			if err := tr.Call(ctx, &ivclient.Request{Method: c.method, Key: testKey, Args: c.args}, nil); err != nil {
				t.Fatalf("Call: %v", err)
			}
			got := e.last()
			if got.Method != c.method || got.Namespace != "Ivws.Ivws" {
				t.Errorf("method element %s in %q, want %s in Ivws.Ivws", got.Method, got.Namespace, c.method)
			}
			if !reflect.DeepEqual(got.names(), c.want) {
				t.Errorf("params\n got %q\nwant %q\nbody %s", got.names(), c.want, got.Body)
			}
			if got.SOAPAction != `"`+c.method+`"` {
				t.Errorf("SOAPAction %q", got.SOAPAction)
			}
			if got.Params[0].Space != "Ivws.Ivws" {
				t.Errorf("key element in namespace %q", got.Params[0].Space)
			}
		})
	}
	if n := e.wsdlHits.Load(); n != 1 {
		t.Errorf("WSDL fetched %d times, want once", n)
	}
}

func TestRequestEncodingRejectsUnsendable(t *testing.T) {
	e := newIVWS(t, result("0"))
	tr := newTransport(t, e.URL())
	for _, args := range []any{
		struct{ C chan int }{make(chan int)},
		42,
		map[string]any{"bad name": "x"},
	} {
		err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey, Args: args}, nil)
		if !errors.Is(err, ivclient.ErrInvalidArgument) {
			t.Errorf("%T: err = %v, want ErrInvalidArgument", args, err)
		}
		noKey(t, err)
	}
	if err := tr.Call(context.Background(), &ivclient.Request{Method: "<bad>", Key: testKey}, nil); !errors.Is(err, ivclient.ErrInvalidArgument) {
		t.Errorf("bad method name: %v", err)
	}
	if e.posts.Load() != 0 {
		t.Errorf("%d requests sent for arguments that cannot be sent", e.posts.Load())
	}
}

// A request larger than the replies the transport accepts is refused before
// it is sent: its reply (the platform echoes what it stored) could not be
// read either.
func TestOversizedRequestRefused(t *testing.T) {
	e := newIVWS(t, result("0"))
	tr := newTransport(t, e.URL(), soapx.WithMaxReplySize(4096))
	args := &loginArgs{Accountcode: "default", User: "default_1001", Interface: strings.Repeat("x", 8192)}
	err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey, Args: args}, nil)
	if !errors.Is(err, ivclient.ErrInvalidArgument) || !strings.Contains(err.Error(), "WithMaxReplySize") {
		t.Errorf("a request of 8 KiB over a 4 KiB limit: %v, want ErrInvalidArgument naming WithMaxReplySize", err)
	}
	if e.posts.Load() != 0 {
		t.Errorf("%d requests sent", e.posts.Load())
	}
	args.Interface = "SIP/default_0001"
	if err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey, Args: args}, nil); err != nil {
		t.Errorf("a small request: %v", err)
	}
}

// Return codes travel as a bare integer result, a <code> member, or a fault.
func TestReturnCodes(t *testing.T) {
	e := newIVWS(t, nil)
	tr := newTransport(t, e.URL())
	ctx := context.Background()
	call := func(method string, out any) error {
		return tr.Call(ctx, &ivclient.Request{Method: method, Key: testKey, Args: &loginArgs{"default", "1001", "SIP/x"}}, out)
	}

	e.setHandler(result(`0`))
	if err := call("AgentLogin", nil); err != nil {
		t.Fatalf("code 0: %v", err)
	}
	e.setHandler(result(`Successful AgentLogin`))
	if err := call("AgentLogin", nil); err != nil {
		t.Fatalf("description: %v", err)
	}

	e.setHandler(result(`3`))
	err := call("AgentLogin", nil)
	var ce *codes.Error
	if !errors.As(err, &ce) || ce.Code != codes.NotFound || ce.Method != "AgentLogin" || !errors.Is(err, codes.ErrNotFound) {
		t.Fatalf("bare code 3: %v", err)
	}
	// An Info method that fails answers a code where an object was expected.
	var info ivclient.AgentInfo
	if err := call("AgentInfo", &info); !errors.Is(err, codes.ErrNotFound) {
		t.Fatalf("AgentInfo with code 3: %v", err)
	}
	var list []string
	e.setHandler(result(`-2`))
	if err := call("AgentList", &list); !errors.Is(err, codes.ErrPermissionDenied) {
		t.Fatalf("AgentList with code -2: %v", err)
	}

	e.setHandler(result(`<code xsi:type="xs:integer">9</code><location xs:nil="1"/>`))
	var loc string
	err = call("AgentInfoPermission", &loc)
	if !errors.As(err, &ce) || ce.Code != codes.Unauthorized || ce.Method != "AgentInfoPermission" {
		t.Fatalf("<code>9</code>: %v", err)
	}

	// {code: 0, location} decodes into a result type that reads the location.
	e.setHandler(result(`<code xsi:type="xs:integer">0</code><location xsi:type="xs:string">123</location>`))
	var perm struct {
		Code     string `json:"code"`
		Location string `json:"location"`
	}
	if err := call("AgentInfoPermission", &perm); err != nil || perm.Location != "123" || perm.Code != "0" {
		t.Fatalf("permission: %+v, %v", perm, err)
	}

	// A scalar where a string is expected is data, not a code.
	e.setHandler(result(`42`))
	var s string
	if err := call("AgentInfoPermission", &s); err != nil || s != "42" {
		t.Fatalf("scalar string: %q, %v", s, err)
	}
}

// A SOAP fault, sent with HTTP 500 (gosoap#86) or 200, is a *soapx.Fault
// that unwraps to the *codes.Error it names.
func TestFaults(t *testing.T) {
	e := newIVWS(t, nil)
	tr := newTransport(t, e.URL())
	ctx := context.Background()
	cases := []struct {
		name    string
		handler func(http.ResponseWriter, *http.Request, request)
		status  int
		code    codes.Code // 0: names none
		desc    string
	}{
		{"500 by name", fault(500, "SOAP-ENV:Client", "RESPONSE_NOT_FOUND: no agent 1001", ""), 500, codes.NotFound, "no agent 1001"},
		{"200 by name", fault(200, "SOAP-ENV:Client", "RESPONSE_DUPLICATE", ""), 200, codes.Duplicate, ""},
		{"detail code", fault(500, "SOAP-ENV:Server", "request failed",
			`<code xsi:type="xs:integer">-1</code><name>DAC_OFFLINE</name><description>IVACD is down</description>`), 500, codes.DACOffline, "IVACD is down"},
		{"faultcode number", fault(500, "SOAP-ENV:Client.9", "unauthorized", ""), 500, codes.Unauthorized, "unauthorized"},
		{"labelled number", fault(500, "Server", "1000: IVACD disabled", ""), 500, codes.Undefined, "IVACD disabled"},
		// A number that merely starts the text names no code (issue #11).
		{"leading number", fault(500, "Server", "3 agents busy", ""), 500, 0, ""},
		{"faultcode name", fault(500, "SOAP-ENV:Client.RESPONSE_NOT_FOUND", "RESPONSE_NOT_FOUND: Queue 4242 not found", ""), 500, codes.NotFound, "Queue 4242 not found"},
		{"no code", fault(500, "SOAP-ENV:Server", "division by zero at line 3", ""), 500, 0, ""},
		{"SOAP 1.2", reply(500, `<env:Fault xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Code><env:Value>env:Sender</env:Value></env:Code><env:Reason><env:Text xml:lang="en">RESPONSE_INVALID</env:Text></env:Reason></env:Fault>`), 500, codes.Invalid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.setHandler(c.handler)
			err := tr.Call(ctx, &ivclient.Request{Method: "AgentInfo", Key: testKey, Args: &loginArgs{"a", "b", "c"}}, nil)
			var f *soapx.Fault
			if !errors.As(err, &f) {
				t.Fatalf("err = %T %v, want *soapx.Fault", err, err)
			}
			if f.StatusCode != c.status || f.Method != "AgentInfo" || f.Code == "" || f.String == "" {
				t.Errorf("fault %+v", f)
			}
			var ce *codes.Error
			got, named := f.ReturnCode()
			if c.code == 0 {
				if named || errors.As(err, &ce) || errors.Is(err, codes.ErrNotFound) {
					t.Errorf("fault without a code matched one: %v", err)
				}
				return
			}
			if !named || got != c.code || !errors.As(err, &ce) || ce.Code != c.code || ce.Method != "AgentInfo" {
				t.Fatalf("code: got %v (%v), codes.Error %+v, want %v", got, named, ce, c.code)
			}
			if ce.Description != c.desc {
				t.Errorf("description %q, want %q", ce.Description, c.desc)
			}
			if !errors.Is(err, ce) {
				t.Errorf("errors.Is(err, its codes.Error) is false")
			}
			if err.Error() != ce.Error() {
				t.Errorf("fault text %q differs from the code's %q (STOMP's)", err, ce)
			}
		})
	}
	if !errors.Is(func() error {
		e.setHandler(fault(500, "SOAP-ENV:Client", "RESPONSE_NOT_FOUND", ""))
		return tr.Call(ctx, &ivclient.Request{Method: "AgentInfo", Key: testKey}, nil)
	}(), codes.ErrNotFound) {
		t.Error("errors.Is(fault, codes.ErrNotFound) is false")
	}
}

// An HTTP error whose body is not a SOAP fault is an *HTTPError; the
// connection stays usable (gosoap v1.4.4 leaves such bodies unread).
func TestHTTPErrors(t *testing.T) {
	var conns sync.Map
	e := newIVWSWith(t, nil, func(e *ivws) {
		e.srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Store(c.RemoteAddr().String(), true)
			}
		}
	})
	tr := newTransport(t, e.URL())
	for i, status := range []int{502, 404, 401, 500} {
		e.setHandler(func(w http.ResponseWriter, r *http.Request, _ request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			fmt.Fprintf(w, "<html><body><h1>%d</h1>%s</body></html>", status, strings.Repeat("x", 4000))
		})
		err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil)
		var he *soapx.HTTPError
		if !errors.As(err, &he) || he.StatusCode != status || len(he.Body) > 520 || !strings.Contains(he.Body, "<h1>") {
			t.Fatalf("%d: err = %T %v", status, err, err)
		}
		if i == 0 && !strings.Contains(err.Error(), "502") {
			t.Errorf("error text %q does not name the status", err)
		}
	}
	// Undrained bodies cost a connection per call (4, or 5 with the WSDL
	// fetch); allow one more than the single kept-alive connection, for a
	// connection the client or the server closed for its own reasons (seen
	// once under -race on a loaded machine).
	n := 0
	conns.Range(func(any, any) bool { n++; return true })
	if n > 2 {
		t.Errorf("%d connections for 4 sequential calls: error bodies are not drained", n)
	}
}

// A reply that is not well-formed XML, not SOAP, or empty is a clear error
// wrapping ivclient.ErrMalformedReply; nothing panics.
func TestMalformedReplies(t *testing.T) {
	e := newIVWS(t, nil)
	tr := newTransport(t, e.URL())
	bodies := map[string]string{
		"broken":       `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><AgentInfoResponse><AgentInfoResult><user>1</name>`,
		"html":         `<html><body>It works!</body></html>`,
		"empty":        ``,
		"text":         `OK`,
		"empty body":   envelope(``),
		"no body":      `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"></SOAP-ENV:Envelope>`,
		"entity":       envelope(`<AgentInfoResponse><AgentInfoResult><user>&nbsp;</user></AgentInfoResult></AgentInfoResponse>`),
		"deep":         envelope(strings.Repeat("<a>", 200) + strings.Repeat("</a>", 200)),
		"wrong shape":  envelope(`<AgentInfoResponse><AgentInfoResult><user><a>1</a><b>2</b></user></AgentInfoResult></AgentInfoResponse>`),
		"bad encoding": `<?xml version="1.0" encoding="x-no-such"?>` + envelope(``),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			e.setHandler(func(w http.ResponseWriter, _ *http.Request, _ request) {
				w.Header().Set("Content-Type", "text/xml")
				io.WriteString(w, body)
			})
			var out ivclient.AgentInfo
			err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentInfo", Key: testKey}, &out)
			if !errors.Is(err, ivclient.ErrMalformedReply) {
				t.Fatalf("err = %v, want ErrMalformedReply", err)
			}
			noKey(t, err)
		})
	}
}

// Elements and attributes the SDK does not know are kept (Extra), not
// fatal; the reply's namespaces and prefixes do not matter.
func TestUnknownExtraElements(t *testing.T) {
	e := newIVWS(t, result(`
		<passwd xsi:type="xs:string">456</passwd>
		<accountcode xsi:type="xs:string" foo="bar">default</accountcode>
		<agents_id xsi:type="xs:integer">22</agents_id>
		<name xsi:type="xs:string">Foo Agent</name>
		<user xsi:type="xs:string">0001</user>
		<shoe_size xsi:type="xs:integer">44</shoe_size>
		<x:gadget xmlns:x="urn:other"><colour>red</colour><size xs:nil="1"/></x:gadget>
		<!-- a comment --><?pi data?>
		<nothing xsi:nil="true"/>`))
	tr := newTransport(t, e.URL())
	var info ivclient.AgentInfo
	if err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentInfo", Key: testKey}, &info); err != nil {
		t.Fatal(err)
	}
	if info.ID != 22 || info.Pass != "456" || info.User != "0001" || info.Name != "Foo Agent" || info.Accountcode != "default" {
		t.Errorf("info %+v", info)
	}
	want := map[string]any{"shoe_size": "44", "gadget": map[string]any{"colour": "red", "size": nil}, "nothing": nil}
	if !reflect.DeepEqual(info.Extra, want) {
		t.Errorf("Extra = %#v, want %#v", info.Extra, want)
	}
}

// Cancelling a call while the endpoint is slow returns at once with the
// context's error, aborts the HTTP request (the server sees its client go)
// and leaves no goroutine (goleak in TestMain).
func TestCancelMidCall(t *testing.T) {
	entered := make(chan struct{}, 4)
	gone := make(chan struct{}, 4)
	e := newIVWS(t, func(w http.ResponseWriter, r *http.Request, req request) {
		entered <- struct{}{}
		select {
		case <-r.Context().Done():
			gone <- struct{}{}
		case <-time.After(10 * time.Second):
		}
	})
	tr := newTransport(t, e.URL())

	for _, mode := range []string{"cancel", "deadline"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			if mode == "deadline" {
				ctx, cancel = context.WithTimeout(context.Background(), 150*time.Millisecond)
			}
			defer cancel()
			go func() {
				<-entered
				if mode == "cancel" {
					cancel()
				}
			}()
			start := time.Now()
			err := tr.Call(ctx, &ivclient.Request{Method: "Slow", Key: testKey}, nil)
			took := time.Since(start)
			want := context.Canceled
			if mode == "deadline" {
				want = context.DeadlineExceeded
			}
			if !errors.Is(err, want) {
				t.Fatalf("err = %v, want %v", err, want)
			}
			if !strings.HasPrefix(err.Error(), "soapx: "+want.Error()) {
				t.Errorf("error %q, want \"soapx: %v\"", err, want)
			}
			if took > 2*time.Second {
				t.Errorf("Call returned after %v", took)
			}
			select {
			case <-gone:
			case <-time.After(2 * time.Second):
				t.Fatal("the server never saw the request abandoned: the connection was left open")
			}
		})
	}
	// The transport still works after cancelled calls.
	e.setHandler(result("0"))
	if err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil); err != nil {
		t.Fatalf("after cancellations: %v", err)
	}
}

// A context that is already done sends nothing.
func TestCallWithDoneContext(t *testing.T) {
	e := newIVWS(t, result("0"))
	tr := newTransport(t, e.URL())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tr.Call(ctx, &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if e.wsdlHits.Load()+e.posts.Load() != 0 {
		t.Error("a call with a done context reached the endpoint")
	}
}

// The first caller's context bounds the WSDL fetch too.
func TestCancelDuringWSDLFetch(t *testing.T) {
	release := make(chan struct{})
	e := newIVWS(t, result("0"))
	e.setWSDL(func(address string) (int, string) {
		<-release
		return 200, testWSDL(address)
	})
	defer close(release)
	tr := newTransport(t, e.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := tr.Call(ctx, &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

// An endpoint that drops the connection after reading the request: the
// platform may have acted, so the error says the connection was lost.
func TestEndpointClosesConnection(t *testing.T) {
	e := newIVWS(t, func(w http.ResponseWriter, r *http.Request, _ request) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			t.Error("cannot hijack")
			return
		}
		c, _, err := hj.Hijack()
		if err == nil {
			c.Close()
		}
	})
	tr := newTransport(t, e.URL())
	err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil)
	if !errors.Is(err, ivclient.ErrConnectionLost) {
		t.Fatalf("err = %v, want ErrConnectionLost", err)
	}
	noKey(t, err)

	// A reply cut in the middle.
	e.setHandler(func(w http.ResponseWriter, r *http.Request, _ request) {
		w.Header().Set("Content-Length", "5000")
		w.WriteHeader(200)
		io.WriteString(w, envelope("<AgentLoginResponse>")[:200])
		w.(http.Flusher).Flush()
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
	})
	err = tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil)
	if !errors.Is(err, ivclient.ErrConnectionLost) {
		t.Fatalf("cut reply: err = %v, want ErrConnectionLost", err)
	}
}

// The endpoint is not listening: nothing was sent, and the error says so.
func TestEndpointUnreachable(t *testing.T) {
	addr := freeAddr(t)
	tr := newTransport(t, "http://"+addr+"/")
	err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil)
	if !errors.Is(err, soapx.ErrWSDL) || errors.Is(err, ivclient.ErrConnectionLost) {
		t.Fatalf("err = %v, want ErrWSDL", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("the dial error is not in the chain: %v", err)
	}
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A WSDL that cannot be had (endpoint down, HTTP error, not a WSDL) fails
// the call with ErrWSDL, and a later call fetches it again; gosoap's
// fetch-once-fail-forever does not reach the caller.
func TestWSDLUnavailableThenBack(t *testing.T) {
	t.Run("endpoint down, then up", func(t *testing.T) {
		addr := freeAddr(t)
		tr := newTransport(t, "http://"+addr+"/")
		req := &ivclient.Request{Method: "AgentLogin", Key: testKey}
		for i := 0; i < 2; i++ {
			if err := tr.Call(context.Background(), req, nil); !errors.Is(err, soapx.ErrWSDL) {
				t.Fatalf("down: err = %v", err)
			}
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("cannot listen again on %s: %v", addr, err)
		}
		e := &ivws{t: t, handler: result("0")}
		e.wsdl = func(address string) (int, string) { return 200, testWSDL("http://" + addr + "/") }
		e.srv = httptest.NewUnstartedServer(http.HandlerFunc(e.serve))
		e.srv.Listener.Close()
		e.srv.Listener = l
		e.srv.Start()
		defer e.srv.Close()
		if err := tr.Call(context.Background(), req, nil); err != nil {
			t.Fatalf("up: %v", err)
		}
	})
	t.Run("HTTP error and junk, then a WSDL", func(t *testing.T) {
		e := newIVWS(t, result("0"))
		tr := newTransport(t, e.URL())
		req := &ivclient.Request{Method: "AgentLogin", Key: testKey}
		for _, bad := range []struct {
			status int
			body   string
		}{{503, "busy"}, {200, "<html>not a wsdl</html>"}, {200, "<definitions"}, {200, ""}} {
			e.setWSDL(func(string) (int, string) { return bad.status, bad.body })
			err := tr.Call(context.Background(), req, nil)
			if !errors.Is(err, soapx.ErrWSDL) {
				t.Fatalf("%d %q: err = %v", bad.status, bad.body, err)
			}
		}
		e.setWSDL(func(address string) (int, string) { return 200, testWSDL(address) })
		for i := 0; i < 3; i++ {
			if err := tr.Call(context.Background(), req, nil); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
		}
		if n := e.wsdlHits.Load(); n != 5 {
			t.Errorf("WSDL fetched %d times, want 5 (4 failures, then once)", n)
		}
		if n := e.posts.Load(); n != 3 {
			t.Errorf("%d POSTs, want 3", n)
		}
	})
}

// Many calls arriving together before the WSDL is known fetch it once.
func TestWSDLFetchedOnceUnderConcurrency(t *testing.T) {
	e := newIVWS(t, result("0"))
	e.setWSDL(func(address string) (int, string) {
		time.Sleep(50 * time.Millisecond)
		return 200, testWSDL(address)
	})
	tr := newTransport(t, e.URL())
	var wg sync.WaitGroup
	errc := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil)
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.wsdlHits.Load(); n != 1 {
		t.Errorf("WSDL fetched %d times", n)
	}
}

// Requests go to the configured endpoint even when the WSDL advertises a
// host the client cannot reach (gosoap#75); WSDLs that lack the parts
// gosoap indexes blindly (types, binding, service: gosoap#25, #36) do not
// panic.
func TestWSDLVariants(t *testing.T) {
	wsdls := map[string]func(address string) string{
		"other host": func(string) string { return testWSDL("http://ivws.unreachable.invalid:7789/") },
		"no address": func(string) string {
			return `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" targetNamespace="Ivws.Ivws"><portType name="p"><operation name="AgentLogin"/></portType></definitions>`
		},
		"types without schema": func(string) string {
			return `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" targetNamespace="Ivws.Ivws"><types/><service name="s"><port name="p"/></service></definitions>`
		},
		"bare": func(string) string { return `<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"/>` },
	}
	for name, w := range wsdls {
		t.Run(name, func(t *testing.T) {
			e := newIVWS(t, result("0"))
			e.setWSDL(func(address string) (int, string) { return 200, w(address) })
			tr := newTransport(t, e.URL())
			if err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil); err != nil {
				t.Fatal(err)
			}
			if got := e.last(); got.Namespace != "Ivws.Ivws" || got.Method != "AgentLogin" {
				t.Errorf("request %s in %q", got.Method, got.Namespace)
			}
		})
	}
	t.Run("namespace option", func(t *testing.T) {
		e := newIVWS(t, result("0"))
		tr := newTransport(t, e.URL(), soapx.WithNamespace("urn:other"))
		if err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil); err != nil {
			t.Fatal(err)
		}
		if ns := e.last().Namespace; ns != "urn:other" {
			t.Errorf("namespace %q", ns)
		}
	})
	t.Run("operation not in WSDL", func(t *testing.T) {
		e := newIVWS(t, result("0"))
		tr := newTransport(t, e.URL())
		err := tr.Call(context.Background(), &ivclient.Request{Method: "NoSuchMethod", Key: testKey}, nil)
		if !errors.Is(err, ivclient.ErrNotSupported) {
			t.Fatalf("err = %v", err)
		}
	})
}

// The access key never appears in an error text or a log line, even when
// the endpoint echoes it back.
func TestKeyNeverInErrorsOrLogs(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newIVWS(t, nil)
	tr := newTransport(t, e.URL(), soapx.WithLogger(log))
	handlers := []func(http.ResponseWriter, *http.Request, request){
		fault(500, "SOAP-ENV:Client", "PERMISSION_DENIED: key "+testKey+" may not call AgentLogin", "<key>"+testKey+"</key><description>key "+testKey+"</description>"),
		fault(200, "SOAP-ENV:"+testKey, "bad key "+testKey, ""),
		func(w http.ResponseWriter, r *http.Request, req request) {
			w.WriteHeader(500)
			w.Write(req.Body) // echo the whole request, key included
		},
		func(w http.ResponseWriter, r *http.Request, req request) {
			w.WriteHeader(200)
			io.WriteString(w, "<broken "+testKey) // malformed
		},
		result(`<code>9</code><description>key ` + testKey + ` refused</description>`),
		func(w http.ResponseWriter, r *http.Request, req request) {
			w.Header().Set("Content-Type", "text/xml")
			io.WriteString(w, envelope("<AgentInfoResponse><AgentInfoResult><"+testKey+">1</"+testKey+"></AgentInfoResult></AgentInfoResponse>"))
		},
	}
	for i, h := range handlers {
		e.setHandler(h)
		var out []int // cannot hold an object: decode error
		err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey, Args: &loginArgs{"default", testKey, "x"}}, &out)
		if err == nil {
			t.Fatalf("handler %d: no error", i)
		}
		noKey(t, err)
		var f *soapx.Fault
		if errors.As(err, &f) {
			for _, s := range []string{f.Code, f.String, f.Detail} {
				if strings.Contains(s, testKey) {
					t.Errorf("fault field holds the key: %q", s)
				}
			}
		}
		var ce *codes.Error
		if errors.As(err, &ce) && strings.Contains(ce.Description, testKey) {
			t.Errorf("codes.Error description holds the key: %q", ce.Description)
		}
	}
	if strings.Contains(logs.String(), testKey) {
		t.Errorf("a log line holds the key:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "WSDL loaded") {
		t.Errorf("no debug log written:\n%s", logs.String())
	}
}

// Basic credentials go with the WSDL request and every call; credentials in
// the endpoint URL are used the same way and never printed.
func TestBasicAuth(t *testing.T) {
	var sawWSDLAuth atomic.Bool
	e := newIVWSWith(t, func(w http.ResponseWriter, r *http.Request, req request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ivuser" || p != "pa:ss" {
			w.WriteHeader(401)
			return
		}
		result("0")(w, r, req)
	}, func(e *ivws) {
		e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				u, p, ok := r.BasicAuth()
				sawWSDLAuth.Store(ok && u == "ivuser" && p == "pa:ss")
			}
			e.serve(w, r)
		})
	})
	tr := newTransport(t, e.URL(), soapx.WithBasicAuth("ivuser", "pa:ss"))
	if err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil); err != nil {
		t.Fatal(err)
	}
	if !sawWSDLAuth.Load() {
		t.Error("the WSDL request carried no credentials")
	}

	withUser := strings.Replace(e.URL(), "http://", "http://ivuser:pa%3Ass@", 1)
	tr2 := newTransport(t, withUser)
	if err := tr2.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tr2.Endpoint(), "pa") {
		t.Errorf("Endpoint() = %q holds the password", tr2.Endpoint())
	}
	tr3 := newTransport(t, strings.Replace(e.URL(), "http://", "http://ivuser:wrong@", 1))
	err := tr3.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil)
	var he *soapx.HTTPError
	if !errors.As(err, &he) || he.StatusCode != 401 || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong password: %v", err)
	}
}

// Close fails calls in flight and later calls with ErrClosed.
func TestClose(t *testing.T) {
	entered := make(chan struct{})
	e := newIVWS(t, func(w http.ResponseWriter, r *http.Request, req request) {
		close(entered)
		<-r.Context().Done()
	})
	tr, err := soapx.New(e.URL())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Call(context.Background(), &ivclient.Request{Method: "Slow", Key: testKey}, nil) }()
	<-entered
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ivclient.ErrClosed) {
			t.Fatalf("in-flight call: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("in-flight call did not end on Close")
	}
	if err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil); !errors.Is(err, ivclient.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// The HTTP client's Timeout bounds each call.
func TestHTTPClientTimeout(t *testing.T) {
	e := newIVWS(t, func(w http.ResponseWriter, r *http.Request, req request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	st := newTransport(t, e.URL(), soapx.WithHTTPClient(&http.Client{Transport: tr, Timeout: 200 * time.Millisecond}))
	start := time.Now()
	err := st.Call(context.Background(), &ivclient.Request{Method: "Slow", Key: testKey}, nil)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

// Many goroutines share one transport; each gets its own reply.
func TestConcurrentCalls(t *testing.T) {
	e := newIVWS(t, func(w http.ResponseWriter, r *http.Request, req request) {
		var user string
		for _, p := range req.Params {
			if p.Name == "user" {
				user = p.Text
			}
		}
		result(`<user xsi:type="xs:string">`+user+`</user>`)(w, r, req)
	})
	tr := newTransport(t, e.URL())
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				user := fmt.Sprintf("%d_%d", g, i)
				var info ivclient.AgentInfo
				args := struct {
					User string `xml:"user"`
				}{user}
				if err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentInfo", Key: testKey, Args: args}, &info); err != nil {
					t.Error(err)
					return
				}
				if info.User != user {
					t.Errorf("asked %s, got %s", user, info.User)
				}
			}
		}(g)
	}
	wg.Wait()
}

// A reply larger than the maximum is refused.
func TestMaxReplySize(t *testing.T) {
	e := newIVWS(t, result(`<user>`+strings.Repeat("x", 10000)+`</user>`))
	tr := newTransport(t, e.URL(), soapx.WithMaxReplySize(4000))
	// The test WSDL is about 3.6 kB.
	err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentInfo", Key: testKey}, nil)
	if !errors.Is(err, ivclient.ErrMalformedReply) {
		t.Fatalf("err = %v", err)
	}
	e.setHandler(func(w http.ResponseWriter, r *http.Request, req request) {
		w.WriteHeader(500)
		io.WriteString(w, strings.Repeat("y", 10000))
	})
	err = tr.Call(context.Background(), &ivclient.Request{Method: "AgentInfo", Key: testKey}, nil)
	var he *soapx.HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("oversized 500: %v", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	bad := map[string]struct {
		endpoint string
		opts     []soapx.Option
	}{
		"scheme":      {"ftp://acd:7789/", nil},
		"no host":     {"http:///x", nil},
		"query":       {"http://acd:7789/?wsdl", nil},
		"garbage":     {"http://[::1", nil},
		"nil client":  {"http://acd:7789/", []soapx.Option{soapx.WithHTTPClient(nil)}},
		"nil logger":  {"http://acd:7789/", []soapx.Option{soapx.WithLogger(nil)}},
		"empty user":  {"http://acd:7789/", []soapx.Option{soapx.WithBasicAuth("", "x")}},
		"colon user":  {"http://acd:7789/", []soapx.Option{soapx.WithBasicAuth("a:b", "x")}},
		"empty ns":    {"http://acd:7789/", []soapx.Option{soapx.WithNamespace(" ")}},
		"zero size":   {"http://acd:7789/", []soapx.Option{soapx.WithMaxReplySize(0)}},
		"nil option":  {"http://acd:7789/", []soapx.Option{nil}},
		"secret junk": {"http://u:" + testKey + "@[::1", nil},
	}
	for name, c := range bad {
		_, err := soapx.New(c.endpoint, c.opts...)
		if !errors.Is(err, ivclient.ErrInvalidArgument) {
			t.Errorf("%s: %v, want an error matching ivclient.ErrInvalidArgument", name, err)
		}
		noKey(t, err)
	}
	tr, err := soapx.New("http://acd:7789")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if tr.Endpoint() != "http://acd:7789/" {
		t.Errorf("Endpoint() = %q", tr.Endpoint())
	}
}

// soapx is an ivclient.Transport: the typed client works over it.
func TestTypedClientOverSOAP(t *testing.T) {
	e := newIVWS(t, nil)
	tr := newTransport(t, e.URL())
	c, err := ivclient.New(tr, testKey, ivclient.KeepTransportOpen())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	e.setHandler(result(`<integer xsi:type="xs:integer">('0001',)</integer>`))
	names, err := c.QueueList(ctx, "default")
	if err != nil || !reflect.DeepEqual(names, []string{"0001"}) {
		t.Fatalf("QueueList with one tuple item: %q, %v", names, err)
	}
	e.setHandler(func(w http.ResponseWriter, r *http.Request, req request) {
		reply(200, `<QueueListResponse><QueueListResult type="tns:integerArray"/></QueueListResponse>`)(w, r, req)
	})
	names, err = c.QueueList(ctx, "default")
	if err != nil || len(names) != 0 {
		t.Fatalf("empty QueueList: %q, %v", names, err)
	}
	e.setHandler(result(`<code xsi:type="xs:integer">0</code><location xsi:type="xs:string">123</location>`))
	loc, err := c.AgentInfoPermission(ctx, "default", "1001")
	if err != nil || loc != "123" {
		t.Fatalf("AgentInfoPermission: %q, %v", loc, err)
	}
	e.setHandler(fault(500, "SOAP-ENV:Client", "RESPONSE_NOT_FOUND", ""))
	if _, err := c.AgentInfo(ctx, "default", "1001"); !errors.Is(err, codes.ErrNotFound) {
		t.Fatalf("AgentInfo fault: %v", err)
	}
	e.setHandler(result("0"))
	if err := c.AgentLineAdd(ctx, "default", "0001", ivclient.Line{Number: 1, Inbound: ptr(false)}, ivclient.Line{Number: 2}); err != nil {
		t.Fatal(err)
	}
	want := []string{"key=" + testKey, "accountcode=default", "user=0001", "lines{line1{linenumber=1 inbound=0} line2{linenumber=2}}"}
	if got := e.last().names(); !reflect.DeepEqual(got, want) {
		t.Errorf("AgentLineAdd sent %q", got)
	}
	var _ ivclient.Transport = tr
	_ = json.Valid
}

// An endpoint that redirects its POSTs (307) is followed; the call's
// context and credentials go along.
func TestRedirectedEndpoint(t *testing.T) {
	e := newIVWSWith(t, result("0"), func(e *ivws) {
		inner := e.srv.Config.Handler
		e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/" {
				http.Redirect(w, r, "/ivws", http.StatusTemporaryRedirect)
				return
			}
			inner.ServeHTTP(w, r)
		})
	})
	tr := newTransport(t, e.URL())
	if err := tr.Call(context.Background(), &ivclient.Request{Method: "AgentLogin", Key: testKey}, nil); err != nil {
		t.Fatal(err)
	}
	if n := e.posts.Load(); n != 1 {
		t.Errorf("%d POSTs reached the handler", n)
	}
}
