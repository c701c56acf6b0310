package fakeplatform

import (
	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/internal/fakeivws"
)

// ivwsSide is the platform as its IVWS endpoint sees it: the same state
// and request log as the STOMP side, DropReplies and DelayReplies (a
// ReplyFunc rewrites STOMP reply bodies only).
type ivwsSide struct{ p *Platform }

var _ fakeivws.Platform = ivwsSide{}

func (s ivwsSide) Received() { s.p.stats.soapRequests.Add(1) }

func (s ivwsSide) Malformed(key string, body []byte) {
	s.p.record(Request{Body: body, Key: key, Code: codes.Invalid, Description: "malformed SOAP request", Transport: transportSOAP})
}

func (s ivwsSide) Serve(method, key string, args map[string]any, body []byte) (codes.Code, any) {
	code, payload, lenient := s.p.handle(method, key, transportSOAP, args)
	s.p.recordServed(Request{Method: method, Key: key, Args: args, Body: body, Transport: transportSOAP, Lenient: lenient}, code, payload)
	return code, payload
}

func (s ivwsSide) Hold(method string, gone, closing <-chan struct{}) fakeivws.Hold {
	return s.p.holdSOAPReply(method, gone, closing)
}
