// Package fakeivws is the IVWS (SOAP 1.1) endpoint of the fake
// InstantVoice platform: it serves the WSDL at ?wsdl and answers each
// POSTed operation through a Platform, the same state and methods the
// STOMP side serves (internal/fakeplatform provides it).
//
// server.go is the HTTP side: Start, Server and the Platform it serves.
// soap.go reads requests and writes replies in the reference's XML style
// (its opening comment lists where they differ from the JSON replies).
// wsdl.go describes the 41 operations and their result types, and builds
// the WSDL from that description.
package fakeivws
