package ivclient

import "strings"

// argDoc says what an argument means, after the platform's reference.
// method is the method's name, or "<method>.<list>" for the members of a
// list's items (AgentLineAdd.lines).
func argDoc(method, name string) string {
	switch method {
	case "AgentLineAdd.lines":
		switch name {
		case "linenumber":
			return "the line's number, unique per agent"
		case "inbound":
			return "1 (default) if the line receives calls, 0 if not"
		case "outbound":
			return "1 (default) if the line places calls, 0 if not"
		}
	case "AgentQueueAdd.queues":
		switch name {
		case "name":
			return "the queue's extension (an existing queue)"
		case "priority":
			return "the agent's priority in the queue, an integer"
		}
	}
	what := "agent"
	switch {
	case strings.HasPrefix(method, "Queue"), method == "AgentQueueMembers", method == "AgentQueueDelete":
		what = "queue"
	case strings.HasPrefix(method, "SipUser"):
		what = "SIP user"
	}
	if what == "queue" && name == "name" {
		return "the queue's extension, e.g. 7000"
	}
	if d := queueArgDoc(name); d != "" && (method == "QueueAdd" || method == "QueueModify") {
		return d
	}
	if d := sipArgDoc(name); d != "" && (method == "SipUserAdd" || method == "SipUserModify") {
		return d
	}
	switch name {
	case "Accountcode", "accountcode":
		return "the " + what + "'s accountcode, e.g. default"
	case "original_accountcode":
		return "the accountcode the " + what + " has before the change"
	case "original_user":
		return "the agent's number before the change"
	case "original_name":
		if method == "AgentQueueModify" {
			return "the queue's extension"
		}
		return "the " + what + "'s extension before the change"
	case "original_linenumber":
		return "the number of the line to change"
	case "User", "Agent":
		return "the agent, <accountcode>_<number> (default_1001); a bare number (1001) is prefixed with the accountcode"
	case "user":
		if method == "AgentAdd" || method == "AgentModify" {
			return "the agent's number, an integer unique in the accountcode"
		}
		return "the agent's number, e.g. 1001"
	case "pass":
		return "the agent's login password, digits"
	case "name":
		if what == "SIP user" {
			return "the SIP user's extension, e.g. 1010"
		}
		return "the agent's name or a short description, for information only"
	case "Interface":
		return "the telephony interface the agent answers on, <TECH>/<name>: SIP/default_0001, IAX2/default_230"
	case "Reason":
		return "the pause number, as defined in Telephony/Agent Pauses"
	case "Exten":
		if method == "BlindTransfer" {
			return "the extension the calls are redirected to: a queue, an agent or an external number"
		}
		return "the extension to call"
	case "External_id":
		return "your own identifier for the call"
	case "Uniqueid":
		return "the call's uniqueid, from its NEWCALL event"
	case "Number":
		return "the mobile number the text is sent to"
	case "Text":
		return "the text of the message"
	case "linenumber":
		return "the number of the agent's line"
	case "inbound":
		return "1 to enable the line for receiving calls, 0 to disable it"
	case "outbound":
		return "1 to enable the line for placing calls, 0 to disable it"
	case "lines":
		return `the lines, a JSON list: [{"linenumber":"1","inbound":"1","outbound":"1"}]`
	case "queues":
		return `the queues, a JSON list: [{"name":"7000","priority":"0"}]`
	case "priority":
		return "the agent's new priority in the queue, an integer"
	case "location":
		return "the permission group, which governs outbound calls (an existing group)"
	case "Ruleid":
		return "the callback rule (STOMP only)"
	case "Mcdu":
		return "the number of the MCDU that executes the callback"
	case "Originator":
		return "the telephone number to call back"
	case "Language":
		return "pt_BR or en_US"
	case "Location_id":
		return "the permission group's id"
	case "Queue_id":
		return "the queue's id"
	case "Email":
		return "where to report a failed callback"
	}
	return ""
}

// queueArgDoc describes QueueAdd's optional settings.
func queueArgDoc(name string) string {
	switch name {
	case "description":
		return "a description, for information only"
	case "sl_answeredbefore_1":
		return "the first service-level interval, seconds below 300 (default 30)"
	case "sl_answeredbefore_2":
		return "the second service-level interval, seconds below 900 (default 60)"
	case "sl_answeredbefore_3":
		return "the third service-level interval, seconds below 900 (default 60)"
	case "joinempty":
		return "yes (default) lets callers join the queue when no agent is logged in to it; no"
	case "requiresendinfo":
		return "yes (default) hangs up the call when CTI information cannot reach the agent; no"
	case "timeout":
		return "seconds a caller may wait in the queue; 0 (default) forever"
	case "dialtimeout":
		return "seconds per dial attempt to an agent (default 10); 0 no timeout"
	case "maxlen":
		return "the most callers waiting; 0 (default) no limit"
	case "wrapuptime":
		return "the least seconds between an agent's calls (default 0)"
	case "quarantinetime":
		return "seconds of quarantine for an agent who does not answer a call (default 0)"
	case "announce":
		return "a sound file played to the agent before the caller is bridged"
	case "musiconhold":
		return "the music-on-hold class played to waiting callers"
	}
	return ""
}

// sipArgDoc describes SipUserAdd's optional settings.
func sipArgDoc(name string) string {
	switch name {
	case "name":
		return "the SIP user's extension, digits unique in the accountcode"
	case "description":
		return "a description of the user"
	case "allow":
		return "voice codecs by preference, ;-separated: ilbc, gsm, ulaw, alaw, g729 (default ilbc;gsm;ulaw;alaw)"
	case "amaflags":
		return "CDR category: default (default), omit, billing or documentation"
	case "call-limit":
		return "simultaneous calls through the user; 0 (default) no limit"
	case "callerid":
		return "the user's callerid"
	case "callgroup":
		return "call groups, integers ,-separated"
	case "canreinvite":
		return "yes (default) or no: the client supports SIP re-invites"
	case "context":
		return "the context of the user's calls (default instantvoice_agent)"
	case "defaultip":
		return "the IP address used when host is dynamic"
	case "deny":
		return "an IP address or network whose SIP traffic is refused"
	case "disallow":
		return "codecs refused, ;-separated, or all"
	case "dtmfmode":
		return "inband, info or rfc2833 (default)"
	case "fromdomain":
		return "the From: domain of SIP messages"
	case "fromuser":
		return "the user put in From: instead of the callerid"
	case "fullcontact":
		return "the SIP contact URI"
	case "host":
		return "the client's IP address or host name, or dynamic (default) for a phone that registers"
	case "ignoreregexpire":
		return "yes or no (default): use a peer's contact even when it has expired"
	case "insecure":
		return "invite, port or invite,port"
	case "ipaddr":
		return "the user's IP address"
	case "language":
		return "en_US (default), pt_BR or es_ES"
	case "mailbox":
		return "the voicemail extension, for message-waiting indications"
	case "md5secret":
		return "MD5 of <user>:<realm>:<secret>, instead of secret"
	case "musiconhold":
		return "the music-on-hold class"
	case "nat":
		return "yes or no (default): the client is behind NAT"
	case "permit":
		return "an IP address or network whose SIP traffic is allowed"
	case "pickupgroup":
		return "pickup groups, integers ,-separated"
	case "port":
		return "the client's SIP port (default 5060)"
	case "progressinband":
		return "yes, no or never (default): generate in-band ringing"
	case "promiscredir":
		return "yes or no (default): follow 302 redirects"
	case "qualify":
		return "yes, no (default) or milliseconds: check that the client is reachable"
	case "regexten":
		return "the extension used in registrations"
	case "regseconds":
		return "seconds between SIP REGISTERs (default 0)"
	case "rpid":
		return "the Remote-Party-ID header"
	case "rtpholdtimeout":
		return "seconds without media before a held call ends (default 0)"
	case "secret":
		return "the user's SIP password"
	case "sendrpid":
		return "yes or no (default): send a Remote-Party-ID header"
	case "setvar":
		return "a channel variable set on the user's calls, variable=value"
	case "subscribecontext":
		return "the context of SIP SUBSCRIBE requests"
	case "trustrpid":
		return "yes or no: trust the Remote-Party-ID header"
	case "type":
		return "user, friend (default) or peer"
	case "useclientcode":
		return "yes or no: take the CDR's originator from an X-ClientCode header"
	case "username":
		return "the user name for authenticating INVITEs, digits"
	case "route":
		return "yes or no (default): the peer is another brick of the platform"
	case "macaddr":
		return "the MAC address of the user's hardphone"
	case "location":
		return "the user's permission group (an existing group)"
	}
	return ""
}
