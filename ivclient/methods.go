package ivclient

import "context"

// The wire arguments of each method, declared once: the json tag is the
// STOMP name, the xml tag the IVWS name, the iv tag the client's checks
// (required, digits; agent marks the "<accountcode>_<number>" arguments the
// methods prefix; item= names the IVWS elements of a list's items). The
// method table (table.go) reads the same tags.

type agentSessionArgs struct { // AgentLogoff, AgentUnpause
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"`
	User        string `json:"User" xml:"User" iv:"required,agent"`
}

type agentLoginArgs struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"`
	User        string `json:"User" xml:"User" iv:"required,agent"`
	Interface   string `json:"Interface" xml:"Interface" iv:"required"`
}

type agentPauseArgs struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"`
	User        string `json:"User" xml:"User" iv:"required,agent"`
	Reason      string `json:"Reason" xml:"Reason" iv:"required"`
}

type blindTransferArgs struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"`
	User        string `json:"Agent" xml:"User" iv:"required,agent"`
	Exten       string `json:"Exten" xml:"Exten" iv:"required"`
}

type newCallArgs struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"`
	User        string `json:"Agent" xml:"User" iv:"required,agent"`
	Exten       string `json:"Exten" xml:"Exten" iv:"required"`
	ExternalID  string `json:"External_id,omitempty" xml:"External_id,omitempty"`
}

type hangupArgs struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"`
	UniqueID    string `json:"Uniqueid" xml:"Uniqueid" iv:"required"`
}

type sendSmsArgs struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"`
	Number      string `json:"Number" xml:"Number" iv:"required"`
	Text        string `json:"Text" xml:"Text" iv:"required"`
}

type accountArgs struct { // AgentList, QueueList, SipUserList
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"`
}

type agentArgs struct { // AgentDelete, AgentInfo, AgentLineList, AgentQueueList, Agent*Permission
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"`
	User        string `json:"user" xml:"user" iv:"required"`
}

type agentLocationArgs struct {
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"`
	User        string `json:"user" xml:"user" iv:"required"`
	Location    string `json:"location" xml:"location" iv:"required"`
}

type nameArgs struct { // Queue*, SipUser*, AgentQueueMembers
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"`
	Name        string `json:"name" xml:"name" iv:"required"`
}

type nameLocationArgs struct {
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"`
	Name        string `json:"name" xml:"name" iv:"required"`
	Location    string `json:"location" xml:"location" iv:"required"`
}

type agentModifyArgs struct {
	OriginalAccountcode string `json:"original_accountcode" xml:"original_accountcode" iv:"required"`
	OriginalUser        string `json:"original_user" xml:"original_user" iv:"required"`
	Agent               `iv:"optional"`
}

type queueModifyArgs struct {
	OriginalAccountcode string `json:"original_accountcode" xml:"original_accountcode" iv:"required"`
	OriginalName        string `json:"original_name" xml:"original_name" iv:"required"`
	Queue               `iv:"optional"`
}

type sipUserModifyArgs struct {
	OriginalAccountcode string `json:"original_accountcode" xml:"original_accountcode" iv:"required"`
	OriginalName        string `json:"original_name" xml:"original_name" iv:"required"`
	SipUser             `iv:"optional"`
}

type agentLineAddArgs struct {
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"`
	User        string `json:"user" xml:"user" iv:"required"`
	Lines       []Line `json:"lines" xml:"lines" iv:"required,item=line"`
}

type agentLineDeleteArgs struct {
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"`
	User        string `json:"user" xml:"user" iv:"required"`
	Linenumber  int    `json:"linenumber,string" xml:"linenumber" iv:"required"`
}

type agentLineModifyArgs struct {
	OriginalAccountcode string `json:"original_accountcode" xml:"original_accountcode" iv:"required"`
	OriginalUser        string `json:"original_user" xml:"original_user" iv:"required"`
	OriginalLinenumber  int    `json:"original_linenumber,string" xml:"original_linenumber" iv:"required"`
	Inbound             *bit01 `json:"inbound,omitempty" xml:"inbound,omitempty"`
	Outbound            *bit01 `json:"outbound,omitempty" xml:"outbound,omitempty"`
}

type agentQueueAddArgs struct {
	Accountcode string            `json:"accountcode" xml:"accountcode" iv:"required"`
	User        string            `json:"user" xml:"user" iv:"required"`
	Queues      []QueueMembership `json:"queues" xml:"queues" iv:"required,item=queue"`
}

type agentQueueDeleteArgs struct {
	Accountcode string `json:"accountcode" xml:"accountcode" iv:"required"`
	User        string `json:"user" xml:"user" iv:"required"`
	Name        string `json:"name" xml:"name" iv:"required"`
}

type agentQueueModifyArgs struct {
	OriginalAccountcode string `json:"original_accountcode" xml:"original_accountcode" iv:"required"`
	OriginalUser        string `json:"original_user" xml:"original_user" iv:"required"`
	OriginalName        string `json:"original_name" xml:"original_name" iv:"required"`
	Priority            int    `json:"priority,string" xml:"priority"`
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

// --- Agent sessions and calls ---

// AgentLogin logs the agent in on the telephony interface iface (such as
// "SIP/default_0001"), so that it can make and receive calls. user is
// "<accountcode>_<number>" ("default_1001"); a bare number is prefixed with
// the accountcode (see WithRawAgentNames).
func (c *Client) AgentLogin(ctx context.Context, accountcode, user, iface string) error {
	return c.call(ctx, "AgentLogin", &agentLoginArgs{accountcode, c.agentName(accountcode, user), iface}, nil)
}

// AgentLogoff logs the agent off.
func (c *Client) AgentLogoff(ctx context.Context, accountcode, user string) error {
	return c.call(ctx, "AgentLogoff", &agentSessionArgs{Accountcode: accountcode, User: c.agentName(accountcode, user)}, nil)
}

// AgentPause pauses the agent so that it receives no calls; reason is the
// pause number defined in Telephony/Agent Pauses.
func (c *Client) AgentPause(ctx context.Context, accountcode, user, reason string) error {
	return c.call(ctx, "AgentPause", &agentPauseArgs{accountcode, c.agentName(accountcode, user), reason}, nil)
}

// AgentUnpause unpauses the agent.
func (c *Client) AgentUnpause(ctx context.Context, accountcode, user string) error {
	return c.call(ctx, "AgentUnpause", &agentSessionArgs{Accountcode: accountcode, User: c.agentName(accountcode, user)}, nil)
}

// BlindTransfer redirects every call the agent has to exten: a queue,
// another agent or an external number.
func (c *Client) BlindTransfer(ctx context.Context, accountcode, user, exten string) error {
	return c.call(ctx, "BlindTransfer", &blindTransferArgs{accountcode, c.agentName(accountcode, user), exten}, nil)
}

// NewCall calls the agent and then exten, and bridges them. externalID is
// the partner's own identifier for the call (may be empty). The call's
// progress arrives as events: NEWCALL and CONNECT for the agent's leg,
// DNEWCALL and DCONNECT for the remote party, then HANGUP.
//
// NewCall is never retried by the SDK: a lost reply does not mean the call
// was not placed.
func (c *Client) NewCall(ctx context.Context, accountcode, user, exten, externalID string) error {
	return c.call(ctx, "NewCall", &newCallArgs{accountcode, c.agentName(accountcode, user), exten, externalID}, nil)
}

// Hangup ends the call with the given uniqueid (from its NEWCALL event).
func (c *Client) Hangup(ctx context.Context, accountcode, uniqueID string) error {
	return c.call(ctx, "Hangup", &hangupArgs{accountcode, uniqueID}, nil)
}

// SendSms sends the text message text to the mobile number.
func (c *Client) SendSms(ctx context.Context, accountcode, number, text string) error {
	return c.call(ctx, "SendSms", &sendSmsArgs{accountcode, number, text}, nil)
}

// NewCallBack appends a call to the callback list.
func (c *Client) NewCallBack(ctx context.Context, cb CallBack) error {
	return c.call(ctx, "NewCallBack", &cb, nil)
}

// --- Agents ---

// AgentAdd creates an agent. Accountcode and User (digits) are required.
func (c *Client) AgentAdd(ctx context.Context, a Agent) error {
	return c.call(ctx, "AgentAdd", &a, nil)
}

// AgentModify changes the agent identified by originalAccountcode and
// originalUser; the fields of a left empty are left unchanged (set User to
// renumber the agent).
func (c *Client) AgentModify(ctx context.Context, originalAccountcode, originalUser string, a Agent) error {
	return c.call(ctx, "AgentModify", &agentModifyArgs{originalAccountcode, originalUser, a}, nil)
}

// AgentDelete deletes an agent.
func (c *Client) AgentDelete(ctx context.Context, accountcode, user string) error {
	return c.call(ctx, "AgentDelete", &agentArgs{accountcode, user}, nil)
}

// AgentList returns the numbers of the accountcode's agents.
func (c *Client) AgentList(ctx context.Context, accountcode string) ([]string, error) {
	var out stringList
	if err := c.call(ctx, "AgentList", &accountArgs{accountcode}, &out); err != nil {
		return nil, err
	}
	return []string(out), nil
}

// AgentInfo returns everything the platform knows of an agent.
func (c *Client) AgentInfo(ctx context.Context, accountcode, user string) (*AgentInfo, error) {
	var out AgentInfo
	if err := c.call(ctx, "AgentInfo", &agentArgs{accountcode, user}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// --- Agent lines ---

// AgentLineAdd adds lines to an agent.
func (c *Client) AgentLineAdd(ctx context.Context, accountcode, user string, lines ...Line) error {
	return c.call(ctx, "AgentLineAdd", &agentLineAddArgs{accountcode, user, lines}, nil)
}

// AgentLineDelete deletes one of the agent's lines. The platform refuses
// to delete an agent's only line; change it with AgentLineModify instead.
func (c *Client) AgentLineDelete(ctx context.Context, accountcode, user string, linenumber int) error {
	return c.call(ctx, "AgentLineDelete", &agentLineDeleteArgs{accountcode, user, linenumber}, nil)
}

// AgentLineModify enables or disables an agent line for inbound and
// outbound calls; a nil flag is left unchanged.
func (c *Client) AgentLineModify(ctx context.Context, originalAccountcode, originalUser string, originalLinenumber int, inbound, outbound *bool) error {
	return c.call(ctx, "AgentLineModify", &agentLineModifyArgs{originalAccountcode, originalUser, originalLinenumber, bitPtr(inbound), bitPtr(outbound)}, nil)
}

// AgentLineList returns the agent's lines.
func (c *Client) AgentLineList(ctx context.Context, accountcode, user string) ([]AgentLine, error) {
	var out structList[AgentLine]
	if err := c.call(ctx, "AgentLineList", &agentArgs{accountcode, user}, &out); err != nil {
		return nil, err
	}
	return []AgentLine(out), nil
}

// --- Agent queue memberships ---

// AgentQueueAdd makes the agent a member of queues, each with a priority.
func (c *Client) AgentQueueAdd(ctx context.Context, accountcode, user string, queues ...QueueMembership) error {
	return c.call(ctx, "AgentQueueAdd", &agentQueueAddArgs{accountcode, user, queues}, nil)
}

// AgentQueueDelete removes the agent from the queue name. The platform
// refuses to remove an agent from its only queue; change it with
// AgentQueueModify instead.
func (c *Client) AgentQueueDelete(ctx context.Context, accountcode, user, name string) error {
	return c.call(ctx, "AgentQueueDelete", &agentQueueDeleteArgs{accountcode, user, name}, nil)
}

// AgentQueueModify sets the agent's priority in a queue.
func (c *Client) AgentQueueModify(ctx context.Context, originalAccountcode, originalUser, originalName string, priority int) error {
	return c.call(ctx, "AgentQueueModify", &agentQueueModifyArgs{originalAccountcode, originalUser, originalName, priority}, nil)
}

// AgentQueueList returns the agent's queues and its priority in each.
func (c *Client) AgentQueueList(ctx context.Context, accountcode, user string) ([]AgentQueue, error) {
	var out structList[AgentQueue]
	if err := c.call(ctx, "AgentQueueList", &agentArgs{accountcode, user}, &out); err != nil {
		return nil, err
	}
	return []AgentQueue(out), nil
}

// AgentQueueMembers returns the members of the queue name.
func (c *Client) AgentQueueMembers(ctx context.Context, accountcode, name string) ([]QueueMember, error) {
	var out structList[QueueMember]
	if err := c.call(ctx, "AgentQueueMembers", &nameArgs{accountcode, name}, &out); err != nil {
		return nil, err
	}
	return []QueueMember(out), nil
}

// --- Agent permission groups ---

// AgentAddPermission puts the agent in the permission group location,
// which rules its outbound calls.
func (c *Client) AgentAddPermission(ctx context.Context, accountcode, user, location string) error {
	return c.call(ctx, "AgentAddPermission", &agentLocationArgs{accountcode, user, location}, nil)
}

// AgentDeletePermission removes the agent from its permission group.
func (c *Client) AgentDeletePermission(ctx context.Context, accountcode, user string) error {
	return c.call(ctx, "AgentDeletePermission", &agentArgs{accountcode, user}, nil)
}

// AgentModifyPermission moves the agent to the permission group location.
func (c *Client) AgentModifyPermission(ctx context.Context, accountcode, user, location string) error {
	return c.call(ctx, "AgentModifyPermission", &agentLocationArgs{accountcode, user, location}, nil)
}

// AgentInfoPermission returns the agent's permission group.
func (c *Client) AgentInfoPermission(ctx context.Context, accountcode, user string) (string, error) {
	var out permission
	if err := c.call(ctx, "AgentInfoPermission", &agentArgs{accountcode, user}, &out); err != nil {
		return "", err
	}
	return string(out), nil
}

// --- Queues ---

// QueueAdd creates a queue. Accountcode and Name (digits) are required.
func (c *Client) QueueAdd(ctx context.Context, q Queue) error {
	return c.call(ctx, "QueueAdd", &q, nil)
}

// QueueModify changes the queue identified by originalAccountcode and
// originalName; the fields of q left empty or nil are left unchanged (set
// Name to renumber the queue).
func (c *Client) QueueModify(ctx context.Context, originalAccountcode, originalName string, q Queue) error {
	return c.call(ctx, "QueueModify", &queueModifyArgs{originalAccountcode, originalName, q}, nil)
}

// QueueDelete deletes a queue.
func (c *Client) QueueDelete(ctx context.Context, accountcode, name string) error {
	return c.call(ctx, "QueueDelete", &nameArgs{accountcode, name}, nil)
}

// QueueList returns the extensions of the accountcode's queues.
func (c *Client) QueueList(ctx context.Context, accountcode string) ([]string, error) {
	var out stringList
	if err := c.call(ctx, "QueueList", &accountArgs{accountcode}, &out); err != nil {
		return nil, err
	}
	return []string(out), nil
}

// QueueInfo returns a queue's settings and current state.
func (c *Client) QueueInfo(ctx context.Context, accountcode, name string) (*QueueInfo, error) {
	var out QueueInfo
	if err := c.call(ctx, "QueueInfo", &nameArgs{accountcode, name}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// --- SIP users ---

// SipUserAdd creates a SIP user. Accountcode and Name (digits) are required.
func (c *Client) SipUserAdd(ctx context.Context, u SipUser) error {
	return c.call(ctx, "SipUserAdd", &u, nil)
}

// SipUserModify changes the SIP user identified by originalAccountcode and
// originalName; the fields of u left empty or nil are left unchanged.
func (c *Client) SipUserModify(ctx context.Context, originalAccountcode, originalName string, u SipUser) error {
	return c.call(ctx, "SipUserModify", &sipUserModifyArgs{originalAccountcode, originalName, u}, nil)
}

// SipUserDelete deletes a SIP user.
func (c *Client) SipUserDelete(ctx context.Context, accountcode, name string) error {
	return c.call(ctx, "SipUserDelete", &nameArgs{accountcode, name}, nil)
}

// SipUserList returns the names of the accountcode's SIP users.
func (c *Client) SipUserList(ctx context.Context, accountcode string) ([]string, error) {
	var out stringList
	if err := c.call(ctx, "SipUserList", &accountArgs{accountcode}, &out); err != nil {
		return nil, err
	}
	return []string(out), nil
}

// SipUserInfo returns everything the platform knows of a SIP user.
func (c *Client) SipUserInfo(ctx context.Context, accountcode, name string) (*SipUserInfo, error) {
	var out SipUserInfo
	if err := c.call(ctx, "SipUserInfo", &nameArgs{accountcode, name}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// --- SIP user permission groups ---

// SipUserAddPermission puts the SIP user in the permission group location.
func (c *Client) SipUserAddPermission(ctx context.Context, accountcode, name, location string) error {
	return c.call(ctx, "SipUserAddPermission", &nameLocationArgs{accountcode, name, location}, nil)
}

// SipUserDeletePermission removes the SIP user from its permission group.
func (c *Client) SipUserDeletePermission(ctx context.Context, accountcode, name string) error {
	return c.call(ctx, "SipUserDeletePermission", &nameArgs{accountcode, name}, nil)
}

// SipUserModifyPermission moves the SIP user to the permission group location.
func (c *Client) SipUserModifyPermission(ctx context.Context, accountcode, name, location string) error {
	return c.call(ctx, "SipUserModifyPermission", &nameLocationArgs{accountcode, name, location}, nil)
}

// SipUserInfoPermission returns the SIP user's permission group.
func (c *Client) SipUserInfoPermission(ctx context.Context, accountcode, name string) (string, error) {
	var out permission
	if err := c.call(ctx, "SipUserInfoPermission", &nameArgs{accountcode, name}, &out); err != nil {
		return "", err
	}
	return string(out), nil
}
