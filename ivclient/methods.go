package ivclient

import "context"

// The platform's 41 methods, in the order of its reference. The first
// paragraph of each doc comment is also the method's description in ivctl
// (internal/catalog is generated from this file and args.go).

// --- Agents ---

// AgentAdd creates an agent. Accountcode and User (digits) are required.
func (c *Client) AgentAdd(ctx context.Context, a Agent) error {
	return c.call(ctx, "AgentAdd", &a, nil)
}

// AgentDelete deletes an agent.
func (c *Client) AgentDelete(ctx context.Context, accountcode, user string) error {
	return c.call(ctx, "AgentDelete", &agentArgs{accountcode, user}, nil)
}

// AgentModify changes an agent: the fields given are changed, the others
// are left as they are.
//
// The agent is the one of originalAccountcode and originalUser; the fields
// of a left empty are not changed (set User to renumber the agent).
func (c *Client) AgentModify(ctx context.Context, originalAccountcode, originalUser string, a Agent) error {
	return c.call(ctx, "AgentModify", &agentModifyArgs{originalAccountcode, originalUser, a}, nil)
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

// AgentLineDelete deletes one of the agent's lines; the platform refuses
// to delete an agent's only line (change it with AgentLineModify).
func (c *Client) AgentLineDelete(ctx context.Context, accountcode, user string, linenumber int) error {
	return c.call(ctx, "AgentLineDelete", &agentLineDeleteArgs{accountcode, user, linenumber}, nil)
}

// AgentLineModify enables or disables an agent's line for inbound and
// outbound calls.
//
// A nil flag is left unchanged.
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

// AgentQueueAdd makes the agent a member of queues, with a priority in
// each.
func (c *Client) AgentQueueAdd(ctx context.Context, accountcode, user string, queues ...QueueMembership) error {
	return c.call(ctx, "AgentQueueAdd", &agentQueueAddArgs{accountcode, user, queues}, nil)
}

// AgentQueueDelete removes an agent from a queue; the platform refuses to
// remove an agent from its only queue (change it with AgentQueueModify).
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

// AgentQueueMembers returns the members of a queue.
func (c *Client) AgentQueueMembers(ctx context.Context, accountcode, name string) ([]QueueMember, error) {
	var out structList[QueueMember]
	if err := c.call(ctx, "AgentQueueMembers", &queueArgs{accountcode, name}, &out); err != nil {
		return nil, err
	}
	return []QueueMember(out), nil
}

// --- Agent permission groups ---

// AgentAddPermission puts an agent in a permission group, whose rules
// govern its outbound calls.
func (c *Client) AgentAddPermission(ctx context.Context, accountcode, user, location string) error {
	return c.call(ctx, "AgentAddPermission", &agentLocationArgs{accountcode, user, location}, nil)
}

// AgentDeletePermission removes the agent from its permission group.
func (c *Client) AgentDeletePermission(ctx context.Context, accountcode, user string) error {
	return c.call(ctx, "AgentDeletePermission", &agentArgs{accountcode, user}, nil)
}

// AgentModifyPermission moves an agent to another permission group.
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

// --- Agent sessions and calls ---

// AgentLogin logs an agent in on a telephony interface, such as
// "SIP/default_0001" (iface), so that it can make and receive calls.
//
// user is "<accountcode>_<number>" ("default_1001"); a bare number is
// prefixed with the accountcode (see WithRawAgentNames), as in every
// method of this section.
func (c *Client) AgentLogin(ctx context.Context, accountcode, user, iface string) error {
	return c.call(ctx, "AgentLogin", &agentLoginArgs{accountcode, user, iface}, nil)
}

// AgentLogoff logs the agent off.
func (c *Client) AgentLogoff(ctx context.Context, accountcode, user string) error {
	return c.call(ctx, "AgentLogoff", &agentSessionArgs{accountcode, user}, nil)
}

// AgentPause pauses an agent, so that it receives no calls, for a reason:
// a pause number defined in Telephony/Agent Pauses.
func (c *Client) AgentPause(ctx context.Context, accountcode, user, reason string) error {
	return c.call(ctx, "AgentPause", &agentPauseArgs{accountcode, user, reason}, nil)
}

// AgentUnpause unpauses the agent, so that it receives calls again.
func (c *Client) AgentUnpause(ctx context.Context, accountcode, user string) error {
	return c.call(ctx, "AgentUnpause", &agentSessionArgs{accountcode, user}, nil)
}

// BlindTransfer redirects every call the agent has to an extension (exten):
// a queue, another agent or an external number.
func (c *Client) BlindTransfer(ctx context.Context, accountcode, user, exten string) error {
	return c.call(ctx, "BlindTransfer", &blindTransferArgs{accountcode, user, exten}, nil)
}

// NewCall calls the agent, then an extension (exten), and bridges them;
// the call's progress arrives as events (NEWCALL and CONNECT for the
// agent's leg, DNEWCALL and DCONNECT for the remote party, then HANGUP).
// Never retried: a lost reply does not mean the call was not placed.
//
// externalID is the partner's own identifier for the call (may be empty).
func (c *Client) NewCall(ctx context.Context, accountcode, user, exten, externalID string) error {
	return c.call(ctx, "NewCall", &newCallArgs{accountcode, user, exten, externalID}, nil)
}

// SendSms sends a text message to a mobile number.
func (c *Client) SendSms(ctx context.Context, accountcode, number, text string) error {
	return c.call(ctx, "SendSms", &sendSmsArgs{accountcode, number, text}, nil)
}

// NewCallBack appends a call to the callback list.
func (c *Client) NewCallBack(ctx context.Context, cb CallBack) error {
	return c.call(ctx, "NewCallBack", &cb, nil)
}

// Hangup ends the call with the given uniqueid (from its NEWCALL event).
func (c *Client) Hangup(ctx context.Context, accountcode, uniqueID string) error {
	return c.call(ctx, "Hangup", &hangupArgs{accountcode, uniqueID}, nil)
}

// --- Queues ---

// QueueAdd creates a queue; the platform's defaults apply to the settings
// left out. Accountcode and Name (digits) are required.
func (c *Client) QueueAdd(ctx context.Context, q Queue) error {
	return c.call(ctx, "QueueAdd", &q, nil)
}

// QueueModify changes a queue: the fields given are changed, the others
// are left as they are.
//
// The queue is the one of originalAccountcode and originalName; the fields
// of q left empty or nil are not changed (set Name to renumber the queue).
func (c *Client) QueueModify(ctx context.Context, originalAccountcode, originalName string, q Queue) error {
	return c.call(ctx, "QueueModify", &queueModifyArgs{originalAccountcode, originalName, q}, nil)
}

// QueueDelete deletes a queue.
func (c *Client) QueueDelete(ctx context.Context, accountcode, name string) error {
	return c.call(ctx, "QueueDelete", &queueArgs{accountcode, name}, nil)
}

// QueueList returns the extensions of the accountcode's queues.
func (c *Client) QueueList(ctx context.Context, accountcode string) ([]string, error) {
	var out stringList
	if err := c.call(ctx, "QueueList", &accountArgs{accountcode}, &out); err != nil {
		return nil, err
	}
	return []string(out), nil
}

// QueueInfo returns a queue's settings and its current state (callers
// waiting, agents logged in, ...).
func (c *Client) QueueInfo(ctx context.Context, accountcode, name string) (*QueueInfo, error) {
	var out QueueInfo
	if err := c.call(ctx, "QueueInfo", &queueArgs{accountcode, name}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// --- SIP users ---

// SipUserAdd creates a SIP user; the platform's defaults apply to the
// settings left out. Accountcode and Name (digits) are required.
func (c *Client) SipUserAdd(ctx context.Context, u SipUser) error {
	return c.call(ctx, "SipUserAdd", &u, nil)
}

// SipUserModify changes a SIP user: the fields given are changed, the
// others are left as they are.
//
// The SIP user is the one of originalAccountcode and originalName; the
// fields of u left empty or nil are not changed.
func (c *Client) SipUserModify(ctx context.Context, originalAccountcode, originalName string, u SipUser) error {
	return c.call(ctx, "SipUserModify", &sipUserModifyArgs{originalAccountcode, originalName, u}, nil)
}

// SipUserDelete deletes a SIP user.
func (c *Client) SipUserDelete(ctx context.Context, accountcode, name string) error {
	return c.call(ctx, "SipUserDelete", &sipUserArgs{accountcode, name}, nil)
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
	if err := c.call(ctx, "SipUserInfo", &sipUserArgs{accountcode, name}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// --- SIP user permission groups ---

// SipUserAddPermission puts a SIP user in a permission group, whose rules
// govern its outbound calls.
func (c *Client) SipUserAddPermission(ctx context.Context, accountcode, name, location string) error {
	return c.call(ctx, "SipUserAddPermission", &sipUserLocationArgs{accountcode, name, location}, nil)
}

// SipUserDeletePermission removes the SIP user from its permission group.
func (c *Client) SipUserDeletePermission(ctx context.Context, accountcode, name string) error {
	return c.call(ctx, "SipUserDeletePermission", &sipUserArgs{accountcode, name}, nil)
}

// SipUserModifyPermission moves a SIP user to another permission group.
func (c *Client) SipUserModifyPermission(ctx context.Context, accountcode, name, location string) error {
	return c.call(ctx, "SipUserModifyPermission", &sipUserLocationArgs{accountcode, name, location}, nil)
}

// SipUserInfoPermission returns the SIP user's permission group.
func (c *Client) SipUserInfoPermission(ctx context.Context, accountcode, name string) (string, error) {
	var out permission
	if err := c.call(ctx, "SipUserInfoPermission", &sipUserArgs{accountcode, name}, &out); err != nil {
		return "", err
	}
	return string(out), nil
}
