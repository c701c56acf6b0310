package soapx_test

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/instantvoice/instantvoice-go/soapx"
)

// testKey is the access key of the tests; no error text may hold it.
const testKey = "SeCr3tK3y0042"

// ivws is a scripted IVWS endpoint: it serves a WSDL and hands each POST to
// a handler, recording what it received.
type ivws struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	wsdl     func(address string) (status int, body string)
	handler  func(w http.ResponseWriter, r *http.Request, req request)
	requests []request

	wsdlHits atomic.Int32
	posts    atomic.Int32
}

// request is one POST as the endpoint saw it.
type request struct {
	Method     string // the body's first element
	Namespace  string
	SOAPAction string
	Auth       string
	Body       []byte
	Params     []param // the children of the method element, in order
}

type param struct {
	Name  string
	Space string
	Text  string
	Kids  []param
}

func newIVWS(t testing.TB, handler func(w http.ResponseWriter, r *http.Request, req request)) *ivws {
	return newIVWSWith(t, handler, nil)
}

// newIVWSWith lets configure set up the server before it starts.
func newIVWSWith(t testing.TB, handler func(w http.ResponseWriter, r *http.Request, req request), configure func(*ivws)) *ivws {
	t.Helper()
	e := &ivws{t: t, handler: handler}
	e.wsdl = func(address string) (int, string) { return 200, testWSDL(address) }
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(e.serve))
	if configure != nil {
		configure(e)
	}
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

func (e *ivws) URL() string { return e.srv.URL + "/" }

func (e *ivws) setWSDL(f func(address string) (int, string)) {
	e.mu.Lock()
	e.wsdl = f
	e.mu.Unlock()
}

func (e *ivws) setHandler(h func(w http.ResponseWriter, r *http.Request, req request)) {
	e.mu.Lock()
	e.handler = h
	e.mu.Unlock()
}

func (e *ivws) last() request {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.requests) == 0 {
		e.t.Fatal("no request received")
	}
	return e.requests[len(e.requests)-1]
}

func (e *ivws) serve(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	wsdl, handler := e.wsdl, e.handler
	e.mu.Unlock()
	if r.Method == http.MethodGet && r.URL.RawQuery == "wsdl" {
		e.wsdlHits.Add(1)
		status, body := wsdl(e.URL())
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		io.WriteString(w, body)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	e.posts.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	req := parseRequest(body)
	req.SOAPAction = r.Header.Get("SOAPAction")
	req.Auth = r.Header.Get("Authorization")
	e.mu.Lock()
	e.requests = append(e.requests, req)
	e.mu.Unlock()
	handler(w, r, req)
}

// parseRequest reads a SOAP request envelope the way a server would.
func parseRequest(body []byte) request {
	req := request{Body: body}
	dec := xml.NewDecoder(strings.NewReader(string(body)))
	var stack []*param
	var root param
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 3 { // Envelope, Body, Method
				req.Method, req.Namespace = t.Name.Local, t.Name.Space
				stack = []*param{&root}
				continue
			}
			if depth > 3 {
				parent := stack[len(stack)-1]
				parent.Kids = append(parent.Kids, param{Name: t.Name.Local, Space: t.Name.Space})
				stack = append(stack, &parent.Kids[len(parent.Kids)-1])
			}
		case xml.EndElement:
			if depth > 3 {
				stack = stack[:len(stack)-1]
			}
			depth--
		case xml.CharData:
			if depth > 3 {
				stack[len(stack)-1].Text += string(t)
			}
		}
	}
	req.Params = root.Kids
	return req
}

// names returns "name=text" for each top-level parameter, nested ones as
// name{...}.
func (r request) names() []string {
	var out []string
	for _, p := range r.Params {
		out = append(out, p.String())
	}
	return out
}

func (p param) String() string {
	if len(p.Kids) == 0 {
		return p.Name + "=" + strings.TrimSpace(p.Text)
	}
	var kids []string
	for _, k := range p.Kids {
		kids = append(kids, k.String())
	}
	return p.Name + "{" + strings.Join(kids, " ") + "}"
}

// testOperations are the operations of the test WSDL.
var testOperations = []string{"AgentLogin", "AgentInfo", "AgentLineAdd", "QueueAdd", "QueueList",
	"AgentInfoPermission", "AgentList", "AgentLineList", "Slow", "Echo", "NewCallBack", "Odd"}

// testWSDL is a small document/literal WSDL 1.1 document in the IVWS style.
func testWSDL(address string) string { return testWSDLWith(address, testOperations) }

// testWSDLWith is testWSDL with other operations.
func testWSDLWith(address string, ops []string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
  xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="Ivws.Ivws" targetNamespace="Ivws.Ivws" name="Ivws">
 <wsdl:types><xs:schema targetNamespace="Ivws.Ivws" elementFormDefault="qualified"/></wsdl:types>
 <wsdl:portType name="IvwsPort">`)
	for _, op := range ops {
		fmt.Fprintf(&b, `<wsdl:operation name="%s"><wsdl:input message="tns:%s"/><wsdl:output message="tns:%sResponse"/></wsdl:operation>`, op, op, op)
	}
	b.WriteString(`</wsdl:portType>
 <wsdl:binding name="IvwsBinding" type="tns:IvwsPort"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>`)
	for _, op := range ops {
		fmt.Fprintf(&b, `<wsdl:operation name="%s"><soap:operation soapAction="%s" style="document"/></wsdl:operation>`, op, op)
	}
	fmt.Fprintf(&b, `</wsdl:binding>
 <wsdl:service name="Ivws"><wsdl:port name="IvwsPort" binding="tns:IvwsBinding"><soap:address location="%s"/></wsdl:port></wsdl:service>
</wsdl:definitions>`, address)
	return b.String()
}

// envelope wraps a Body's content in the envelope the reference's replies use.
func envelope(inner string) string {
	return `<SOAP-ENV:Envelope xmlns:plnk="http://schemas.xmlsoap.org/ws/2003/05/partner-link/"
 xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/1999/XMLSchema-instance" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns="Ivws.Ivws"><SOAP-ENV:Body>` + inner + `</SOAP-ENV:Body></SOAP-ENV:Envelope>`
}

// reply answers with status and the envelope around inner.
func reply(status int, inner string) func(http.ResponseWriter, *http.Request, request) {
	return func(w http.ResponseWriter, _ *http.Request, _ request) {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, envelope(inner))
	}
}

// result answers <MethodResponse><MethodResult>inner</MethodResult></MethodResponse>.
func result(inner string) func(http.ResponseWriter, *http.Request, request) {
	return func(w http.ResponseWriter, r *http.Request, req request) {
		reply(200, fmt.Sprintf("<%sResponse><%sResult>%s</%sResult></%sResponse>",
			req.Method, req.Method, inner, req.Method, req.Method))(w, r, req)
	}
}

// fault answers a SOAP 1.1 fault.
func fault(status int, code, str, detail string) func(http.ResponseWriter, *http.Request, request) {
	inner := "<SOAP-ENV:Fault><faultcode>" + code + "</faultcode><faultstring>" + str + "</faultstring>"
	if detail != "" {
		inner += "<detail>" + detail + "</detail>"
	}
	inner += "</SOAP-ENV:Fault>"
	return reply(status, inner)
}

func newTransport(t testing.TB, endpoint string, opts ...soapx.Option) *soapx.Transport {
	t.Helper()
	tr, err := soapx.New(endpoint, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// noKey fails the test when err's text holds the test key.
func noKey(t testing.TB, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testKey) {
		t.Fatalf("error text holds the access key: %v", err)
	}
}
