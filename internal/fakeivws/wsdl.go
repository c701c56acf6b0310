package fakeivws

import (
	"bytes"
	"encoding/xml"
	"sort"
)

// The IVWS endpoint's description: for each of the 41 operations, its
// request elements as the reference names them in XML (passwd, call_limit,
// ignoreexpire, User for NewCall and BlindTransfer, Location_id, ...) and
// the shape of its result. ivws.document turns it into the WSDL 1.1 document
// served at SOAPURL()+"?wsdl"; soap.go answers the operations with it.

// ivwsNamespace is the target namespace of IVWS.
const ivwsNamespace = "Ivws.Ivws"

// resultKind is the shape of an operation's result element.
type resultKind int

const (
	resultCode       resultKind = iota // <XResult xsi:type="xs:integer">0</XResult>
	resultIntegers                     // type="tns:integerArray": <integer> items
	resultTuples                       // the same, each item Python tuple text: ('0001',)
	resultObject                       // a complex type's fields
	resultObjects                      // type="tns:<Item>Array": <Item> elements
	resultPermission                   // <code>0</code><location>...</location>
)

// soapOp is one IVWS operation.
type soapOp struct {
	params []string   // request elements after <key>, in the reference's order
	lists  []string   // the params that hold numbered items (<lines><line1>...)
	result resultKind //
	typ    string     // resultObject, resultObjects: the complex type of the result or of an item
}

// ivws is the endpoint's description: its operations by name and the
// complex types of their results. Each platform builds its own (newIVWS),
// so that no table is shared, and nothing changes it after.
type ivws struct {
	ops   map[string]soapOp
	types map[string]soapType
}

func newIVWS() *ivws {
	return &ivws{ops: soapOps(), types: soapTypes()}
}

// soapOps returns the 41 operations.
func soapOps() map[string]soapOp {
	agentBody := []string{"accountcode", "user", "passwd", "name"}
	queueBody := []string{"accountcode", "name", "description", "sl_answeredbefore_1", "sl_answeredbefore_2",
		"sl_answeredbefore_3", "joinempty", "requiresendinfo", "timeout", "dialtimeout", "maxlen", "wrapuptime",
		"quarantinetime", "announce", "musiconhold"}
	sipBody := []string{"accountcode", "name", "description", "allow", "amaflags", "call_limit", "callerid",
		"callgroup", "canreinvite", "context", "defaultip", "deny", "disallow", "dtmfmode", "fromdomain", "fromuser",
		"fullcontact", "host", "ignoreexpire", "insecure", "ipaddr", "language", "mailbox", "md5secret",
		"musiconhold", "nat", "permit", "pickupgroup", "port", "progressinband", "promiscredir", "qualify",
		"regexten", "regseconds", "rpid", "rtpholdtimeout", "secret", "sendrpid", "setvar", "subscribecontext",
		"trustrpid", "type", "useclientcode", "username", "route", "macaddr", "location"}
	return map[string]soapOp{
		"AgentAdd":          {params: agentBody},
		"AgentDelete":       {params: []string{"accountcode", "user"}},
		"AgentModify":       {params: joinParams([]string{"original_accountcode", "original_user"}, agentBody)},
		"AgentList":         {params: []string{"accountcode"}, result: resultIntegers},
		"AgentInfo":         {params: []string{"accountcode", "user"}, result: resultObject, typ: "AgentInfo"},
		"AgentLineAdd":      {params: []string{"accountcode", "user", "lines"}, lists: []string{"lines"}},
		"AgentLineDelete":   {params: []string{"accountcode", "user", "linenumber"}},
		"AgentLineModify":   {params: []string{"original_accountcode", "original_user", "original_linenumber", "inbound", "outbound"}},
		"AgentLineList":     {params: []string{"accountcode", "user"}, result: resultObjects, typ: "AgentLines"},
		"AgentQueueAdd":     {params: []string{"accountcode", "user", "queues"}, lists: []string{"queues"}},
		"AgentQueueDelete":  {params: []string{"accountcode", "user", "name"}},
		"AgentQueueModify":  {params: []string{"original_accountcode", "original_user", "original_name", "priority"}},
		"AgentQueueList":    {params: []string{"accountcode", "user"}, result: resultObjects, typ: "AgentQueues"},
		"AgentQueueMembers": {params: []string{"accountcode", "name"}, result: resultObjects, typ: "QueueMembers"},

		"AgentAddPermission":    {params: []string{"accountcode", "user", "location"}},
		"AgentDeletePermission": {params: []string{"accountcode", "user"}},
		"AgentModifyPermission": {params: []string{"accountcode", "user", "location"}},
		"AgentInfoPermission":   {params: []string{"accountcode", "user"}, result: resultPermission},

		"AgentLogin":    {params: []string{"Accountcode", "User", "Interface"}},
		"AgentLogoff":   {params: []string{"Accountcode", "User"}},
		"AgentPause":    {params: []string{"Accountcode", "User", "Reason"}},
		"AgentUnpause":  {params: []string{"Accountcode", "User"}},
		"BlindTransfer": {params: []string{"Accountcode", "User", "Exten"}},
		"NewCall":       {params: []string{"Accountcode", "User", "Exten", "External_id"}},
		"SendSms":       {params: []string{"Accountcode", "Number", "Text"}},
		"NewCallBack":   {params: []string{"Accountcode", "Mcdu", "Originator", "Language", "Location_id", "Queue_id", "Email"}},
		"Hangup":        {params: []string{"Accountcode", "Uniqueid"}},

		"QueueAdd":    {params: queueBody},
		"QueueModify": {params: joinParams([]string{"original_accountcode", "original_name"}, queueBody)},
		"QueueDelete": {params: []string{"accountcode", "name"}},
		"QueueList":   {params: []string{"accountcode"}, result: resultIntegers},
		"QueueInfo":   {params: []string{"accountcode", "name"}, result: resultObject, typ: "QueueInfo"},

		"SipUserAdd":    {params: sipBody},
		"SipUserModify": {params: joinParams([]string{"original_accountcode", "original_name"}, sipBody)},
		"SipUserDelete": {params: []string{"accountcode", "name"}},
		"SipUserList":   {params: []string{"accountcode"}, result: resultTuples},
		"SipUserInfo":   {params: []string{"accountcode", "name"}, result: resultObject, typ: "SipUserInfo"},

		"SipUserAddPermission":    {params: []string{"accountcode", "name", "location"}},
		"SipUserDeletePermission": {params: []string{"accountcode", "name"}},
		"SipUserModifyPermission": {params: []string{"accountcode", "name", "location"}},
		"SipUserInfoPermission":   {params: []string{"accountcode", "name"}, result: resultPermission},
	}
}

func joinParams(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// soapType is a complex type of a result: its fields in the order they are
// sent (the reference's XML order first, then the fields only its JSON
// examples show), the fields typed xs:integer (all others are xs:string),
// and the JSON names the XML renames.
type soapType struct {
	fields   []string
	integers []string
	renames  map[string]string // JSON (STOMP) name -> XML name
}

// xsType is the schema type of field f: xs:integer where the reference's
// samples show an integer (in the XML reply, or else in the JSON one),
// xs:string otherwise.
func (t soapType) xsType(f string) string {
	for _, n := range t.integers {
		if n == f {
			return "xs:integer"
		}
	}
	return "xs:string"
}

// soapTypes returns the complex types of the results, by name.
func soapTypes() map[string]soapType {
	return map[string]soapType{
		"AgentInfo": {
			fields: []string{"passwd", "accountcode", "agents_id", "name", "user",
				"extension", "interface", "agentstatus", "agentstatusts", "logints", "disabled", "reasons_reason"},
			integers: []string{"agents_id", "agentstatusts", "logints", "disabled"},
			renames:  map[string]string{"pass": "passwd", "id": "agents_id"},
		},
		"AgentLines": {
			fields: []string{"accountcode", "outbound", "inbound", "linestatus", "linenumber", "linestatusts",
				"id", "queues_id", "uniqueid"},
			integers: []string{"outbound", "inbound", "linenumber", "linestatusts", "id", "queues_id"},
		},
		"AgentQueues":  {fields: []string{"priority", "name"}, integers: []string{"priority"}},
		"QueueMembers": {fields: []string{"priority", "user"}, integers: []string{"priority"}},
		"QueueInfo": {
			fields: []string{"accountcode", "description", "requisendinfo", "sl_answeredbefore_2", "maxlen",
				"joinempty", "sl_answeredbefore_1", "timeout", "sl_answeredbefore_3", "announce", "wrapuptime",
				"dialtimeout", "quarantinetime", "musiconhold", "name",
				"id", "leavewhenempty", "conditionalmon", "monitorfilename", "monitor_format", "max_recordings",
				"len", "maxwait", "timestamp", "agents_total", "agents_loggedin", "agents_loggedoff", "agents_idle",
				"agents_oncall", "agents_paused", "agents_pending_logoff", "agents_pending_pause",
				"agents_logoff_pause", "agents_unavailable_quarantine", "agents_unavailable_wrapup",
				"sl_w1_a1", "sl_w1_a2", "sl_w1_a3", "sl_w2_a1", "sl_w2_a2", "sl_w2_a3", "sl_w3_a1", "sl_w3_a2", "sl_w3_a3"},
			// The sl_w*_a* fields are null in every sample: their type is not
			// shown, and they stay xs:string.
			integers: []string{"sl_answeredbefore_2", "maxlen", "sl_answeredbefore_1", "timeout", "sl_answeredbefore_3",
				"wrapuptime", "dialtimeout", "quarantinetime",
				"id", "max_recordings", "len", "maxwait", "timestamp", "agents_total", "agents_loggedin",
				"agents_loggedoff", "agents_idle", "agents_oncall", "agents_paused", "agents_pending_logoff",
				"agents_pending_pause", "agents_logoff_pause", "agents_unavailable_quarantine", "agents_unavailable_wrapup"},
			renames: map[string]string{"requiresendinfo": "requisendinfo"},
		},
		"SipUserInfo": {
			fields: []string{"fullcontact", "call_limit", "amaflags", "sendrpid", "useclientcode", "callgroup",
				"progressinband", "port", "musiconhold", "regseconds", "callerid", "ipaddr", "fromdomain", "md5secret",
				"secret", "nat", "type", "setvar", "username", "description", "insecure", "rtpholdtimeout", "disallow",
				"host", "promiscredir", "defaultip", "subscribecontext", "mailbox", "accountcode", "deny", "dtmfmode",
				"name", "language", "ignoreexpire", "qualify", "pickupgroup", "rpid", "canreinvite", "allow", "permit",
				"fromuser", "regexten", "trustrpid",
				"id", "rtptimeout", "route", "context", "location"},
			// qualify is 0 in the JSON sample but "no" in the XML one, and may
			// be yes, no or milliseconds: xs:string.
			integers: []string{"call_limit", "port", "regseconds", "rtpholdtimeout", "id", "rtptimeout"},
			renames:  map[string]string{"call-limit": "call_limit", "ignoreregexpire": "ignoreexpire"},
		},
	}
}

// arrayType names the list type of a result as the replies' type
// attribute shows it: "integerArray", "AgentLinesArray".
func (op soapOp) arrayType() string {
	switch op.result {
	case resultIntegers, resultTuples:
		return "integerArray"
	case resultObjects:
		return op.typ + "Array"
	}
	return ""
}

// schemaType names the WSDL type of the operation's result element.
// SipUserList's items are typed xs:integer in the replies but hold Python
// tuple text, ('0001',), which no integer parser reads: the WSDL gives them
// a list type of their own whose items are xs:string.
func (op soapOp) schemaType() string {
	switch op.result {
	case resultCode:
		return "xs:integer"
	case resultTuples:
		return "tns:tupleArray"
	case resultIntegers, resultObjects:
		return "tns:" + op.arrayType()
	case resultObject:
		return "tns:" + op.typ
	case resultPermission:
		return "tns:permission"
	}
	return "xs:string"
}

func (op soapOp) isList(param string) bool {
	for _, l := range op.lists {
		if l == param {
			return true
		}
	}
	return false
}

func (d *ivws) sortedOps() []string {
	names := make([]string, 0, len(d.ops))
	for n := range d.ops {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// document writes the endpoint's WSDL 1.1 document: document/literal,
// target namespace Ivws.Ivws, elementFormDefault qualified.
//
// Every request element is an optional, nillable xs:string except <key>:
// IVWS reads text, and the reference's own requests send empty elements
// for unset integer fields (<timeout></timeout>), which xs:integer would
// refuse. The numbered items of <lines> and <queues> are open content.
//
// Results are typed as the reference's reply samples show them: the return
// code of the action methods and of {code, location} as xs:integer, each
// field of an object as soapType says, AgentList's and QueueList's items as
// xs:integer. The replies also carry an xsi:type in the 1999 XML Schema
// instance namespace, as the reference's do; schema-driven clients go by
// the WSDL. A list is a complex type with one repeated element and nothing
// else (no attribute: the replies' type="tns:...Array" is left undeclared),
// which zeep and other SOAP stacks hand over as a plain list. Every object
// type ends with an xs:any, so a field added later does not break such a
// client.
func (d *ivws) document(address string) []byte {
	var b bytes.Buffer
	w := func(s ...string) {
		for _, p := range s {
			b.WriteString(p)
		}
	}
	esc := func(s string) string {
		var e bytes.Buffer
		_ = xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	ops := d.sortedOps()

	w(`<?xml version="1.0" encoding="UTF-8"?>`, "\n",
		`<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"`,
		` xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"`,
		` xmlns:xs="http://www.w3.org/2001/XMLSchema"`,
		` xmlns:tns="`, ivwsNamespace, `" targetNamespace="`, ivwsNamespace, `" name="Ivws">`, "\n")

	w(` <wsdl:types>`, "\n", `  <xs:schema targetNamespace="`, ivwsNamespace, `" elementFormDefault="qualified">`, "\n")
	// Shared types.
	w(`   <xs:complexType name="itemList"><xs:sequence>`,
		`<xs:any minOccurs="0" maxOccurs="unbounded" processContents="lax"/>`,
		`</xs:sequence></xs:complexType>`, "\n")
	w(`   <xs:complexType name="integerArray"><xs:sequence>`,
		`<xs:element name="integer" type="xs:integer" minOccurs="0" maxOccurs="unbounded" nillable="true"/>`,
		`</xs:sequence></xs:complexType>`, "\n")
	w(`   <xs:complexType name="tupleArray"><xs:sequence>`,
		`<xs:element name="integer" type="xs:string" minOccurs="0" maxOccurs="unbounded" nillable="true"/>`,
		`</xs:sequence></xs:complexType>`, "\n")
	typeNames := make([]string, 0, len(d.types))
	for n := range d.types {
		typeNames = append(typeNames, n)
	}
	sort.Strings(typeNames)
	for _, n := range typeNames {
		w(`   <xs:complexType name="`, n, `"><xs:sequence>`)
		t := d.types[n]
		for _, f := range t.fields {
			w(`<xs:element name="`, f, `" type="`, t.xsType(f), `" minOccurs="0" nillable="true"/>`)
		}
		w(`<xs:any minOccurs="0" maxOccurs="unbounded" processContents="lax"/>`,
			`</xs:sequence></xs:complexType>`, "\n")
	}
	for _, n := range []string{"AgentLines", "AgentQueues", "QueueMembers"} {
		w(`   <xs:complexType name="`, n, `Array"><xs:sequence>`,
			`<xs:element name="`, n, `" type="tns:`, n, `" minOccurs="0" maxOccurs="unbounded"/>`,
			`</xs:sequence></xs:complexType>`, "\n")
	}
	w(`   <xs:complexType name="permission"><xs:sequence>`,
		`<xs:element name="code" type="xs:integer" minOccurs="0"/>`,
		`<xs:element name="location" type="xs:string" minOccurs="0" nillable="true"/>`,
		`</xs:sequence></xs:complexType>`, "\n")
	// Operation elements.
	for _, name := range ops {
		op := d.ops[name]
		w(`   <xs:element name="`, name, `"><xs:complexType><xs:sequence>`,
			`<xs:element name="key" type="xs:string"/>`)
		for _, p := range op.params {
			typ := "xs:string"
			if op.isList(p) {
				typ = "tns:itemList"
			}
			w(`<xs:element name="`, p, `" type="`, typ, `" minOccurs="0" nillable="true"/>`)
		}
		w(`</xs:sequence></xs:complexType></xs:element>`, "\n")
		w(`   <xs:element name="`, name, `Response"><xs:complexType><xs:sequence>`,
			`<xs:element name="`, name, `Result" type="`, op.schemaType(), `" minOccurs="0" nillable="true"/>`,
			`</xs:sequence></xs:complexType></xs:element>`, "\n")
	}
	w(`  </xs:schema>`, "\n", ` </wsdl:types>`, "\n")

	for _, name := range ops {
		w(` <wsdl:message name="`, name, `"><wsdl:part name="`, name, `" element="tns:`, name, `"/></wsdl:message>`, "\n")
		w(` <wsdl:message name="`, name, `Response"><wsdl:part name="`, name, `Response" element="tns:`, name, `Response"/></wsdl:message>`, "\n")
	}
	w(` <wsdl:portType name="Ivws">`, "\n")
	for _, name := range ops {
		w(`  <wsdl:operation name="`, name, `"><wsdl:input name="`, name, `" message="tns:`, name, `"/>`,
			`<wsdl:output name="`, name, `Response" message="tns:`, name, `Response"/></wsdl:operation>`, "\n")
	}
	w(` </wsdl:portType>`, "\n")
	w(` <wsdl:binding name="Ivws" type="tns:Ivws">`,
		`<soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>`, "\n")
	for _, name := range ops {
		w(`  <wsdl:operation name="`, name, `"><soap:operation soapAction="`, name, `" style="document"/>`,
			`<wsdl:input name="`, name, `"><soap:body use="literal"/></wsdl:input>`,
			`<wsdl:output name="`, name, `Response"><soap:body use="literal"/></wsdl:output></wsdl:operation>`, "\n")
	}
	w(` </wsdl:binding>`, "\n")
	w(` <wsdl:service name="Ivws"><wsdl:port name="Ivws" binding="tns:Ivws">`,
		`<soap:address location="`, esc(address), `"/></wsdl:port></wsdl:service>`, "\n")
	w(`</wsdl:definitions>`, "\n")
	return b.Bytes()
}
