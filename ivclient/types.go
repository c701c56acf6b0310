package ivclient

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/instantvoice/instantvoice-go/internal/wire"
)

// Bodies: what the Add and Modify methods send. Every field carries its wire
// names: the json tag is the STOMP name, the xml tag the IVWS (SOAP) name.
// Optional fields are left out when empty (strings) or nil (pointers); with
// the Modify methods, a field left out is left unchanged by the platform.

// Agent is the body of AgentAdd and AgentModify.
type Agent struct {
	Accountcode string `json:"accountcode,omitempty" xml:"accountcode,omitempty" iv:"required"` // the agent's accountcode, e.g. default
	User        string `json:"user,omitempty" xml:"user,omitempty" iv:"required,digits"`        // the agent's number, an integer unique in the accountcode
	Pass        string `json:"pass,omitempty" xml:"passwd,omitempty" iv:"digits"`               // the agent's login password, digits
	Name        string `json:"name,omitempty" xml:"name,omitempty"`                             // the agent's name or a short description, for information only
}

// Queue is the body of QueueAdd and QueueModify. The platform's defaults
// apply to the fields left out.
type Queue struct {
	Accountcode       string `json:"accountcode,omitempty" xml:"accountcode,omitempty" iv:"required"`   // the queue's accountcode, e.g. default
	Name              string `json:"name,omitempty" xml:"name,omitempty" iv:"required,digits"`          // the queue's extension, e.g. 7000
	Description       string `json:"description,omitempty" xml:"description,omitempty"`                 // a description, for information only
	SLAnsweredBefore1 *int   `json:"sl_answeredbefore_1,omitempty" xml:"sl_answeredbefore_1,omitempty"` // the first service-level interval, seconds below 300 (default 30)
	SLAnsweredBefore2 *int   `json:"sl_answeredbefore_2,omitempty" xml:"sl_answeredbefore_2,omitempty"` // the second service-level interval, seconds below 900 (default 60)
	SLAnsweredBefore3 *int   `json:"sl_answeredbefore_3,omitempty" xml:"sl_answeredbefore_3,omitempty"` // the third service-level interval, seconds below 900 (default 60)
	JoinEmpty         string `json:"joinempty,omitempty" xml:"joinempty,omitempty"`                     // yes (default) lets callers join the queue when no agent is logged in to it; no
	RequireSendInfo   string `json:"requiresendinfo,omitempty" xml:"requiresendinfo,omitempty"`         // yes (default) hangs up the call when CTI information cannot reach the agent; no
	Timeout           *int   `json:"timeout,omitempty" xml:"timeout,omitempty"`                         // seconds a caller may wait in the queue; 0 (default) forever
	DialTimeout       *int   `json:"dialtimeout,omitempty" xml:"dialtimeout,omitempty"`                 // seconds per dial attempt to an agent (default 10); 0 no timeout
	MaxLen            *int   `json:"maxlen,omitempty" xml:"maxlen,omitempty"`                           // the most callers waiting; 0 (default) no limit
	WrapupTime        *int   `json:"wrapuptime,omitempty" xml:"wrapuptime,omitempty"`                   // the least seconds between an agent's calls (default 0)
	QuarantineTime    *int   `json:"quarantinetime,omitempty" xml:"quarantinetime,omitempty"`           // seconds of quarantine for an agent who does not answer a call (default 0)
	Announce          string `json:"announce,omitempty" xml:"announce,omitempty"`                       // a sound file played to the agent before the caller is bridged
	MusicOnHold       string `json:"musiconhold,omitempty" xml:"musiconhold,omitempty"`                 // the music-on-hold class played to waiting callers
}

// SipUser is the body of SipUserAdd and SipUserModify. Yes/no settings take
// "yes" or "no"; the platform's defaults apply to the fields left out. The
// fields are in the order of the reference's IVWS request, which SOAP sends.
type SipUser struct {
	Accountcode      string `json:"accountcode,omitempty" xml:"accountcode,omitempty" iv:"required"` // the SIP user's accountcode, e.g. default
	Name             string `json:"name,omitempty" xml:"name,omitempty" iv:"required,digits"`        // the SIP user's extension, digits unique in the accountcode
	Description      string `json:"description,omitempty" xml:"description,omitempty"`               // a description of the user
	Allow            string `json:"allow,omitempty" xml:"allow,omitempty"`                           // voice codecs by preference, ;-separated: ilbc, gsm, ulaw, alaw, g729 (default ilbc;gsm;ulaw;alaw)
	AMAFlags         string `json:"amaflags,omitempty" xml:"amaflags,omitempty"`                     // CDR category: default (default), omit, billing or documentation
	CallLimit        *int   `json:"call-limit,omitempty" xml:"call_limit,omitempty"`                 // simultaneous calls through the user; 0 (default) no limit
	CallerID         string `json:"callerid,omitempty" xml:"callerid,omitempty"`                     // the user's callerid
	CallGroup        string `json:"callgroup,omitempty" xml:"callgroup,omitempty"`                   // call groups, integers ,-separated
	CanReinvite      string `json:"canreinvite,omitempty" xml:"canreinvite,omitempty"`               // yes (default) or no: the client supports SIP re-invites
	Context          string `json:"context,omitempty" xml:"context,omitempty"`                       // the context of the user's calls (default instantvoice_agent)
	DefaultIP        string `json:"defaultip,omitempty" xml:"defaultip,omitempty"`                   // the IP address used when host is dynamic
	Deny             string `json:"deny,omitempty" xml:"deny,omitempty"`                             // an IP address or network whose SIP traffic is refused
	Disallow         string `json:"disallow,omitempty" xml:"disallow,omitempty"`                     // codecs refused, ;-separated, or all
	DTMFMode         string `json:"dtmfmode,omitempty" xml:"dtmfmode,omitempty"`                     // inband, info or rfc2833 (default)
	FromDomain       string `json:"fromdomain,omitempty" xml:"fromdomain,omitempty"`                 // the From: domain of SIP messages
	FromUser         string `json:"fromuser,omitempty" xml:"fromuser,omitempty"`                     // the user put in From: instead of the callerid
	FullContact      string `json:"fullcontact,omitempty" xml:"fullcontact,omitempty"`               // the SIP contact URI
	Host             string `json:"host,omitempty" xml:"host,omitempty"`                             // the client's IP address or host name, or dynamic (default) for a phone that registers
	IgnoreRegExpire  string `json:"ignoreregexpire,omitempty" xml:"ignoreexpire,omitempty"`          // yes or no (default): use a peer's contact even when it has expired
	Insecure         string `json:"insecure,omitempty" xml:"insecure,omitempty"`                     // invite, port or invite,port
	IPAddr           string `json:"ipaddr,omitempty" xml:"ipaddr,omitempty"`                         // the user's IP address
	Language         string `json:"language,omitempty" xml:"language,omitempty"`                     // en_US (default), pt_BR or es_ES
	Mailbox          string `json:"mailbox,omitempty" xml:"mailbox,omitempty"`                       // the voicemail extension, for message-waiting indications
	MD5Secret        string `json:"md5secret,omitempty" xml:"md5secret,omitempty"`                   // MD5 of <user>:<realm>:<secret>, instead of secret
	MusicOnHold      string `json:"musiconhold,omitempty" xml:"musiconhold,omitempty"`               // the music-on-hold class
	NAT              string `json:"nat,omitempty" xml:"nat,omitempty"`                               // yes or no (default): the client is behind NAT
	Permit           string `json:"permit,omitempty" xml:"permit,omitempty"`                         // an IP address or network whose SIP traffic is allowed
	PickupGroup      string `json:"pickupgroup,omitempty" xml:"pickupgroup,omitempty"`               // pickup groups, integers ,-separated
	Port             *int   `json:"port,omitempty" xml:"port,omitempty"`                             // the client's SIP port (default 5060)
	ProgressInBand   string `json:"progressinband,omitempty" xml:"progressinband,omitempty"`         // yes, no or never (default): generate in-band ringing
	PromiscRedir     string `json:"promiscredir,omitempty" xml:"promiscredir,omitempty"`             // yes or no (default): follow 302 redirects
	Qualify          string `json:"qualify,omitempty" xml:"qualify,omitempty"`                       // yes, no (default) or milliseconds: check that the client is reachable
	RegExten         string `json:"regexten,omitempty" xml:"regexten,omitempty"`                     // the extension used in registrations
	RegSeconds       *int   `json:"regseconds,omitempty" xml:"regseconds,omitempty"`                 // seconds between SIP REGISTERs (default 0)
	RPID             string `json:"rpid,omitempty" xml:"rpid,omitempty"`                             // the Remote-Party-ID header
	RTPHoldTimeout   *int   `json:"rtpholdtimeout,omitempty" xml:"rtpholdtimeout,omitempty"`         // seconds without media before a held call ends (default 0)
	Secret           string `json:"secret,omitempty" xml:"secret,omitempty"`                         // the user's SIP password
	SendRPID         string `json:"sendrpid,omitempty" xml:"sendrpid,omitempty"`                     // yes or no (default): send a Remote-Party-ID header
	SetVar           string `json:"setvar,omitempty" xml:"setvar,omitempty"`                         // a channel variable set on the user's calls, variable=value
	SubscribeContext string `json:"subscribecontext,omitempty" xml:"subscribecontext,omitempty"`     // the context of SIP SUBSCRIBE requests
	TrustRPID        string `json:"trustrpid,omitempty" xml:"trustrpid,omitempty"`                   // yes or no: trust the Remote-Party-ID header
	Type             string `json:"type,omitempty" xml:"type,omitempty"`                             // user, friend (default) or peer
	UseClientCode    string `json:"useclientcode,omitempty" xml:"useclientcode,omitempty"`           // yes or no: take the CDR's originator from an X-ClientCode header
	Username         string `json:"username,omitempty" xml:"username,omitempty" iv:"digits"`         // the user name for authenticating INVITEs, digits
	Route            string `json:"route,omitempty" xml:"route,omitempty"`                           // yes or no (default): the peer is another brick of the platform
	MACAddr          string `json:"macaddr,omitempty" xml:"macaddr,omitempty"`                       // the MAC address of the user's hardphone
	Location         string `json:"location,omitempty" xml:"location,omitempty"`                     // the user's permission group (an existing group)
}

// Line is one agent line for AgentLineAdd.
type Line struct {
	Number   int   `json:"linenumber,string" xml:"linenumber" iv:"required"` // the line's number, unique per agent
	Inbound  *bool `json:"inbound,omitempty" xml:"inbound,omitempty"`        // 1 (default) if the line receives calls, 0 if not
	Outbound *bool `json:"outbound,omitempty" xml:"outbound,omitempty"`      // 1 (default) if the line places calls, 0 if not
}

// MarshalJSON sends the line as the reference shows it:
// {"linenumber":"1","inbound":"0","outbound":"1"}.
func (l Line) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Number   int    `json:"linenumber,string"`
		Inbound  *bit01 `json:"inbound,omitempty"`
		Outbound *bit01 `json:"outbound,omitempty"`
	}{l.Number, bitPtr(l.Inbound), bitPtr(l.Outbound)})
}

// QueueMembership is one queue of an agent for AgentQueueAdd.
type QueueMembership struct {
	Name     string `json:"name" xml:"name" iv:"required,digits"` // the queue's extension (an existing queue)
	Priority int    `json:"priority,string" xml:"priority"`       // the agent's priority in the queue, an integer
}

// CallBack is the body of NewCallBack.
type CallBack struct {
	Accountcode string `json:"Accountcode" xml:"Accountcode" iv:"required"`       // the agent's accountcode, e.g. default
	RuleID      string `json:"Ruleid,omitempty" xml:"-"`                          // the callback rule (STOMP only)
	Mcdu        string `json:"Mcdu" xml:"Mcdu" iv:"required,digits"`              // the number of the MCDU that executes the callback
	Originator  string `json:"Originator" xml:"Originator" iv:"required"`         // the telephone number to call back
	Language    string `json:"Language,omitempty" xml:"Language,omitempty"`       // pt_BR or en_US
	LocationID  string `json:"Location_id,omitempty" xml:"Location_id,omitempty"` // the permission group's id
	QueueID     string `json:"Queue_id,omitempty" xml:"Queue_id,omitempty"`       // the queue's id
	Email       string `json:"Email,omitempty" xml:"Email,omitempty"`             // where to report a failed callback
}

// Results: what the Info and List methods return. Every result keeps the
// fields it does not name in Extra, and decodes the platform's loose types
// (numbers as strings and back, null, the XML-only field names).

// AgentInfo is the result of AgentInfo.
type AgentInfo struct {
	ID            int    `json:"id" alias:"agents_id"`
	Accountcode   string `json:"accountcode"`
	User          string `json:"user"` // "<accountcode>_<number>" over STOMP, the number over SOAP
	Name          string `json:"name"`
	Pass          string `json:"pass" alias:"passwd"`
	Extension     string `json:"extension"`
	Interface     string `json:"interface"`
	AgentStatus   string `json:"agentstatus"`   // LOGOFF, LOGIN, PAUSE, ...
	AgentStatusTS int64  `json:"agentstatusts"` // Unix time of the last status change
	LoginTS       int64  `json:"logints"`       // Unix time of the login
	Disabled      bool   `json:"disabled"`
	PauseReason   string `json:"reasons_reason"` // the current pause's description
	// Extra holds the fields the platform sent that the struct does not name.
	Extra map[string]any
}

// UnmarshalJSON decodes the platform's JSON leniently: numbers given as
// strings and back, null as the zero value, the XML-only field names as
// aliases, and every field the struct does not name kept in Extra.
func (a *AgentInfo) UnmarshalJSON(b []byte) error {
	type plain AgentInfo
	return wire.DecodeLenient(b, (*plain)(a))
}

// MarshalJSON encodes the value with the platform's JSON field names, the
// members of Extra included, so that it decodes back to the same value.
func (a AgentInfo) MarshalJSON() ([]byte, error) {
	type plain AgentInfo
	return wire.EncodeWithExtra(plain(a))
}

// AgentLine is one line of AgentLineList.
type AgentLine struct {
	ID          int    `json:"id"`
	QueuesID    int    `json:"queues_id"`
	Accountcode string `json:"accountcode,omitempty"` // sent over SOAP only
	Number      int    `json:"linenumber"`
	Inbound     bool   `json:"inbound"`
	Outbound    bool   `json:"outbound"`
	Status      string `json:"linestatus"`   // IDLE, ...
	StatusTS    int64  `json:"linestatusts"` // Unix time of the last status change
	UniqueID    string `json:"uniqueid"`     // the call on the line, if any
	// Extra holds the fields the platform sent that the struct does not name.
	Extra map[string]any
}

// UnmarshalJSON decodes the platform's JSON leniently: numbers given as
// strings and back, null as the zero value, the XML-only field names as
// aliases, and every field the struct does not name kept in Extra.
func (l *AgentLine) UnmarshalJSON(b []byte) error {
	type plain AgentLine
	return wire.DecodeLenient(b, (*plain)(l))
}

// MarshalJSON encodes the value with the platform's JSON field names, the
// members of Extra included, so that it decodes back to the same value.
func (l AgentLine) MarshalJSON() ([]byte, error) {
	type plain AgentLine
	return wire.EncodeWithExtra(plain(l))
}

// AgentQueue is one queue of AgentQueueList.
type AgentQueue struct {
	Name     string `json:"name"`
	Priority int    `json:"priority"`
	// Extra holds the fields the platform sent that the struct does not name.
	Extra map[string]any
}

// UnmarshalJSON decodes the platform's JSON leniently: numbers given as
// strings and back, null as the zero value, the XML-only field names as
// aliases, and every field the struct does not name kept in Extra.
func (q *AgentQueue) UnmarshalJSON(b []byte) error {
	type plain AgentQueue
	return wire.DecodeLenient(b, (*plain)(q))
}

// MarshalJSON encodes the value with the platform's JSON field names, the
// members of Extra included, so that it decodes back to the same value.
func (q AgentQueue) MarshalJSON() ([]byte, error) {
	type plain AgentQueue
	return wire.EncodeWithExtra(plain(q))
}

// QueueMember is one member of AgentQueueMembers.
type QueueMember struct {
	User     string `json:"user"`
	Priority int    `json:"priority"`
	// Extra holds the fields the platform sent that the struct does not name.
	Extra map[string]any
}

// UnmarshalJSON decodes the platform's JSON leniently: numbers given as
// strings and back, null as the zero value, the XML-only field names as
// aliases, and every field the struct does not name kept in Extra.
func (m *QueueMember) UnmarshalJSON(b []byte) error {
	type plain QueueMember
	return wire.DecodeLenient(b, (*plain)(m))
}

// MarshalJSON encodes the value with the platform's JSON field names, the
// members of Extra included, so that it decodes back to the same value.
func (m QueueMember) MarshalJSON() ([]byte, error) {
	type plain QueueMember
	return wire.EncodeWithExtra(plain(m))
}

// QueueInfo is the result of QueueInfo: the queue's settings and its
// current state.
type QueueInfo struct {
	ID                int    `json:"id"`
	Accountcode       string `json:"accountcode"`
	Name              string `json:"name"` // "<accountcode>_<extension>" over STOMP, the extension over SOAP
	Description       string `json:"description"`
	SLAnsweredBefore1 int    `json:"sl_answeredbefore_1"`
	SLAnsweredBefore2 int    `json:"sl_answeredbefore_2"`
	SLAnsweredBefore3 int    `json:"sl_answeredbefore_3"`
	JoinEmpty         string `json:"joinempty"`
	LeaveWhenEmpty    string `json:"leavewhenempty"`
	RequireSendInfo   string `json:"requiresendinfo" alias:"requisendinfo"`
	Timeout           int    `json:"timeout"`
	DialTimeout       int    `json:"dialtimeout"`
	MaxLen            int    `json:"maxlen"`
	WrapupTime        int    `json:"wrapuptime"`
	QuarantineTime    int    `json:"quarantinetime"`
	Announce          string `json:"announce"`
	MusicOnHold       string `json:"musiconhold"`
	ConditionalMon    string `json:"conditionalmon"`
	MonitorFilename   string `json:"monitorfilename"`
	MonitorFormat     string `json:"monitor_format"`
	MaxRecordings     int    `json:"max_recordings"`
	// Current state.
	Len                         int   `json:"len"`     // callers waiting
	MaxWait                     int   `json:"maxwait"` // longest wait, seconds
	Timestamp                   int64 `json:"timestamp"`
	AgentsTotal                 int   `json:"agents_total"`
	AgentsLoggedIn              int   `json:"agents_loggedin"`
	AgentsLoggedOff             int   `json:"agents_loggedoff"`
	AgentsIdle                  int   `json:"agents_idle"`
	AgentsOnCall                int   `json:"agents_oncall"`
	AgentsPaused                int   `json:"agents_paused"`
	AgentsPendingLogoff         int   `json:"agents_pending_logoff"`
	AgentsPendingPause          int   `json:"agents_pending_pause"`
	AgentsLogoffPause           int   `json:"agents_logoff_pause"`
	AgentsUnavailableQuarantine int   `json:"agents_unavailable_quarantine"`
	AgentsUnavailableWrapup     int   `json:"agents_unavailable_wrapup"`
	// Extra holds the fields the platform sent that the struct does not name.
	Extra map[string]any
}

// UnmarshalJSON decodes the platform's JSON leniently: numbers given as
// strings and back, null as the zero value, the XML-only field names as
// aliases, and every field the struct does not name kept in Extra.
func (q *QueueInfo) UnmarshalJSON(b []byte) error {
	type plain QueueInfo
	return wire.DecodeLenient(b, (*plain)(q))
}

// MarshalJSON encodes the value with the platform's JSON field names, the
// members of Extra included, so that it decodes back to the same value.
func (q QueueInfo) MarshalJSON() ([]byte, error) {
	type plain QueueInfo
	return wire.EncodeWithExtra(plain(q))
}

// SipUserInfo is the result of SipUserInfo.
type SipUserInfo struct {
	ID               int    `json:"id"`
	Accountcode      string `json:"accountcode"`
	Name             string `json:"name"` // "<accountcode>_<extension>", as the reference shows it
	Description      string `json:"description"`
	Secret           string `json:"secret"`
	MD5Secret        string `json:"md5secret"`
	CallerID         string `json:"callerid"` // "" when the platform sends null
	Context          string `json:"context"`
	Host             string `json:"host"`
	IPAddr           string `json:"ipaddr"`
	Port             int    `json:"port"`
	DefaultIP        string `json:"defaultip"`
	FullContact      string `json:"fullcontact"`
	Username         string `json:"username"`
	Type             string `json:"type"`
	Allow            string `json:"allow"`
	Disallow         string `json:"disallow"`
	AMAFlags         string `json:"amaflags"`
	CallLimit        int    `json:"call-limit" alias:"call_limit,calllimit"`
	CallGroup        string `json:"callgroup"`
	PickupGroup      string `json:"pickupgroup"`
	CanReinvite      string `json:"canreinvite"`
	DTMFMode         string `json:"dtmfmode"`
	FromDomain       string `json:"fromdomain"`
	FromUser         string `json:"fromuser"`
	IgnoreRegExpire  string `json:"ignoreregexpire" alias:"ignoreexpire,ignoregexpire"`
	Insecure         string `json:"insecure"`
	Language         string `json:"language"`
	Mailbox          string `json:"mailbox"`
	MusicOnHold      string `json:"musiconhold"`
	NAT              string `json:"nat"`
	Permit           string `json:"permit"`
	Deny             string `json:"deny"`
	ProgressInBand   string `json:"progressinband"`
	PromiscRedir     string `json:"promiscredir"`
	Qualify          string `json:"qualify"`
	RegExten         string `json:"regexten"`
	RegSeconds       int64  `json:"regseconds"`
	RPID             string `json:"rpid"`
	SendRPID         string `json:"sendrpid"`
	TrustRPID        string `json:"trustrpid"`
	RTPTimeout       int    `json:"rtptimeout"`
	RTPHoldTimeout   int    `json:"rtpholdtimeout"`
	SetVar           string `json:"setvar"`
	SubscribeContext string `json:"subscribecontext"`
	UseClientCode    string `json:"useclientcode"`
	Route            string `json:"route"`
	MACAddr          string `json:"macaddr"`
	Location         string `json:"location"`
	// Extra holds the fields the platform sent that the struct does not name.
	Extra map[string]any
}

// UnmarshalJSON decodes the platform's JSON leniently: numbers given as
// strings and back, null as the zero value, the XML-only field names as
// aliases, and every field the struct does not name kept in Extra.
func (u *SipUserInfo) UnmarshalJSON(b []byte) error {
	type plain SipUserInfo
	return wire.DecodeLenient(b, (*plain)(u))
}

// MarshalJSON encodes the value with the platform's JSON field names, the
// members of Extra included, so that it decodes back to the same value.
func (u SipUserInfo) MarshalJSON() ([]byte, error) {
	type plain SipUserInfo
	return wire.EncodeWithExtra(plain(u))
}

// stringList decodes a list of names from the platform's forms: a JSON list
// of strings or numbers (Python-quoted lists arrive already normalised), a
// list wrapped in a one-key object (an XML list), or a single scalar.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	items, err := listItems(b)
	if err != nil {
		return err
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, err := wire.LenientString(it)
		if err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
		out = append(out, s)
	}
	*l = out
	return nil
}

// structList decodes a list of T (T's own UnmarshalJSON does the fields)
// from a JSON list, a list wrapped in a one-key object, or a single object.
type structList[T any] []T

func (l *structList[T]) UnmarshalJSON(b []byte) error {
	items, err := listItems(b)
	if err != nil {
		return err
	}
	out := make([]T, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it, &out[i]); err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
	}
	*l = out
	return nil
}

// listItems returns the items of a list in any of the platform's forms.
func listItems(b []byte) ([]json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	switch b[0] {
	case '[':
		var items []json.RawMessage
		err := json.Unmarshal(b, &items)
		return items, err
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, nil
		}
		if len(m) == 1 {
			for _, v := range m {
				v = bytes.TrimSpace(v)
				if len(v) > 0 && (v[0] == '[' || v[0] == '{') {
					return listItems(v)
				}
			}
		}
		return []json.RawMessage{b}, nil
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		if s == "" {
			return nil, nil
		}
		return []json.RawMessage{b}, nil
	default:
		return []json.RawMessage{b}, nil
	}
}

// permission decodes the result of the *InfoPermission methods: the
// permission group as a string or number ([0, "123"]), or an object with a
// "location" member (the IVWS form {code, location}).
type permission string

func (p *permission) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var r struct {
			Location string `json:"location"`
		}
		if err := wire.DecodeLenient(b, &r); err != nil {
			return err
		}
		*p = permission(r.Location)
		return nil
	}
	s, err := wire.LenientString(b)
	*p = permission(s)
	return err
}
