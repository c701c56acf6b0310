package fakeivws

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/internal/wire"
)

// The IVWS (SOAP) endpoint of the fake platform.
//
// GET ?wsdl serves the WSDL of wsdl.go. A POST is a SOAP 1.1 request: the
// Body's first element names the operation, its <key> child is the access
// key and its other children are the arguments, answered by Platform.Serve from
// the same state the STOMP processor uses:
//
//   - arguments are passed as the text of their elements, under their XML
//     names (passwd, call_limit, ignoreexpire, User for NewCall, ...), which
//     handle accepts as aliases; an element marked nil is left out; an
//     element with children (<lines><line1>...</line1></lines>) becomes a
//     map of item name to item (a list when item names repeat);
//   - success is answered in the reference's XML style: <XResponse>
//     <XResult>, xsi:type attributes (in the 1999 XML Schema instance
//     namespace the reference declares) that follow the WSDL's types,
//     xs:nil="1" for null, lists as type="tns:integerArray" with <integer>
//     items (SipUserList's as Python tuple text, ('0001',)) or <AgentLines>,
//     <AgentQueues>, <QueueMembers> items, the XML-only field names passwd,
//     agents_id, requisendinfo, call_limit and ignoreexpire, {code,
//     location} for the *InfoPermission methods, and a return code of 0 for
//     the methods that return nothing (see forSOAP for where the XML
//     replies differ from the JSON ones);
//   - a non-zero return code ("All methods return 0 on success", and the
//     reference shows codes inside results) is the xs:integer result of the
//     action methods and the <code> of the *InfoPermission methods, with
//     HTTP 200; the Info and List methods, whose results hold no code,
//     answer it with HTTP 500 and a SOAP fault: faultcode
//     SOAP-ENV:Client.<CODE NAME> (SOAP-ENV:Server.<CODE NAME> for
//     RESPONSE_NO_MEMORY, RESPONSE_UNDEFINED, RESPONSE_INTERNAL_ERROR and
//     DAC_OFFLINE), faultstring "<CODE NAME>: <description>", such as
//     "RESPONSE_NOT_FOUND: Agent 1001 not found", and a detail holding
//     <code>, <name> and <description>. soapx turns the first into a
//     *codes.Error and the second into a *soapx.Fault that unwraps to one;
//   - a request that is not a SOAP envelope gets a SOAP-ENV:Client fault
//     naming no code.
//
// DropReplies applies: the request is acted on, and the reply is withheld
// until the client gives up (the connection is then dropped without a
// response) or the platform closes. Requests records every request; a
// ReplyFunc, which rewrites STOMP reply bodies, does not apply here.

// wsdlQuery reports whether the query asks for the WSDL ("wsdl", "WSDL",
// "wsdl=").
func wsdlQuery(q string) (string, bool) {
	for _, part := range strings.Split(q, "&") {
		k, _, _ := strings.Cut(part, "=")
		if strings.EqualFold(k, "wsdl") {
			return k, true
		}
	}
	return "", false
}

// ---- Requests ----

// xelem is an element of a request.
type xelem struct {
	name  string
	text  strings.Builder
	kids  []*xelem
	isNil bool
}

// parseSOAPRequest reads Envelope/Body/<Method> and its children.
func parseSOAPRequest(body []byte) (method, key string, args map[string]any, err error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	root := &xelem{}
	stack := []*xelem{root}
	for {
		tok, terr := dec.Token()
		if terr == io.EOF {
			break
		}
		if terr != nil {
			return "", "", nil, terr
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > 32 {
				return "", "", nil, errors.New("elements nested too deep")
			}
			e := &xelem{name: t.Name.Local}
			for _, a := range t.Attr {
				if a.Name.Local == "nil" && (a.Value == "1" || a.Value == "true") {
					e.isNil = true
				}
			}
			parent := stack[len(stack)-1]
			parent.kids = append(parent.kids, e)
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 1 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	env := root.child("Envelope")
	if env == nil {
		return "", "", nil, errors.New("no SOAP Envelope")
	}
	bodyEl := env.child("Body")
	if bodyEl == nil || len(bodyEl.kids) == 0 {
		return "", "", nil, errors.New("no operation in the SOAP Body")
	}
	op := bodyEl.kids[0]
	args = make(map[string]any, len(op.kids))
	for _, k := range op.kids {
		if k.name == "key" {
			key = strings.TrimSpace(k.text.String())
			continue
		}
		if k.isNil {
			continue
		}
		args[k.name] = k.value()
	}
	return op.name, key, args, nil
}

func (e *xelem) child(name string) *xelem {
	for _, k := range e.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

// value is the argument an element stands for: its text, or for an element
// with children a map of child name to value (a list when names repeat).
func (e *xelem) value() any {
	if len(e.kids) == 0 {
		return e.text.String()
	}
	seen := make(map[string]bool, len(e.kids))
	repeated := false
	for _, k := range e.kids {
		if seen[k.name] {
			repeated = true
		}
		seen[k.name] = true
	}
	if repeated {
		list := make([]any, 0, len(e.kids))
		for _, k := range e.kids {
			if !k.isNil {
				list = append(list, k.value())
			}
		}
		return list
	}
	m := make(map[string]any, len(e.kids))
	for _, k := range e.kids {
		if !k.isNil {
			m[k.name] = k.value()
		}
	}
	return m
}

// ---- Replies ----

const envelopeStart = `<?xml version="1.0" encoding="utf-8"?>` + "\n" +
	`<SOAP-ENV:Envelope xmlns:plnk="http://schemas.xmlsoap.org/ws/2003/05/partner-link/"` +
	` xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/"` +
	` xmlns:xs="http://www.w3.org/2001/XMLSchema"` +
	` xmlns:xsi="http://www.w3.org/1999/XMLSchema-instance"` +
	` xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"` +
	` xmlns="` + ivwsNamespace + `"><SOAP-ENV:Body>`

const envelopeEnd = `</SOAP-ENV:Body></SOAP-ENV:Envelope>` + "\n"

func writeEnvelope(w http.ResponseWriter, status int, inner []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(envelopeStart)+len(inner)+len(envelopeEnd)))
	w.WriteHeader(status)
	io.WriteString(w, envelopeStart)
	w.Write(inner)
	io.WriteString(w, envelopeEnd)
}

// writeFault answers a SOAP 1.1 fault with HTTP 500. The fault's children
// are unqualified, as SOAP 1.1 wants: the default namespace is undeclared.
func writeFault(w http.ResponseWriter, faultcode, faultstring, detail string) {
	var b bytes.Buffer
	b.WriteString(`<SOAP-ENV:Fault xmlns=""><faultcode>`)
	escape(&b, faultcode)
	b.WriteString(`</faultcode><faultstring>`)
	escape(&b, faultstring)
	b.WriteString(`</faultstring>`)
	if detail != "" {
		b.WriteString(`<detail>`)
		b.WriteString(detail)
		b.WriteString(`</detail>`)
	}
	b.WriteString(`</SOAP-ENV:Fault>`)
	writeEnvelope(w, http.StatusInternalServerError, b.Bytes())
}

// writeFailure answers a non-zero return code the way the reference shows
// results ("All methods return 0 on success", and codes inside results):
//
//   - a method whose result is its return code (the action methods) gets
//     that code as its xs:integer result, with HTTP 200;
//   - AgentInfoPermission and SipUserInfoPermission get {code, location}
//     with the code and a nil location;
//   - the Info and List methods, whose result has no room for a code, and
//     an operation the endpoint does not know, get a SOAP fault that names
//     the code (writeCodeFault).
func (d *ivws) writeFailure(w http.ResponseWriter, method string, code codes.Code, desc string) {
	op, ok := d.ops[method]
	if !ok {
		writeCodeFault(w, code, desc)
		return
	}
	var b bytes.Buffer
	switch op.result {
	case resultCode:
		b.WriteString("<" + method + "Response><" + method + `Result xsi:type="xs:integer">`)
		b.WriteString(strconv.Itoa(int(code)))
		b.WriteString("</" + method + "Result></" + method + "Response>")
	case resultPermission:
		b.WriteString("<" + method + "Response><" + method + `Result><code xsi:type="xs:integer">`)
		b.WriteString(strconv.Itoa(int(code)))
		b.WriteString(`</code><location xs:nil="1"/></` + method + "Result></" + method + "Response>")
	default:
		writeCodeFault(w, code, desc)
		return
	}
	writeEnvelope(w, http.StatusOK, b.Bytes())
}

// writeCodeFault answers a non-zero return code as a SOAP fault whose
// faultcode names it, SOAP-ENV:Client.RESPONSE_NOT_FOUND (Server for the
// codes that say the server failed), so that a SOAP client can dispatch on
// the faultcode alone; the faultstring and the detail name it too.
func writeCodeFault(w http.ResponseWriter, code codes.Code, desc string) {
	faultcode := "SOAP-ENV:Client."
	switch code {
	case codes.NoMemory, codes.Undefined, codes.InternalError, codes.DACOffline:
		faultcode = "SOAP-ENV:Server."
	}
	faultcode += code.String()
	str := code.String()
	if desc != "" {
		str += ": " + desc
	}
	var d bytes.Buffer
	d.WriteString(`<code xsi:type="xs:integer">`)
	d.WriteString(strconv.Itoa(int(code)))
	d.WriteString(`</code><name xsi:type="xs:string">`)
	escape(&d, code.String())
	d.WriteString(`</name>`)
	if desc != "" {
		d.WriteString(`<description xsi:type="xs:string">`)
		escape(&d, desc)
		d.WriteString(`</description>`)
	}
	writeFault(w, faultcode, str, d.String())
}

// writeResult answers a success.
func (d *ivws) writeResult(w http.ResponseWriter, method string, payload any) {
	op, ok := d.ops[method]
	if !ok {
		op = soapOp{result: resultCode}
	}
	var b bytes.Buffer
	b.WriteString("<" + method + "Response><" + method + "Result")
	switch op.result {
	case resultCode:
		b.WriteString(` xsi:type="xs:integer">0`)
	case resultIntegers, resultTuples:
		b.WriteString(` type="tns:` + op.arrayType() + `">`)
		list, _ := payload.([]any)
		for _, it := range list {
			s, _ := wire.ScalarText(it)
			if op.result == resultTuples {
				s = "('" + s + "',)"
			}
			b.WriteString(`<integer xsi:type="xs:integer">`)
			escape(&b, s)
			b.WriteString(`</integer>`)
		}
	case resultObject:
		b.WriteString(">")
		m, _ := payload.(map[string]any)
		writeFields(&b, d.types[op.typ], m)
	case resultObjects:
		b.WriteString(` type="tns:` + op.arrayType() + `">`)
		list, _ := payload.([]any)
		for _, it := range list {
			m, _ := it.(map[string]any)
			b.WriteString("<" + op.typ + ">")
			writeFields(&b, d.types[op.typ], m)
			b.WriteString("</" + op.typ + ">")
		}
	case resultPermission:
		b.WriteString(`><code xsi:type="xs:integer">0</code>`)
		writeScalar(&b, "location", payload)
	}
	b.WriteString("</" + method + "Result></" + method + "Response>")
	writeEnvelope(w, http.StatusOK, b.Bytes())
}

// forSOAP turns a success payload, which has the STOMP replies' fields,
// into what the reference's IVWS replies show where the two differ:
//
//   - AgentInfo's user and QueueInfo's name are the bare number
//     (<user>0001</user>, <name>1000</name>); the STOMP replies, and
//     SipUserInfo's name in both, carry "<accountcode>_<number>";
//   - each AgentLineList item carries the agent's accountcode, and a
//     linestatusts of 0 (no status change yet) is nil, <linestatusts
//     xs:nil="1"/>, where the JSON reply shows 0.
func forSOAP(method string, args map[string]any, payload any) any {
	switch method {
	case "AgentInfo", "QueueInfo":
		m, _ := payload.(map[string]any)
		field := map[string]string{"AgentInfo": "user", "QueueInfo": "name"}[method]
		v, ok := m[field].(string)
		ac, _ := m["accountcode"].(string)
		if !ok || ac == "" || !strings.HasPrefix(v, ac+"_") {
			return payload
		}
		out := copyMap(m)
		out[field] = strings.TrimPrefix(v, ac+"_")
		return out
	case "AgentLineList":
		list, _ := payload.([]any)
		var ac string
		for k, v := range args { // the lookup succeeded: this is the agent's accountcode
			if strings.EqualFold(k, "accountcode") {
				ac, _ = wire.ScalarText(v)
			}
		}
		out := make([]any, 0, len(list))
		for _, it := range list {
			m, ok := it.(map[string]any)
			if !ok {
				out = append(out, it)
				continue
			}
			l := copyMap(m)
			l["accountcode"] = ac
			if ts, _ := wire.ScalarText(l["linestatusts"]); ts == "0" {
				l["linestatusts"] = nil
			}
			out = append(out, l)
		}
		return out
	}
	return payload
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// writeFields writes m's members under their XML names: the type's fields
// in its order, then any others in name order.
func writeFields(b *bytes.Buffer, t soapType, m map[string]any) {
	byXML := make(map[string]any, len(m))
	for k, v := range m {
		if x, ok := t.renames[k]; ok {
			k = x
		}
		byXML[k] = v
	}
	for _, f := range t.fields {
		if v, ok := byXML[f]; ok {
			writeTyped(b, f, t.xsType(f), v)
			delete(byXML, f)
		}
	}
	rest := make([]string, 0, len(byXML))
	for k := range byXML {
		if isElementName(k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		writeScalar(b, k, byXML[k])
	}
}

// writeTyped writes a field the WSDL declares, with its schema type typ
// whatever the Go type of v: AgentQueueMembers' priority, a string in the
// STOMP reply, is an xs:integer here, AgentQueueList's name, a number in
// the STOMP reply, an xs:string. nil, and an integer field with no value,
// are written nil.
func writeTyped(b *bytes.Buffer, name, typ string, v any) {
	text, ok := wire.ScalarText(v)
	if v == nil || !ok || (typ == "xs:integer" && text == "") {
		b.WriteString("<" + name + ` xs:nil="1"/>`)
		return
	}
	if typ == "xs:integer" {
		if _, isInt := wire.ParseInt(text); !isInt {
			typ = "xs:string"
		} else if f, err := strconv.ParseFloat(text, 64); err == nil && strings.ContainsAny(text, ".eE") {
			text = strconv.FormatInt(int64(f), 10) // "10.0" -> "10"
		}
	}
	writeElement(b, name, typ, text)
}

// writeScalar writes <name xsi:type="...">value</name>, or <name xs:nil="1"/>.
func writeScalar(b *bytes.Buffer, name string, v any) {
	typ, text := "xs:string", ""
	switch x := v.(type) {
	case nil:
		b.WriteString("<" + name + ` xs:nil="1"/>`)
		return
	case string:
		text = x
	case bool:
		typ, text = "xs:boolean", strconv.FormatBool(x)
	case int, int64, int32, uint, uint64:
		typ, text = "xs:integer", fmt.Sprint(x)
	case float64:
		typ, text = floatText(x)
	case json.Number:
		typ, text = "xs:integer", x.String()
		if _, err := x.Int64(); err != nil {
			typ = "xs:double"
		}
	default:
		text = fmt.Sprint(x)
	}
	writeElement(b, name, typ, text)
}

func floatText(f float64) (string, string) {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return "xs:integer", strconv.FormatInt(int64(f), 10)
	}
	return "xs:double", strconv.FormatFloat(f, 'g', -1, 64)
}

// writeElement writes <name xsi:type="typ">text</name>, or
// <name xsi:type="typ"/> for an empty text.
func writeElement(b *bytes.Buffer, name, typ, text string) {
	b.WriteString("<" + name + ` xsi:type="` + typ + `"`)
	if text == "" {
		b.WriteString("/>")
		return
	}
	b.WriteString(">")
	escape(b, text)
	b.WriteString("</" + name + ">")
}

func escape(b *bytes.Buffer, s string) { _ = xml.EscapeText(b, []byte(s)) }

// isElementName reports whether s can be written as an element name.
func isElementName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && (r == '-' || r == '.' || r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return true
}
