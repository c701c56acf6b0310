package fakeivws

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"

	"github.com/instantvoice/instantvoice-go/codes"
)

// maxSOAPRequest bounds the size of a request body.
const maxSOAPRequest = 4 << 20

// A Platform is what the endpoint serves: the fake platform's methods, its
// request log and its fault injection.
type Platform interface {
	// Received counts one POST, before its body is read.
	Received()
	// Malformed records a request that is not a SOAP envelope.
	Malformed(key string, body []byte)
	// Serve runs method for key, records the request (body as received)
	// and returns the reply: a payload, or for a non-zero code its
	// description.
	Serve(method, key string, args map[string]any, body []byte) (codes.Code, any)
	// Hold applies DropReplies and DelayReplies to the reply to method;
	// gone is closed when the client goes away, closing when the endpoint
	// closes (which ends a delay).
	Hold(method string, gone, closing <-chan struct{}) Hold
}

// Hold is what Platform.Hold did with a reply.
type Hold int

// What Platform.Hold did with a reply.
const (
	Send      Hold = iota
	Dropped        // DropReplies: withheld until the client gives up or the endpoint closes
	Abandoned      // the client gave up while DelayReplies held it
)

// A Server is a running IVWS endpoint.
type Server struct {
	p    Platform
	srv  *httptest.Server
	url  string
	desc *ivws // the operations and result types
	wsdl []byte
	stop chan struct{} // closed by Close: releases withheld replies
	once sync.Once
}

// Start serves p's IVWS endpoint on addr ("127.0.0.1:0" or "" for a free
// loopback port).
func Start(addr string, p Platform) (*Server, error) {
	s := &Server{p: p, desc: newIVWS(), stop: make(chan struct{})}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if addr != "" && addr != "127.0.0.1:0" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			s.srv.Close()
			return nil, fmt.Errorf("ivtest: IVWS endpoint: %w", err)
		}
		s.srv.Listener.Close()
		s.srv.Listener = l
	}
	// Everything the handler reads is set before Start.
	s.url = "http://" + s.srv.Listener.Addr().String() + "/"
	s.wsdl = s.desc.document(s.url)
	s.srv.Start()
	return s, nil
}

// URL returns the endpoint, "http://127.0.0.1:port/".
func (s *Server) URL() string { return s.url }

// Close releases withheld replies, then closes the server, waiting for
// its requests to end. It is idempotent.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.stop)
		s.srv.Close()
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if _, ok := wsdlQuery(r.URL.RawQuery); !ok {
			http.Error(w, "IVWS: the WSDL is at ?wsdl; operations are POSTed", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(s.wsdl)))
		if r.Method == http.MethodGet {
			w.Write(s.wsdl)
		}
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}

	s.p.Received()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSOAPRequest+1))
	if err != nil {
		return // the client went away
	}
	if len(body) > maxSOAPRequest {
		writeFault(w, "SOAP-ENV:Client", "request too large", "")
		return
	}
	method, key, args, err := parseSOAPRequest(body)
	if err != nil {
		s.p.Malformed(key, body)
		writeFault(w, "SOAP-ENV:Client", "malformed SOAP request: "+err.Error(), "")
		return
	}
	code, payload := s.p.Serve(method, key, args, body)

	switch s.p.Hold(method, r.Context().Done(), s.stop) {
	case Dropped:
		panic(http.ErrAbortHandler) // close the connection without a response
	case Abandoned:
		return
	}
	if code != codes.OK {
		desc, _ := payload.(string)
		s.desc.writeFailure(w, method, code, desc)
		return
	}
	s.desc.writeResult(w, method, forSOAP(method, args, payload))
}
