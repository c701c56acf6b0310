package ivclient

// The wire arguments of each method, declared once: the json tag is the
// STOMP name, the xml tag the IVWS name, the iv tag the client's checks
// (required; digits for the arguments the reference specifies as numbers;
// agent for the "<accountcode>_<number>" arguments, where a bare number is
// prefixed; item= names the IVWS elements of a list's items), and the
// comment says what the argument means. The method catalog ivctl shows is
// generated from these declarations and the methods' doc comments: after
// changing either, run go generate ./internal/catalog (a test fails until
// the committed catalog matches).

type agentSessionArgs struct { // AgentLogoff, AgentUnpause
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"` // the agent's accountcode, e.g. default
	User        string `json:"User" xml:"User" iv:"required,agent"`         // the agent, <accountcode>_<number> (default_1001); a bare number (1001) is prefixed with the accountcode
}

type agentLoginArgs struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"` // the agent's accountcode, e.g. default
	User        string `json:"User" xml:"User" iv:"required,agent"`         // the agent, <accountcode>_<number> (default_1001); a bare number (1001) is prefixed with the accountcode
	Interface   string `json:"Interface" xml:"Interface" iv:"required"`     // the telephony interface the agent answers on, <TECH>/<name>: SIP/default_0001, IAX2/default_230
}

type agentPauseArgs struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"` // the agent's accountcode, e.g. default
	User        string `json:"User" xml:"User" iv:"required,agent"`         // the agent, <accountcode>_<number> (default_1001); a bare number (1001) is prefixed with the accountcode
	Reason      string `json:"Reason" xml:"Reason" iv:"required,digits"`    // the pause number, as defined in Telephony/Agent Pauses
}

type blindTransferArgs struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"` // the agent's accountcode, e.g. default
	User        string `json:"Agent" xml:"User" iv:"required,agent"`        // the agent, <accountcode>_<number> (default_1001); a bare number (1001) is prefixed with the accountcode
	Exten       string `json:"Exten" xml:"Exten" iv:"required"`             // the extension the calls are redirected to: a queue, an agent or an external number
}

type newCallArgs struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"`       // the agent's accountcode, e.g. default
	User        string `json:"Agent" xml:"User" iv:"required,agent"`              // the agent, <accountcode>_<number> (default_1001); a bare number (1001) is prefixed with the accountcode
	Exten       string `json:"Exten" xml:"Exten" iv:"required"`                   // the extension to call
	ExternalID  string `json:"External_id,omitempty" xml:"External_id,omitempty"` // your own identifier for the call
}

type hangupArgs struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"` // the call's accountcode, e.g. default
	UniqueID    string `json:"Uniqueid" xml:"Uniqueid" iv:"required"`       // the call's uniqueid, from its NEWCALL event
}

type sendSmsArgs struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"` // the accountcode that sends the message, e.g. default
	Number      string `json:"Number" xml:"Number" iv:"required"`           // the mobile number the text is sent to
	Text        string `json:"Text" xml:"Text" iv:"required"`               // the text of the message
}

type accountArgs struct { // AgentList, QueueList, SipUserList
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"` // the accountcode whose items are listed, e.g. default
}

type agentArgs struct { // AgentDelete, AgentInfo, AgentLineList, AgentQueueList, Agent*Permission
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"` // the agent's accountcode, e.g. default
	User        string `json:"user" xml:"user" iv:"required,digits"`        // the agent's number, e.g. 1001
}

type agentLocationArgs struct {
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"` // the agent's accountcode, e.g. default
	User        string `json:"user" xml:"user" iv:"required,digits"`        // the agent's number, e.g. 1001
	Location    string `json:"location" xml:"location" iv:"required"`       // the permission group, which governs outbound calls (an existing group)
}

type queueArgs struct { // QueueDelete, QueueInfo, AgentQueueMembers
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"` // the queue's accountcode, e.g. default
	Name        string `json:"name" xml:"name" iv:"required,digits"`        // the queue's extension, e.g. 7000
}

type sipUserArgs struct { // SipUserDelete, SipUserInfo, SipUser*Permission
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"` // the SIP user's accountcode, e.g. default
	Name        string `json:"name" xml:"name" iv:"required,digits"`        // the SIP user's extension, e.g. 1010
}

type sipUserLocationArgs struct {
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"` // the SIP user's accountcode, e.g. default
	Name        string `json:"name" xml:"name" iv:"required,digits"`        // the SIP user's extension, e.g. 1010
	Location    string `json:"location" xml:"location" iv:"required"`       // the permission group, which governs outbound calls (an existing group)
}

type agentModifyArgs struct {
	OriginalAccountcode string `json:"original_accountcode" xml:"original_accountcode" iv:"required"` // the accountcode the agent has before the change
	OriginalUser        string `json:"original_user" xml:"original_user" iv:"required,digits"`        // the agent's number before the change
	Agent               `iv:"optional"`
}

type queueModifyArgs struct {
	OriginalAccountcode string `json:"original_accountcode" xml:"original_accountcode" iv:"required"` // the accountcode the queue has before the change
	OriginalName        string `json:"original_name" xml:"original_name" iv:"required,digits"`        // the queue's extension before the change
	Queue               `iv:"optional"`
}

type sipUserModifyArgs struct {
	OriginalAccountcode string `json:"original_accountcode" xml:"original_accountcode" iv:"required"` // the accountcode the SIP user has before the change
	OriginalName        string `json:"original_name" xml:"original_name" iv:"required,digits"`        // the SIP user's extension before the change
	SipUser             `iv:"optional"`
}

type agentLineAddArgs struct {
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"` // the agent's accountcode, e.g. default
	User        string `json:"user" xml:"user" iv:"required,digits"`        // the agent's number, e.g. 1001
	Lines       []Line `json:"lines" xml:"lines" iv:"required,item=line"`   // the lines, a JSON list: [{"linenumber":"1","inbound":"1","outbound":"1"}]
}

type agentLineDeleteArgs struct {
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"`      // the agent's accountcode, e.g. default
	User        string `json:"user" xml:"user" iv:"required,digits"`             // the agent's number, e.g. 1001
	Linenumber  int    `json:"linenumber,string" xml:"linenumber" iv:"required"` // the number of the agent's line
}

type agentLineModifyArgs struct {
	OriginalAccountcode string `json:"original_accountcode" xml:"original_accountcode" iv:"required"`      // the agent's accountcode
	OriginalUser        string `json:"original_user" xml:"original_user" iv:"required,digits"`             // the agent's number, e.g. 1001
	OriginalLinenumber  int    `json:"original_linenumber,string" xml:"original_linenumber" iv:"required"` // the number of the line to change
	Inbound             *bit01 `json:"inbound,omitempty" xml:"inbound,omitempty"`                          // 1 to enable the line for receiving calls, 0 to disable it
	Outbound            *bit01 `json:"outbound,omitempty" xml:"outbound,omitempty"`                        // 1 to enable the line for placing calls, 0 to disable it
}

type agentQueueAddArgs struct {
	Accountcode string            `json:"accountcode" xml:"accountcode" iv:"required"`  // the agent's accountcode, e.g. default
	User        string            `json:"user" xml:"user" iv:"required,digits"`         // the agent's number, e.g. 1001
	Queues      []QueueMembership `json:"queues" xml:"queues" iv:"required,item=queue"` // the queues, a JSON list: [{"name":"7000","priority":"0"}]
}

type agentQueueDeleteArgs struct {
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"` // the agent's and the queue's accountcode, e.g. default
	User        string `json:"user" xml:"user" iv:"required,digits"`        // the agent's number, e.g. 1001
	Name        string `json:"name" xml:"name" iv:"required,digits"`        // the queue's extension, e.g. 7000
}

type agentQueueModifyArgs struct {
	OriginalAccountcode string `json:"original_accountcode" xml:"original_accountcode" iv:"required"` // the agent's accountcode
	OriginalUser        string `json:"original_user" xml:"original_user" iv:"required,digits"`        // the agent's number, e.g. 1001
	OriginalName        string `json:"original_name" xml:"original_name" iv:"required,digits"`        // the queue's extension
	Priority            int    `json:"priority,string" xml:"priority"`                                // the agent's new priority in the queue, an integer
}

// bit01 is a flag sent as "1" or "0", as the line settings are.
type bit01 bool

// MarshalText sends the flag as "1" or "0".
func (b bit01) MarshalText() ([]byte, error) {
	if b {
		return []byte("1"), nil
	}
	return []byte("0"), nil
}

func bitPtr(b *bool) *bit01 {
	if b == nil {
		return nil
	}
	v := bit01(*b)
	return &v
}
