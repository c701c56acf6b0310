package soapx

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/internal/wire"
)

// maxDepth bounds the nesting of a reply's elements.
const maxDepth = 64

// node is one element of a reply. Namespaces are dropped: IVWS replies mix
// a default namespace, undeclared prefixes and even misspelt declarations
// ("mlns:xsi" in the reference), and element names are unique without them.
type node struct {
	name  string
	text  []byte
	kids  []*node
	isNil bool // xs:nil="1", xsi:nil="true"
	array bool // type="tns:integerArray", xsi:type="SOAP-ENC:Array", SOAP-ENC:arrayType
}

// parseXML reads b into a tree and returns a root whose kids are the
// top-level elements. It reads raw tokens (no namespace resolution, which
// the SDK does not need) and checks the nesting itself, so a document that
// is not well-formed is an error as with Decoder.Token.
func parseXML(b []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.CharsetReader = charset.NewReaderLabel
	root := &node{}
	stack := make([]*node, 1, 8)
	names := make([]xml.Name, 1, 8)
	stack[0] = root
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > maxDepth {
				return nil, errors.New("elements nested too deep")
			}
			n := &node{name: t.Name.Local}
			for _, a := range t.Attr {
				switch a.Name.Local {
				case "nil":
					n.isNil = a.Value == "1" || a.Value == "true"
				case "type":
					v := a.Value
					if i := strings.LastIndexByte(v, ':'); i >= 0 {
						v = v[i+1:]
					}
					if len(v) >= 5 && strings.EqualFold(v[len(v)-5:], "array") {
						n.array = true
					}
				case "arrayType":
					n.array = true
				}
			}
			parent := stack[len(stack)-1]
			parent.kids = append(parent.kids, n)
			stack = append(stack, n)
			names = append(names, t.Name)
		case xml.EndElement:
			if len(stack) == 1 {
				return nil, fmt.Errorf("unexpected end element </%s>", t.Name.Local)
			}
			if open := names[len(names)-1]; open != t.Name {
				return nil, fmt.Errorf("element <%s> closed by </%s>", open.Local, t.Name.Local)
			}
			stack, names = stack[:len(stack)-1], names[:len(names)-1]
		case xml.CharData:
			if len(stack) > 1 {
				n := stack[len(stack)-1]
				n.text = append(n.text, t...)
			}
		}
	}
	if len(stack) > 1 {
		return nil, fmt.Errorf("unexpected end of document inside <%s>", names[len(names)-1].Local)
	}
	return root, nil
}

// parseEnvelope reads a SOAP document and returns the first element of its
// Body.
func parseEnvelope(b []byte) (*node, error) {
	root, err := parseXML(b)
	if err != nil {
		return nil, err
	}
	env := root.first()
	switch {
	case env == nil:
		return nil, errors.New("the reply is not XML")
	case env.name != "Envelope" || len(root.kids) > 1:
		return nil, fmt.Errorf("the reply is not a SOAP envelope (root element <%s>)", env.name)
	}
	body := env.child("Body")
	if body == nil {
		return nil, errors.New("the SOAP envelope has no Body")
	}
	el := body.first()
	if el == nil {
		return nil, errNoBody
	}
	return el, nil
}

// first returns the first kid of n, or nil.
func (n *node) first() *node {
	if n == nil || len(n.kids) == 0 {
		return nil
	}
	return n.kids[0]
}

// child returns the first kid named name, or nil.
func (n *node) child(name string) *node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

// find returns the first descendant (depth first) whose name is one of
// names, compared without case.
func (n *node) find(names ...string) *node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		for _, nm := range names {
			if strings.EqualFold(k.name, nm) {
				return k
			}
		}
		if f := k.find(names...); f != nil {
			return f
		}
	}
	return nil
}

// scalar returns the element's text as the SDK reads it: trimmed, with
// Python one-tuple text such as ('0001',) unwrapped.
func (n *node) scalar() string {
	return wire.UnwrapTuple(string(bytes.TrimSpace(n.text)))
}

// allText returns the text of n and its descendants, space separated.
func (n *node) allText() string {
	var parts []string
	var walk func(*node)
	walk = func(m *node) {
		if s := strings.TrimSpace(string(m.text)); s != "" {
			parts = append(parts, s)
		}
		for _, k := range m.kids {
			walk(k)
		}
	}
	walk(n)
	return strings.Join(parts, " ")
}

// bodyOfEnvelope returns the first element inside Envelope/Body of a whole
// SOAP document, or nil when b is not one.
func bodyOfEnvelope(b []byte) *node {
	el, err := parseEnvelope(b)
	if err != nil {
		return nil
	}
	return el
}

// isItemName reports whether name is one a list item carries when the
// element alone does not say that its parent is a list.
func isItemName(name string) bool {
	switch name {
	case "integer", "int", "long", "string", "item", "anyType":
		return true
	}
	return false
}

// isList reports whether n's kids are the items of a list: the element says
// so (a type attribute ending in "Array"), its kids share one name and are
// several, they carry an item name such as <integer>, or the caller expects
// a list (hint).
func (n *node) isList(hint bool) bool {
	if n.array {
		return true
	}
	if len(n.kids) == 0 {
		return false
	}
	same := true
	for _, k := range n.kids[1:] {
		if k.name != n.kids[0].name {
			same = false
			break
		}
	}
	if !same {
		return false
	}
	return len(n.kids) > 1 || hint || isItemName(n.kids[0].name)
}

// appendJSON writes n as a JSON value: nil elements as null, text as a
// string, lists as arrays and other elements with kids as objects whose
// keys are the kids' names in the order sent (a name sent more than once
// gives an array).
func appendJSON(dst []byte, n *node, listHint bool) []byte {
	switch {
	case n.isNil:
		return append(dst, "null"...)
	case len(n.kids) == 0:
		if n.array {
			return append(dst, '[', ']')
		}
		return wire.AppendString(dst, n.scalar())
	case n.isList(listHint):
		dst = append(dst, '[')
		for i, k := range n.kids {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, k, false)
		}
		return append(dst, ']')
	}
	dst = append(dst, '{')
	written := 0
	for i, k := range n.kids {
		dup := false
		for _, p := range n.kids[:i] {
			if p.name == k.name {
				dup = true
				break
			}
		}
		if dup {
			continue // written with its first occurrence
		}
		if written > 0 {
			dst = append(dst, ',')
		}
		written++
		dst = wire.AppendString(dst, k.name)
		dst = append(dst, ':')
		count := 0
		for _, s := range n.kids[i:] {
			if s.name == k.name {
				count++
			}
		}
		if count == 1 {
			dst = appendJSON(dst, k, false)
			continue
		}
		dst = append(dst, '[')
		c := 0
		for _, s := range n.kids[i:] {
			if s.name == k.name {
				if c > 0 {
					dst = append(dst, ',')
				}
				c++
				dst = appendJSON(dst, s, false)
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// shape is what the caller's out expects, used to read a reply that does not
// say it by itself (a list of one item, a bare return code).
type shape int

const (
	shapeNone   shape = iota // out is nil: a void method
	shapeAny                 // *any, *json.RawMessage: take what comes
	shapeScalar              // *string, *int, ...
	shapeList                // a slice
	shapeObject              // a struct or a map
)

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

func shapeOf(out any) shape {
	if out == nil {
		return shapeNone
	}
	t := reflect.TypeOf(out)
	if t.Kind() != reflect.Pointer {
		return shapeAny
	}
	t = t.Elem()
	if t == rawMessageType {
		return shapeAny
	}
	switch t.Kind() {
	case reflect.Interface:
		return shapeAny
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return shapeScalar
		}
		return shapeList
	case reflect.Array:
		return shapeList
	case reflect.Struct, reflect.Map:
		return shapeObject
	}
	return shapeScalar
}

// result is a decoded method reply.
type result struct {
	json  []byte       // the result as JSON; nil when there is nothing to decode
	code  *codes.Error // a non-zero return code the reply carried
	fault *Fault       // the reply was a SOAP fault
}

// errNoBody is a SOAP reply whose Body holds no element.
var errNoBody = errors.New("the SOAP Body is empty")

// decodeReply reads a whole SOAP reply: a fault, or the method's
// <MethodResponse><MethodResult>.
func decodeReply(doc []byte, method, key string, status int, sh shape) (result, error) {
	el, err := parseEnvelope(doc)
	if err != nil {
		return result{}, err
	}
	return decodeElement(el, method, key, status, sh)
}

func decodeElement(el *node, method, key string, status int, sh shape) (result, error) {
	if el == nil {
		return result{}, errNoBody
	}
	if el.name == "Fault" {
		return result{fault: faultFrom(el, method, key, status)}, nil
	}
	r := resultElement(el, method)
	if r == nil || r.isNil {
		return result{json: []byte("null")}, nil
	}
	if len(r.kids) == 0 && !r.array {
		text := r.scalar()
		// A bare integer where no scalar is expected is the return code
		// (void methods; a failed Info or List method).
		if sh == shapeNone || sh == shapeList || sh == shapeObject {
			if c, ok := replyCode(text); ok {
				if c != codes.OK {
					return result{code: &codes.Error{Code: c, Method: method}}, nil
				}
				return result{}, nil
			}
			if text == "" {
				switch sh {
				case shapeList:
					return result{json: []byte("[]")}, nil
				case shapeObject:
					return result{json: []byte("null")}, nil
				}
			}
		}
		return result{json: wire.AppendString(nil, text)}, nil
	}
	list := r.isList(sh == shapeList)
	if !list {
		// {code, location} and the like: a non-zero code is a failure.
		if c := r.child("code"); c != nil && len(c.kids) == 0 {
			if code, ok := replyCode(c.scalar()); ok && code != codes.OK {
				e := &codes.Error{Code: code, Method: method}
				if d := r.child("description"); d != nil && len(d.kids) == 0 {
					e.Description = redact(d.scalar(), key)
				}
				return result{code: e}, nil
			}
		}
	}
	return result{json: appendJSON(make([]byte, 0, 256), r, sh == shapeList)}, nil
}

// resultElement picks the result out of <MethodResponse>: its only kid when
// that is named ...Result (or "return"), the kid named MethodResult, nothing
// when the response is empty, and else the response element itself.
func resultElement(resp *node, method string) *node {
	switch len(resp.kids) {
	case 0:
		if len(bytes.TrimSpace(resp.text)) > 0 {
			return resp
		}
		return nil
	case 1:
		k := resp.kids[0]
		if strings.HasSuffix(k.name, "Result") || k.name == "return" {
			return k
		}
	}
	if k := resp.child(method + "Result"); k != nil {
		return k
	}
	return resp
}

// replyCode reads a bare return code: a decimal number or a code name.
func replyCode(s string) (codes.Code, bool) {
	if isNumber(s) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, false
		}
		return codes.Code(n), true
	}
	if len(s) < 2 || len(s) > 40 || strings.ToUpper(s) != s {
		return 0, false
	}
	return codes.Parse(s)
}

// faultFrom reads a SOAP 1.1 fault (faultcode, faultstring, detail) or a
// SOAP 1.2 one (Code/Value, Reason/Text, Detail). Server text is redacted of
// the key.
func faultFrom(el *node, method, key string, status int) *Fault {
	f := &Fault{Method: method, StatusCode: status}
	var detail *node
	for _, k := range el.kids {
		switch k.name {
		case "faultcode":
			f.Code = strings.TrimSpace(string(k.text))
		case "faultstring":
			f.String = strings.TrimSpace(string(k.text))
		case "Code":
			if v := k.find("Value"); v != nil {
				f.Code = strings.TrimSpace(string(v.text))
			}
		case "Reason":
			if v := k.find("Text"); v != nil {
				f.String = strings.TrimSpace(string(v.text))
			}
		case "detail", "Detail":
			detail = k
			f.Detail = k.allText()
		}
	}
	var detailCode, detailDesc string
	if detail != nil {
		if c := detail.find("code", "errorcode", "returncode"); c != nil {
			detailCode = strings.TrimSpace(string(c.text))
		}
		if d := detail.find("description", "message"); d != nil {
			detailDesc = strings.TrimSpace(string(d.text))
		}
	}
	if c, ok := codeFromFault(f.Code, f.String, detailCode); ok {
		desc := detailDesc
		if desc == "" {
			desc = stripCodeName(f.String, c)
		}
		f.err = &codes.Error{Code: c, Method: method, Description: redact(desc, key)}
	}
	f.Code, f.String, f.Detail = redact(f.Code, key), redact(f.String, key), redact(f.Detail, key)
	return f
}

// stripCodeName removes a leading code name or number and its separator
// from a fault string: "RESPONSE_NOT_FOUND: no agent 1001" -> "no agent 1001".
func stripCodeName(s string, c codes.Code) string {
	s = strings.TrimSpace(s)
	for _, p := range []string{c.String(), strconv.Itoa(int(c))} {
		if strings.HasPrefix(s, p) {
			rest := s[len(p):]
			if rest == "" || strings.ContainsRune(" :-()", rune(rest[0])) {
				return strings.TrimSpace(strings.TrimLeft(rest, " :-()"))
			}
		}
	}
	if s == c.String() {
		return ""
	}
	return s
}

// snippet returns the start of an error body as printable text.
func snippet(b []byte, key string) string {
	s := strings.ToValidUTF8(string(bytes.TrimSpace(b)), "\uFFFD")
	s = redact(strings.Join(strings.Fields(s), " "), key)
	if len(s) > maxErrorBody {
		cut := maxErrorBody
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
