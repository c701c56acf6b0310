// Package catalog describes the platform's 41 integration methods and calls
// one by name: the metadata and the dispatcher the ivctl command and the
// ivtest simulator are built on. It is internal: partners call the typed
// methods of ivclient.Client.
//
// The descriptions are generated (catalog_gen.go, by go generate) from the
// ivclient source: the doc comment of each method, the tags and comments of
// the struct it sends. They are written once, there; a test fails when
// catalog_gen.go differs from what the generator makes of the source.
package catalog

//go:generate go run ./gen -src ../../ivclient -out catalog_gen.go

import (
	"fmt"
	"strconv"
	"strings"
)

// MethodInfo describes one of the platform's integration methods.
type MethodInfo struct {
	// Name is the method's name, as the platform and the Client spell it:
	// "AgentLogin".
	Name string
	// Doc says what the method does: the first paragraph of the Client
	// method's doc comment.
	Doc string
	// Args are the method's arguments, in the order the wire sends them.
	Args []ArgInfo
	// Result is the Go type the Client method returns besides its error,
	// such as "[]string" or "*ivclient.AgentInfo"; "" for a method that
	// returns only an error.
	Result string
}

// Arg returns the argument whose STOMP name is name, matched without regard
// to case.
func (m MethodInfo) Arg(name string) (ArgInfo, bool) {
	if i := m.argIndex(name); i >= 0 {
		return m.Args[i], true
	}
	return ArgInfo{}, false
}

func (m MethodInfo) argIndex(name string) int {
	for i, a := range m.Args {
		if strings.EqualFold(a.Name, name) {
			return i
		}
	}
	return -1
}

// ArgInfo describes one argument of a method.
type ArgInfo struct {
	// Name is the argument's STOMP (JSON) name, as the reference spells it:
	// "Accountcode", "user", "call-limit".
	Name string
	// XMLName is the argument's IVWS (SOAP) name: "passwd", "call_limit";
	// "" for an argument IVWS does not take (NewCallBack's Ruleid).
	XMLName string
	// Doc says what the argument means: the comment of its struct field.
	Doc string
	// Kind is the argument's type.
	Kind ArgKind
	// Required: the client refuses a call without it.
	Required bool
	// Digits: the value must be ASCII digits.
	Digits bool
	// Agent: the value is "<accountcode>_<number>", and a bare number is
	// prefixed with the accountcode.
	Agent bool
	// Items describes the members of each item of a list (Kind ArgList).
	Items []ArgInfo
}

// ArgKind is the type of an argument's value.
type ArgKind int

// The kinds of argument.
const (
	ArgString  ArgKind = iota // text
	ArgInteger                // an integer
	ArgFlag                   // 1 or 0 (true or false)
	ArgList                   // a list of objects, each with the members of Items
)

// String returns "string", "integer", "flag" or "list".
func (k ArgKind) String() string {
	switch k {
	case ArgString:
		return "string"
	case ArgInteger:
		return "integer"
	case ArgFlag:
		return "flag"
	case ArgList:
		return "list"
	}
	return "ArgKind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText gives the kind's name, so that a MethodInfo in JSON reads
// "Kind": "list" rather than a number.
func (k ArgKind) MarshalText() ([]byte, error) {
	switch k {
	case ArgString, ArgInteger, ArgFlag, ArgList:
		return []byte(k.String()), nil
	}
	return nil, fmt.Errorf("catalog: no ArgKind %d", int(k))
}

// UnmarshalText reads a kind's name, as MarshalText writes it.
func (k *ArgKind) UnmarshalText(b []byte) error {
	for _, c := range []ArgKind{ArgString, ArgInteger, ArgFlag, ArgList} {
		if string(b) == c.String() {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("catalog: no ArgKind %q", b)
}

// method is one entry of the generated table: the description, and for
// each parameter of the Client method after its context, the indexes in
// Args of the arguments that make it (several for a body struct).
type method struct {
	info   MethodInfo
	params [][]int
}

// Methods returns the platform's 41 integration methods, in the order of
// its reference. The slice and everything in it are the caller's.
func Methods() []MethodInfo {
	tab := table()
	out := make([]MethodInfo, len(tab))
	for i, m := range tab {
		out[i] = m.info
	}
	return out
}

// Lookup returns the method named name (exactly as the platform spells it).
func Lookup(name string) (MethodInfo, bool) {
	m, ok := find(name)
	return m.info, ok
}

func find(name string) (method, bool) {
	for _, m := range table() {
		if m.info.Name == name {
			return m, true
		}
	}
	return method{}, false
}
