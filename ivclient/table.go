package ivclient

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// The method table: the one list of the platform's 41 methods. Each entry
// names the method, says what it does (from the reference), and adapts the
// typed Client method to Invoke. The arguments come from the struct the
// typed method sends, whose tags (methods.go, types.go) are the only
// declaration of the wire names and checks. The table is built anew by
// each call (it holds no state), and handed out as copies.

// MethodInfo describes one of the platform's integration methods.
type MethodInfo struct {
	// Name is the method's name, as the platform and the Client spell it:
	// "AgentLogin".
	Name string
	// Doc says what the method does, after the platform's reference.
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
	for _, a := range m.Args {
		if strings.EqualFold(a.Name, name) {
			return a, true
		}
	}
	return ArgInfo{}, false
}

// ArgInfo describes one argument of a method.
type ArgInfo struct {
	// Name is the argument's STOMP (JSON) name, as the reference spells it:
	// "Accountcode", "user", "call-limit". Invoke matches it without regard
	// to case.
	Name string
	// XMLName is the argument's IVWS (SOAP) name where it differs or not:
	// "passwd", "call_limit"; "" for an argument IVWS does not take
	// (NewCallBack's Ruleid).
	XMLName string
	// Doc says what the argument means, after the reference.
	Doc string
	// Kind is the argument's type.
	Kind ArgKind
	// Required: the client refuses a call without it (ErrInvalidArgument).
	// The arguments of a Modify method's body are never required.
	Required bool
	// Digits: the value must be ASCII digits (an agent, queue or SIP user
	// number).
	Digits bool
	// Agent: the value is "<accountcode>_<number>", and a bare number is
	// prefixed with the accountcode (unless WithRawAgentNames).
	Agent bool
	// Items describes the members of each item of a list (Kind ArgList):
	// AgentLineAdd's lines, AgentQueueAdd's queues.
	Items []ArgInfo
}

// ArgKind is the type of an argument's value.
type ArgKind int

// The kinds of argument.
const (
	ArgString  ArgKind = iota // text
	ArgInteger                // an integer, sent as the platform expects it
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
// "kind": "list" rather than a number.
func (k ArgKind) MarshalText() ([]byte, error) {
	switch k {
	case ArgString, ArgInteger, ArgFlag, ArgList:
		return []byte(k.String()), nil
	}
	return nil, fmt.Errorf("instantvoice: no ArgKind %d", int(k))
}

// UnmarshalText reads a kind's name, as MarshalText writes it.
func (k *ArgKind) UnmarshalText(b []byte) error {
	for _, c := range []ArgKind{ArgString, ArgInteger, ArgFlag, ArgList} {
		if string(b) == c.String() {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("instantvoice: no ArgKind %q", b)
}

// Methods returns the platform's 41 integration methods, in the order of
// its reference. The slice and everything in it are the caller's.
func Methods() []MethodInfo {
	tab := table()
	out := make([]MethodInfo, len(tab))
	for i, m := range tab {
		out[i] = m.info()
	}
	return out
}

// Lookup returns the method named name (exactly as the platform spells it).
func Lookup(name string) (MethodInfo, bool) {
	m, ok := find(name)
	if !ok {
		return MethodInfo{}, false
	}
	return m.info(), true
}

// method is one entry of the table.
type method struct {
	name, doc string
	args      reflect.Type // the struct the typed method sends
	result    reflect.Type // nil for none
	invoke    func(c *Client, ctx context.Context, args any) (any, error)
}

func find(name string) (method, bool) {
	for _, m := range table() {
		if m.name == name {
			return m, true
		}
	}
	return method{}, false
}

func (m method) info() MethodInfo {
	info := MethodInfo{Name: m.name, Doc: m.doc}
	for _, f := range fieldsOf(m.args, true) {
		info.Args = append(info.Args, f.info(m.name))
	}
	if m.result != nil {
		info.Result = m.result.String()
	}
	return info
}

// noResult is the entry of a method that returns only an error.
func noResult[A any](name, doc string, f func(*Client, context.Context, *A) error) method {
	return method{name: name, doc: doc, args: reflect.TypeOf((*A)(nil)).Elem(),
		invoke: func(c *Client, ctx context.Context, a any) (any, error) { return nil, f(c, ctx, a.(*A)) }}
}

// withResult is the entry of a method that returns a result.
func withResult[A, R any](name, doc string, f func(*Client, context.Context, *A) (R, error)) method {
	return method{name: name, doc: doc, args: reflect.TypeOf((*A)(nil)).Elem(), result: reflect.TypeOf((*R)(nil)).Elem(),
		invoke: func(c *Client, ctx context.Context, a any) (any, error) {
			r, err := f(c, ctx, a.(*A))
			if err != nil {
				return nil, err
			}
			return r, nil
		}}
}

// table returns the 41 methods in the order of the reference.
func table() []method {
	type C = Client
	type X = context.Context
	return []method{
		noResult("AgentAdd", "Creates an agent.",
			func(c *C, ctx X, a *Agent) error { return c.AgentAdd(ctx, *a) }),
		noResult("AgentDelete", "Deletes an agent.",
			func(c *C, ctx X, a *agentArgs) error { return c.AgentDelete(ctx, a.Accountcode, a.User) }),
		noResult("AgentModify", "Changes an agent: the AgentAdd arguments given are changed, the others are left as they are.",
			func(c *C, ctx X, a *agentModifyArgs) error {
				return c.AgentModify(ctx, a.OriginalAccountcode, a.OriginalUser, a.Agent)
			}),
		withResult("AgentList", "Lists the numbers of an accountcode's agents.",
			func(c *C, ctx X, a *accountArgs) ([]string, error) { return c.AgentList(ctx, a.Accountcode) }),
		withResult("AgentInfo", "Returns everything the platform knows of an agent.",
			func(c *C, ctx X, a *agentArgs) (*AgentInfo, error) { return c.AgentInfo(ctx, a.Accountcode, a.User) }),
		noResult("AgentLineAdd", "Adds lines to an agent.",
			func(c *C, ctx X, a *agentLineAddArgs) error {
				return c.AgentLineAdd(ctx, a.Accountcode, a.User, a.Lines...)
			}),
		noResult("AgentLineDelete", "Deletes one of an agent's lines; the platform refuses to delete an agent's only line (change it with AgentLineModify).",
			func(c *C, ctx X, a *agentLineDeleteArgs) error {
				return c.AgentLineDelete(ctx, a.Accountcode, a.User, a.Linenumber)
			}),
		noResult("AgentLineModify", "Enables or disables an agent's line for inbound and outbound calls.",
			func(c *C, ctx X, a *agentLineModifyArgs) error {
				return c.AgentLineModify(ctx, a.OriginalAccountcode, a.OriginalUser, a.OriginalLinenumber, (*bool)(a.Inbound), (*bool)(a.Outbound))
			}),
		withResult("AgentLineList", "Lists an agent's lines.",
			func(c *C, ctx X, a *agentArgs) ([]AgentLine, error) {
				return c.AgentLineList(ctx, a.Accountcode, a.User)
			}),
		noResult("AgentQueueAdd", "Makes an agent a member of queues, with a priority in each.",
			func(c *C, ctx X, a *agentQueueAddArgs) error {
				return c.AgentQueueAdd(ctx, a.Accountcode, a.User, a.Queues...)
			}),
		noResult("AgentQueueDelete", "Removes an agent from a queue; the platform refuses to remove an agent from its only queue (change it with AgentQueueModify).",
			func(c *C, ctx X, a *agentQueueDeleteArgs) error {
				return c.AgentQueueDelete(ctx, a.Accountcode, a.User, a.Name)
			}),
		noResult("AgentQueueModify", "Changes an agent's priority in a queue.",
			func(c *C, ctx X, a *agentQueueModifyArgs) error {
				return c.AgentQueueModify(ctx, a.OriginalAccountcode, a.OriginalUser, a.OriginalName, a.Priority)
			}),
		withResult("AgentQueueList", "Lists an agent's queues and its priority in each.",
			func(c *C, ctx X, a *agentArgs) ([]AgentQueue, error) {
				return c.AgentQueueList(ctx, a.Accountcode, a.User)
			}),
		withResult("AgentQueueMembers", "Lists the members of a queue.",
			func(c *C, ctx X, a *nameArgs) ([]QueueMember, error) {
				return c.AgentQueueMembers(ctx, a.Accountcode, a.Name)
			}),
		noResult("AgentAddPermission", "Puts an agent in a permission group, whose rules govern its outbound calls.",
			func(c *C, ctx X, a *agentLocationArgs) error {
				return c.AgentAddPermission(ctx, a.Accountcode, a.User, a.Location)
			}),
		noResult("AgentDeletePermission", "Removes an agent from its permission group.",
			func(c *C, ctx X, a *agentArgs) error { return c.AgentDeletePermission(ctx, a.Accountcode, a.User) }),
		noResult("AgentModifyPermission", "Moves an agent to another permission group.",
			func(c *C, ctx X, a *agentLocationArgs) error {
				return c.AgentModifyPermission(ctx, a.Accountcode, a.User, a.Location)
			}),
		withResult("AgentInfoPermission", "Returns an agent's permission group.",
			func(c *C, ctx X, a *agentArgs) (string, error) {
				return c.AgentInfoPermission(ctx, a.Accountcode, a.User)
			}),
		noResult("AgentLogin", "Logs an agent in on a telephony interface, so that it can make and receive calls.",
			func(c *C, ctx X, a *agentLoginArgs) error {
				return c.AgentLogin(ctx, a.Accountcode, a.User, a.Interface)
			}),
		noResult("AgentLogoff", "Logs an agent off.",
			func(c *C, ctx X, a *agentSessionArgs) error { return c.AgentLogoff(ctx, a.Accountcode, a.User) }),
		noResult("AgentPause", "Pauses an agent, so that it receives no calls.",
			func(c *C, ctx X, a *agentPauseArgs) error { return c.AgentPause(ctx, a.Accountcode, a.User, a.Reason) }),
		noResult("AgentUnpause", "Unpauses an agent, so that it receives calls again.",
			func(c *C, ctx X, a *agentSessionArgs) error { return c.AgentUnpause(ctx, a.Accountcode, a.User) }),
		noResult("BlindTransfer", "Redirects every call the agent has to an extension: a queue, another agent or an external number.",
			func(c *C, ctx X, a *blindTransferArgs) error {
				return c.BlindTransfer(ctx, a.Accountcode, a.User, a.Exten)
			}),
		noResult("NewCall", "Calls the agent, then the extension, and bridges them; the call's progress arrives as events (NEWCALL, CONNECT, DNEWCALL, DCONNECT, HANGUP). Never retried: a lost reply does not mean the call was not placed.",
			func(c *C, ctx X, a *newCallArgs) error {
				return c.NewCall(ctx, a.Accountcode, a.User, a.Exten, a.ExternalID)
			}),
		noResult("SendSms", "Sends a text message to a mobile number.",
			func(c *C, ctx X, a *sendSmsArgs) error { return c.SendSms(ctx, a.Accountcode, a.Number, a.Text) }),
		noResult("NewCallBack", "Appends a call to the callback list.",
			func(c *C, ctx X, a *CallBack) error { return c.NewCallBack(ctx, *a) }),
		noResult("Hangup", "Ends a call.",
			func(c *C, ctx X, a *hangupArgs) error { return c.Hangup(ctx, a.Accountcode, a.UniqueID) }),
		noResult("QueueAdd", "Creates a queue; the platform's defaults apply to the settings not given.",
			func(c *C, ctx X, a *Queue) error { return c.QueueAdd(ctx, *a) }),
		noResult("QueueModify", "Changes a queue: the QueueAdd arguments given are changed, the others are left as they are.",
			func(c *C, ctx X, a *queueModifyArgs) error {
				return c.QueueModify(ctx, a.OriginalAccountcode, a.OriginalName, a.Queue)
			}),
		noResult("QueueDelete", "Deletes a queue.",
			func(c *C, ctx X, a *nameArgs) error { return c.QueueDelete(ctx, a.Accountcode, a.Name) }),
		withResult("QueueList", "Lists the extensions of an accountcode's queues.",
			func(c *C, ctx X, a *accountArgs) ([]string, error) { return c.QueueList(ctx, a.Accountcode) }),
		withResult("QueueInfo", "Returns a queue's settings and its current state (callers waiting, agents logged in, ...).",
			func(c *C, ctx X, a *nameArgs) (*QueueInfo, error) { return c.QueueInfo(ctx, a.Accountcode, a.Name) }),
		noResult("SipUserAdd", "Creates a SIP user; the platform's defaults apply to the settings not given.",
			func(c *C, ctx X, a *SipUser) error { return c.SipUserAdd(ctx, *a) }),
		noResult("SipUserModify", "Changes a SIP user: the SipUserAdd arguments given are changed, the others are left as they are.",
			func(c *C, ctx X, a *sipUserModifyArgs) error {
				return c.SipUserModify(ctx, a.OriginalAccountcode, a.OriginalName, a.SipUser)
			}),
		noResult("SipUserDelete", "Deletes a SIP user.",
			func(c *C, ctx X, a *nameArgs) error { return c.SipUserDelete(ctx, a.Accountcode, a.Name) }),
		withResult("SipUserList", "Lists the names of an accountcode's SIP users.",
			func(c *C, ctx X, a *accountArgs) ([]string, error) { return c.SipUserList(ctx, a.Accountcode) }),
		withResult("SipUserInfo", "Returns everything the platform knows of a SIP user.",
			func(c *C, ctx X, a *nameArgs) (*SipUserInfo, error) { return c.SipUserInfo(ctx, a.Accountcode, a.Name) }),
		noResult("SipUserAddPermission", "Puts a SIP user in a permission group, whose rules govern its outbound calls.",
			func(c *C, ctx X, a *nameLocationArgs) error {
				return c.SipUserAddPermission(ctx, a.Accountcode, a.Name, a.Location)
			}),
		noResult("SipUserDeletePermission", "Removes a SIP user from its permission group.",
			func(c *C, ctx X, a *nameArgs) error { return c.SipUserDeletePermission(ctx, a.Accountcode, a.Name) }),
		noResult("SipUserModifyPermission", "Moves a SIP user to another permission group.",
			func(c *C, ctx X, a *nameLocationArgs) error {
				return c.SipUserModifyPermission(ctx, a.Accountcode, a.Name, a.Location)
			}),
		withResult("SipUserInfoPermission", "Returns a SIP user's permission group.",
			func(c *C, ctx X, a *nameArgs) (string, error) {
				return c.SipUserInfoPermission(ctx, a.Accountcode, a.Name)
			}),
	}
}

// argField is one wire argument of an argument struct: where it is and what
// its tags say.
type argField struct {
	index    []int // reflect.Value.FieldByIndex
	typ      reflect.Type
	name     string // the json name
	xmlName  string
	required bool
	digits   bool
	agent    bool
}

// fieldsOf returns the wire arguments of the struct type t, the fields of
// embedded structs in their place (not required when tagged iv:"optional").
func fieldsOf(t reflect.Type, enforce bool) []argField {
	var out []argField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("iv")
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			for _, sub := range fieldsOf(f.Type, enforce && !hasOpt(tag, "optional")) {
				sub.index = append([]int{i}, sub.index...)
				out = append(out, sub)
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		xmlName, _, _ := strings.Cut(f.Tag.Get("xml"), ",")
		if name == "-" || name == "" {
			continue // not sent over STOMP
		}
		if xmlName == "-" {
			xmlName = ""
		}
		out = append(out, argField{
			index: []int{i}, typ: f.Type, name: name, xmlName: xmlName,
			required: enforce && hasOpt(tag, "required"), digits: hasOpt(tag, "digits"), agent: hasOpt(tag, "agent"),
		})
	}
	return out
}

// kind returns the argument kind of a field type.
func kindOf(t reflect.Type) ArgKind {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return ArgInteger
	case reflect.Bool:
		return ArgFlag
	case reflect.Slice:
		return ArgList
	}
	return ArgString
}

func (f argField) info(method string) ArgInfo {
	a := ArgInfo{Name: f.name, XMLName: f.xmlName, Kind: kindOf(f.typ), Required: f.required, Digits: f.digits, Agent: f.agent}
	a.Doc = argDoc(method, f.name)
	if a.Kind == ArgList {
		for _, sub := range fieldsOf(f.typ.Elem(), true) {
			item := sub.info(method + "." + f.name)
			a.Items = append(a.Items, item)
		}
	}
	return a
}
