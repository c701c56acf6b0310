package ivtest

import (
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
)

type A = map[string]any

func decode[T any](t testing.TB, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

func TestSuccessDescriptionAndIdentifier(t *testing.T) {
	p := NewPlatform(t)
	c := newClient(t, p, p.Key())
	r := c.call("QueueAdd", A{"accountcode": "default", "name": 7015})
	if r.Code != 0 || string(r.Payload) != `"Successful QueueAdd"` || !r.HasID {
		t.Fatalf("got %+v %s", r, r.Payload)
	}
	// Without an identifier the reply has two elements.
	// Requests are served in order: once the next one is answered, the
	// one without an identifier has been too.
	c.sendRaw(`["QueueList", "` + p.Key() + `", {"accountcode": "default"}]`)
	c.ok("AgentList", A{"accountcode": "default"})
	reqs := p.Requests()
	if r := reqs[len(reqs)-2]; r.HasID || r.Method != "QueueList" || r.Code != codes.OK {
		t.Fatalf("request %+v", r)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.strays) != 1 || c.strays[0].HasID || string(c.strays[0].Payload) != `["7015"]` {
		t.Fatalf("reply without identifier: %+v", c.strays)
	}
}

func TestAgents(t *testing.T) {
	p := NewPlatform(t, WithAccountcodes("instant"), WithPermissionGroups("123", "otherpermissiongroup"))
	c := newClient(t, p, p.Key())

	// AgentAdd
	c.ok("AgentAdd", A{"accountcode": "default", "user": "1000", "pass": "1234", "name": "Foo Agent"})
	c.ok("AgentAdd", A{"accountcode": "default", "user": 1001})
	c.ok("AgentAdd", A{"Accountcode": "default", "User": "default_0002", "passwd": 456})
	c.expect(codes.Duplicate, "AgentAdd", A{"accountcode": "default", "user": "1000"})
	c.expect(codes.Duplicate, "AgentAdd", A{"accountcode": "default", "user": "2"})
	c.expect(codes.MissingArgs, "AgentAdd", A{"accountcode": "default"})
	c.expect(codes.MissingArgs, "AgentAdd", A{"accountcode": "default", "user": ""})
	c.expect(codes.Invalid, "AgentAdd", A{"accountcode": "default", "user": "abc"})
	c.expect(codes.Invalid, "AgentAdd", A{"accountcode": "default", "user": "1003", "pass": "secret"})
	c.expect(codes.Invalid, "AgentAdd", A{"accountcode": "default", "user": []any{"1"}})
	c.expect(codes.NotFound, "AgentAdd", A{"accountcode": "nope", "user": "1003"})

	// AgentList: numbers, in creation order.
	if got := string(c.ok("AgentList", A{"accountcode": "default"})); got != "[1000,1001,2]" {
		t.Fatalf("AgentList = %s", got)
	}
	if got := string(c.ok("AgentList", A{"accountcode": "instant"})); got != "[]" {
		t.Fatalf("AgentList = %s", got)
	}
	c.expect(codes.NotFound, "AgentList", A{"accountcode": "nope"})
	c.expect(codes.MissingArgs, "AgentList", A{})

	// AgentInfo: the reference's JSON shape.
	info := decode[map[string]any](t, c.ok("AgentInfo", A{"accountcode": "default", "user": "1000"}))
	want := map[string]any{"accountcode": "default", "name": "Foo Agent", "extension": "n/a", "reasons_reason": "",
		"agentstatusts": 0.0, "logints": 0.0, "disabled": 0.0, "user": "default_1000", "pass": "1234",
		"interface": "n/a", "agentstatus": "LOGOFF", "id": info["id"]}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("AgentInfo = %v\nwant %v", info, want)
	}
	if _, ok := info["id"].(float64); !ok {
		t.Fatalf("id is %T", info["id"])
	}
	c.expect(codes.NotFound, "AgentInfo", A{"accountcode": "default", "user": "9999"})
	c.expect(codes.NotFound, "AgentInfo", A{"accountcode": "instant", "user": "1000"})
	c.expect(codes.MissingArgs, "AgentInfo", A{"accountcode": "default"})

	// AgentModify
	c.ok("AgentModify", A{"original_accountcode": "default", "original_user": "1000", "pass": "9876", "name": "Bar"})
	info = decode[map[string]any](t, c.ok("AgentInfo", A{"accountcode": "default", "user": "1000"}))
	if info["pass"] != "9876" || info["name"] != "Bar" {
		t.Fatalf("after AgentModify: %v", info)
	}
	c.ok("AgentModify", A{"original_accountcode": "default", "original_user": "1001", "user": "1005"})
	c.expect(codes.NotFound, "AgentInfo", A{"accountcode": "default", "user": "1001"})
	c.ok("AgentInfo", A{"accountcode": "default", "user": "1005"})
	c.expect(codes.Duplicate, "AgentModify", A{"original_accountcode": "default", "original_user": "1005", "user": "1000"})
	c.expect(codes.NotFound, "AgentModify", A{"original_accountcode": "default", "original_user": "4242", "name": "x"})
	c.expect(codes.MissingArgs, "AgentModify", A{"original_accountcode": "default", "name": "x"})
	c.expect(codes.Invalid, "AgentModify", A{"original_accountcode": "default", "original_user": "1005", "pass": "x"})
	c.ok("AgentModify", A{"original_accountcode": "default", "original_user": "1005", "accountcode": "instant"})
	c.ok("AgentInfo", A{"accountcode": "instant", "user": "1005"})
	c.expect(codes.NotFound, "AgentModify", A{"original_accountcode": "instant", "original_user": "1005", "accountcode": "nope"})

	// AgentDelete; a logged-in agent is refused (the reference is silent:
	// a real ACD most likely refuses it, as AgentModify does).
	c.ok("AgentLogin", A{"Accountcode": "instant", "User": "1005", "Interface": "SIP/instant_1005"})
	c.expect(codes.NotAllowed, "AgentDelete", A{"accountcode": "instant", "user": "1005"})
	c.ok("AgentLogoff", A{"Accountcode": "instant", "User": "1005"})
	c.ok("AgentDelete", A{"accountcode": "instant", "user": "1005"})
	c.expect(codes.NotFound, "AgentDelete", A{"accountcode": "instant", "user": "1005"})
	c.expect(codes.MissingArgs, "AgentDelete", A{"user": "1005"})

	// Permissions of an agent.
	c.expect(codes.NotFound, "AgentInfoPermission", A{"accountcode": "default", "user": "1000"})
	c.expect(codes.NotFound, "AgentAddPermission", A{"accountcode": "default", "user": "1000", "location": "nowhere"})
	c.expect(codes.MissingArgs, "AgentAddPermission", A{"accountcode": "default", "user": "1000"})
	c.expect(codes.NotFound, "AgentModifyPermission", A{"accountcode": "default", "user": "1000", "location": "123"})
	c.expect(codes.NotFound, "AgentDeletePermission", A{"accountcode": "default", "user": "1000"})
	c.ok("AgentAddPermission", A{"accountcode": "default", "user": "0001000", "location": "123"})
	if got := string(c.ok("AgentInfoPermission", A{"accountcode": "default", "user": "1000"})); got != `"123"` {
		t.Fatalf("AgentInfoPermission = %s", got)
	}
	c.expect(codes.Duplicate, "AgentAddPermission", A{"accountcode": "default", "user": "1000", "location": "123"})
	c.ok("AgentModifyPermission", A{"accountcode": "default", "user": "1000", "location": "otherpermissiongroup"})
	if got := string(c.ok("AgentInfoPermission", A{"accountcode": "default", "user": "1000"})); got != `"otherpermissiongroup"` {
		t.Fatalf("AgentInfoPermission = %s", got)
	}
	c.ok("AgentModifyPermission", A{"accountcode": "default", "user": "1000", "location": "1"}) // by number
	c.ok("AgentDeletePermission", A{"accountcode": "default", "user": "1000"})
	c.expect(codes.NotFound, "AgentInfoPermission", A{"accountcode": "default", "user": "1000"})
	c.expect(codes.NotFound, "AgentInfoPermission", A{"accountcode": "default", "user": "7777"})
}

func TestAgentLines(t *testing.T) {
	p := NewPlatform(t, WithAgent("default", "0001", "", ""))
	c := newClient(t, p, p.Key())
	if got := string(c.ok("AgentLineList", A{"accountcode": "default", "user": "0001"})); got != "[]" {
		t.Fatalf("AgentLineList = %s", got)
	}
	c.ok("AgentLineAdd", A{"accountcode": "default", "user": "0001", "lines": []any{
		A{"linenumber": "1", "inbound": "0", "outbound": "1"},
		A{"linenumber": "2", "inbound": "0", "outbound": "1"},
	}})
	// IVWS form: <line1>, <line2> ... as an object of objects.
	c.ok("AgentLineAdd", A{"accountcode": "default", "user": "1", "lines": A{
		"line10": A{"linenumber": "10"}, "line3": A{"linenumber": "3", "inbound": "1"},
	}})
	c.expect(codes.Duplicate, "AgentLineAdd", A{"accountcode": "default", "user": "1", "lines": []any{A{"linenumber": 2}}})
	c.expect(codes.Duplicate, "AgentLineAdd", A{"accountcode": "default", "user": "1", "lines": []any{A{"linenumber": 4}, A{"linenumber": 4}}})
	c.expect(codes.MissingArgs, "AgentLineAdd", A{"accountcode": "default", "user": "1"})
	c.expect(codes.MissingArgs, "AgentLineAdd", A{"accountcode": "default", "user": "1", "lines": []any{}})
	c.expect(codes.Invalid, "AgentLineAdd", A{"accountcode": "default", "user": "1", "lines": "1"})
	c.expect(codes.Invalid, "AgentLineAdd", A{"accountcode": "default", "user": "1", "lines": []any{A{"linenumber": "x"}}})
	c.expect(codes.Invalid, "AgentLineAdd", A{"accountcode": "default", "user": "1", "lines": []any{A{"linenumber": 5, "inbound": 7}}})
	c.expect(codes.NotFound, "AgentLineAdd", A{"accountcode": "default", "user": "2", "lines": []any{A{"linenumber": 5}}})

	raw := c.ok("AgentLineList", A{"accountcode": "default", "user": "0001"})
	var lines []map[string]any
	if err := json.Unmarshal(raw, &lines); err != nil {
		t.Fatal(err)
	}
	var numbers []float64
	for _, l := range lines {
		numbers = append(numbers, l["linenumber"].(float64))
		for _, k := range []string{"id", "queues_id", "outbound", "inbound", "linestatus", "uniqueid", "linenumber", "linestatusts"} {
			if _, ok := l[k]; !ok {
				t.Fatalf("line %v lacks %s", l, k)
			}
		}
	}
	if !reflect.DeepEqual(numbers, []float64{1, 2, 3, 10}) || lines[0]["inbound"] != 0.0 || lines[2]["inbound"] != 1.0 || lines[0]["linestatus"] != "IDLE" {
		t.Fatalf("AgentLineList = %s", raw)
	}

	c.expect(codes.NotFound, "AgentLineList", A{"accountcode": "default", "user": "0002"})
	c.expect(codes.MissingArgs, "AgentLineList", A{"accountcode": "default"})

	c.ok("AgentLineModify", A{"original_accountcode": "default", "original_user": "0001", "original_linenumber": "1", "inbound": "1", "outbound": "0"})
	lines = decode[[]map[string]any](t, c.ok("AgentLineList", A{"accountcode": "default", "user": "0001"}))
	if lines[0]["inbound"] != 1.0 || lines[0]["outbound"] != 0.0 {
		t.Fatalf("after AgentLineModify: %v", lines[0])
	}
	c.expect(codes.NotFound, "AgentLineModify", A{"original_accountcode": "default", "original_user": "0001", "original_linenumber": "99", "inbound": "1"})
	c.expect(codes.MissingArgs, "AgentLineModify", A{"original_accountcode": "default", "original_user": "0001", "inbound": "1"})
	c.expect(codes.Invalid, "AgentLineModify", A{"original_accountcode": "default", "original_user": "0001", "original_linenumber": "1", "inbound": "yes"})

	c.ok("AgentLineDelete", A{"accountcode": "default", "user": "0001", "linenumber": "2"})
	c.ok("AgentLineDelete", A{"accountcode": "default", "user": "0001", "linenumber": 3})
	c.ok("AgentLineDelete", A{"accountcode": "default", "user": "0001", "linenumber": 10})
	c.expect(codes.NotFound, "AgentLineDelete", A{"accountcode": "default", "user": "0001", "linenumber": "2"})
	c.expect(codes.NotAllowed, "AgentLineDelete", A{"accountcode": "default", "user": "0001", "linenumber": "1"})
	c.expect(codes.Invalid, "AgentLineDelete", A{"accountcode": "default", "user": "0001", "linenumber": "one"})
	c.expect(codes.MissingArgs, "AgentLineDelete", A{"accountcode": "default", "user": "0001"})
}

func TestAgentQueues(t *testing.T) {
	p := NewPlatform(t, WithAgent("default", "0001", "", ""), WithAgent("default", "0002", "", ""),
		WithQueue("default", "1"), WithQueue("default", "2"), WithQueue("default", "0015"))
	c := newClient(t, p, p.Key())
	c.ok("AgentQueueAdd", A{"accountcode": "default", "user": "0001", "queues": []any{A{"name": "1", "priority": "0"}, A{"name": 2, "priority": 3}}})
	c.ok("AgentQueueAdd", A{"accountcode": "default", "user": "0002", "queues": A{"queue1": A{"name": "1", "priority": "5"}}})
	c.expect(codes.Duplicate, "AgentQueueAdd", A{"accountcode": "default", "user": "0001", "queues": []any{A{"name": "1"}}})
	c.expect(codes.NotFound, "AgentQueueAdd", A{"accountcode": "default", "user": "0001", "queues": []any{A{"name": "99"}}})
	c.expect(codes.NotFound, "AgentQueueAdd", A{"accountcode": "default", "user": "0009", "queues": []any{A{"name": "1"}}})
	c.expect(codes.MissingArgs, "AgentQueueAdd", A{"accountcode": "default", "user": "0001", "queues": []any{A{"priority": "1"}}})
	c.expect(codes.Invalid, "AgentQueueAdd", A{"accountcode": "default", "user": "0001", "queues": []any{A{"name": "15", "priority": "high"}}})

	if got := string(c.ok("AgentQueueList", A{"accountcode": "default", "user": "0001"})); got != `[{"name":1,"priority":0},{"name":2,"priority":3}]` {
		t.Fatalf("AgentQueueList = %s", got)
	}
	if got := string(c.ok("AgentQueueMembers", A{"accountcode": "default", "name": "1"})); got != `[{"priority":"0","user":"0001"},{"priority":"5","user":"0002"}]` {
		t.Fatalf("AgentQueueMembers = %s", got)
	}
	c.expect(codes.NotFound, "AgentQueueMembers", A{"accountcode": "default", "name": "42"})
	c.expect(codes.MissingArgs, "AgentQueueMembers", A{"accountcode": "default"})
	c.expect(codes.NotFound, "AgentQueueList", A{"accountcode": "default", "user": "0042"})

	c.ok("AgentQueueModify", A{"original_accountcode": "default", "original_user": "0001", "original_name": "1", "priority": "10"})
	if got := string(c.ok("AgentQueueList", A{"accountcode": "default", "user": "0001"})); got != `[{"name":1,"priority":10},{"name":2,"priority":3}]` {
		t.Fatalf("AgentQueueList = %s", got)
	}
	c.expect(codes.MissingArgs, "AgentQueueModify", A{"original_accountcode": "default", "original_user": "0001", "original_name": "1"})
	c.expect(codes.NotFound, "AgentQueueModify", A{"original_accountcode": "default", "original_user": "0001", "original_name": "15", "priority": "1"})

	c.ok("AgentQueueDelete", A{"accountcode": "default", "user": "0001", "name": "2"})
	c.expect(codes.NotAllowed, "AgentQueueDelete", A{"accountcode": "default", "user": "0001", "name": "1"})
	c.expect(codes.NotFound, "AgentQueueDelete", A{"accountcode": "default", "user": "0001", "name": "2"})
	c.expect(codes.NotFound, "AgentQueueDelete", A{"accountcode": "default", "user": "0001", "name": "77"})
	c.expect(codes.MissingArgs, "AgentQueueDelete", A{"accountcode": "default", "user": "0001"})

	// A queue with members is not empty: RESPONSE_NOTEMPTY, and nothing
	// changes. Deleting an agent removes its memberships; a queue left
	// without members can go.
	c.expect(codes.NotEmpty, "QueueDelete", A{"accountcode": "default", "name": "1"})
	if got := string(c.ok("AgentQueueList", A{"accountcode": "default", "user": "0002"})); got == `[]` {
		t.Fatalf("AgentQueueList = %s after a refused QueueDelete", got)
	}
	c.ok("AgentDelete", A{"accountcode": "default", "user": "0001"})
	c.ok("AgentDelete", A{"accountcode": "default", "user": "0002"})
	c.ok("QueueDelete", A{"accountcode": "default", "name": "1"})
	c.expect(codes.NotFound, "QueueDelete", A{"accountcode": "default", "name": "1"})
}

func TestQueues(t *testing.T) {
	p := NewPlatform(t, WithAccountcodes("instant"))
	c := newClient(t, p, p.Key())
	c.ok("QueueAdd", A{"name": 7015, "sl_answeredbefore_1": 56, "announce": "SynthR - Oceanus.mp3", "accountcode": "default", "musiconhold": "default"})
	// IVWS sends empty elements for what it leaves unset, and may wrap text in spaces.
	c.ok("QueueAdd", A{"accountcode": "\n  default\n  ", "name": "1002", "description": "", "sl_answeredbefore_2": "", "requisendinfo": "no", "dialtimeout": "9991"})
	c.expect(codes.Duplicate, "QueueAdd", A{"accountcode": "default", "name": "7015"})
	c.expect(codes.MissingArgs, "QueueAdd", A{"accountcode": "default"})
	c.expect(codes.Invalid, "QueueAdd", A{"accountcode": "default", "name": "support"})
	c.expect(codes.Invalid, "QueueAdd", A{"accountcode": "default", "name": "1", "sl_answeredbefore_1": 300})
	c.expect(codes.Invalid, "QueueAdd", A{"accountcode": "default", "name": "1", "sl_answeredbefore_2": 900})
	c.expect(codes.Invalid, "QueueAdd", A{"accountcode": "default", "name": "1", "joinempty": "maybe"})
	c.expect(codes.Invalid, "QueueAdd", A{"accountcode": "default", "name": "1", "timeout": "soon"})
	c.expect(codes.NotFound, "QueueAdd", A{"accountcode": "nope", "name": "1"})

	if got := string(c.ok("QueueList", A{"accountcode": "default"})); got != `["7015","1002"]` {
		t.Fatalf("QueueList = %s", got)
	}
	c.expect(codes.NotFound, "QueueList", A{"accountcode": "nope"})

	info := decode[map[string]any](t, c.ok("QueueInfo", A{"accountcode": "default", "name": "7015"}))
	refKeys := []string{"agents_total", "maxwait", "sl_w2_a3", "requiresendinfo", "joinempty", "max_recordings", "sl_w3_a2",
		"sl_w3_a3", "sl_w3_a1", "id", "musiconhold", "agents_idle", "agents_pending_logoff", "sl_answeredbefore_3",
		"agents_loggedoff", "agents_unavailable_quarantine", "announce", "wrapuptime", "dialtimeout", "leavewhenempty",
		"agents_oncall", "description", "timestamp", "agents_paused", "agents_logoff_pause", "monitorfilename",
		"agents_pending_pause", "len", "conditionalmon", "quarantinetime", "sl_w1_a1", "sl_w1_a2", "sl_w1_a3", "name",
		"agents_unavailable_wrapup", "sl_answeredbefore_2", "maxlen", "monitor_format", "sl_answeredbefore_1",
		"sl_w2_a1", "timeout", "sl_w2_a2", "accountcode", "agents_loggedin"}
	for _, k := range refKeys {
		if _, ok := info[k]; !ok {
			t.Errorf("QueueInfo lacks %q", k)
		}
	}
	if len(info) != len(refKeys) {
		t.Errorf("QueueInfo has %d fields, the reference %d", len(info), len(refKeys))
	}
	for k, v := range map[string]any{"name": "default_7015", "sl_answeredbefore_1": 56.0, "sl_answeredbefore_2": 60.0,
		"sl_answeredbefore_3": 60.0, "joinempty": "yes", "requiresendinfo": "yes", "dialtimeout": 10.0,
		"announce": "SynthR - Oceanus.mp3", "musiconhold": "default", "sl_w1_a1": nil, "accountcode": "default"} {
		if !reflect.DeepEqual(info[k], v) {
			t.Errorf("QueueInfo[%s] = %v, want %v", k, info[k], v)
		}
	}
	info = decode[map[string]any](t, c.ok("QueueInfo", A{"accountcode": "default", "name": "1002"}))
	if info["requiresendinfo"] != "no" || info["dialtimeout"] != 9991.0 || info["sl_answeredbefore_2"] != 60.0 {
		t.Fatalf("QueueInfo = %v", info)
	}
	c.expect(codes.NotFound, "QueueInfo", A{"accountcode": "default", "name": "1"})
	c.expect(codes.MissingArgs, "QueueInfo", A{"name": "1"})

	c.ok("QueueModify", A{"original_name": 7015, "original_accountcode": "default", "name": 8015, "sl_answeredbefore_1": 30,
		"announce": "Welcome.mp3", "accountcode": "default", "description": "New Description."})
	info = decode[map[string]any](t, c.ok("QueueInfo", A{"accountcode": "default", "name": "8015"}))
	if info["announce"] != "Welcome.mp3" || info["description"] != "New Description." || info["sl_answeredbefore_1"] != 30.0 {
		t.Fatalf("after QueueModify: %v", info)
	}
	c.expect(codes.NotFound, "QueueModify", A{"original_name": 7015, "original_accountcode": "default", "description": "x"})
	c.expect(codes.Duplicate, "QueueModify", A{"original_name": 8015, "original_accountcode": "default", "name": "1002"})
	c.expect(codes.MissingArgs, "QueueModify", A{"original_accountcode": "default", "description": "x"})
	c.expect(codes.Invalid, "QueueModify", A{"original_name": 8015, "original_accountcode": "default", "maxlen": -1})
	c.ok("QueueModify", A{"original_name": 8015, "original_accountcode": "default", "accountcode": "instant"})
	c.ok("QueueInfo", A{"accountcode": "instant", "name": "8015"})

	c.ok("QueueDelete", A{"accountcode": "instant", "name": "8015"})
	c.expect(codes.NotFound, "QueueDelete", A{"accountcode": "instant", "name": "8015"})
	c.expect(codes.MissingArgs, "QueueDelete", A{"accountcode": "instant"})
}

func TestSipUsers(t *testing.T) {
	p := NewPlatform(t, WithPermissionGroups("123", "otherpermissiongroup"))
	c := newClient(t, p, p.Key())
	c.ok("SipUserAdd", A{"name": 1010, "accountcode": "default", "musiconhold": "default", "secret": "creative-password", "useclientcode": "yes"})
	c.ok("SipUserAdd", A{"name": "0001", "accountcode": "default", "call_limit": "2", "ignoreexpire": "yes", "qualify": "200",
		"location": "123", "insecure": "invite,port", "deny": "10.0.0.0/255.0.0.0", "permit": "192.168.0.0/16", "callgroup": "1,2"})
	c.expect(codes.Duplicate, "SipUserAdd", A{"name": "1", "accountcode": "default"})
	c.expect(codes.MissingArgs, "SipUserAdd", A{"accountcode": "default"})
	for field, bad := range map[string]any{"dtmfmode": "pulse", "nat": "sometimes", "port": "http", "call-limit": "-1",
		"allow": "opus", "language": "fr_FR", "type": "other", "defaultip": "not-an-ip", "macaddr": "xx", "setvar": "novalue",
		"pickupgroup": "a,b", "qualify": "often", "amaflags": "none", "progressinband": "maybe"} {
		c.expect(codes.Invalid, "SipUserAdd", A{"name": "2000", "accountcode": "default", field: bad})
	}
	c.expect(codes.NotFound, "SipUserAdd", A{"name": "2000", "accountcode": "default", "location": "nowhere"})
	c.expect(codes.NotFound, "SipUserAdd", A{"name": "2000", "accountcode": "nope"})

	if got := string(c.ok("SipUserList", A{"accountcode": "default"})); got != `["1010","0001"]` {
		t.Fatalf("SipUserList = %s", got)
	}
	c.expect(codes.NotFound, "SipUserList", A{"accountcode": "nope"})

	info := decode[map[string]any](t, c.ok("SipUserInfo", A{"accountcode": "default", "name": "1010"}))
	refKeys := []string{"fullcontact", "call-limit", "rtptimeout", "amaflags", "sendrpid", "useclientcode", "callgroup",
		"progressinband", "id", "musiconhold", "regseconds", "ignoreregexpire", "callerid", "ipaddr", "fromdomain", "port",
		"md5secret", "secret", "nat", "type", "setvar", "username", "allow", "insecure", "rtpholdtimeout", "disallow", "host",
		"promiscredir", "defaultip", "subscribecontext", "mailbox", "accountcode", "deny", "dtmfmode", "name", "language",
		"route", "qualify", "pickupgroup", "rpid", "canreinvite", "context", "permit", "fromuser", "regexten", "trustrpid"}
	for _, k := range refKeys {
		if _, ok := info[k]; !ok {
			t.Errorf("SipUserInfo lacks %q", k)
		}
	}
	for k := range info {
		if k != "description" && !contains(refKeys, k) {
			t.Errorf("SipUserInfo has %q, which the reference does not show", k)
		}
	}
	for k, v := range map[string]any{"name": "default_1010", "call-limit": 0.0, "callerid": nil, "port": 5060.0,
		"secret": "creative-password", "useclientcode": "yes", "allow": "ilbc;gsm;ulaw;alaw", "context": "instantvoice_agent",
		"dtmfmode": "rfc2833", "ignoreregexpire": "no", "type": "friend", "host": "dynamic", "canreinvite": "yes"} {
		if !reflect.DeepEqual(info[k], v) {
			t.Errorf("SipUserInfo[%s] = %v, want %v", k, info[k], v)
		}
	}
	info = decode[map[string]any](t, c.ok("SipUserInfo", A{"accountcode": "default", "name": "default_0001"}))
	if info["call-limit"] != 2.0 || info["ignoreregexpire"] != "yes" || info["qualify"] != 200.0 || info["insecure"] != "invite,port" {
		t.Fatalf("SipUserInfo = %v", info)
	}
	c.expect(codes.NotFound, "SipUserInfo", A{"accountcode": "default", "name": "4444"})

	c.ok("SipUserModify", A{"original_name": 1010, "original_accountcode": "default", "secret": "new", "callerid": "Alice <1010>", "call-limit": 3})
	info = decode[map[string]any](t, c.ok("SipUserInfo", A{"accountcode": "default", "name": "1010"}))
	if info["secret"] != "new" || info["callerid"] != "Alice <1010>" || info["call-limit"] != 3.0 {
		t.Fatalf("after SipUserModify: %v", info)
	}
	c.expect(codes.NotFound, "SipUserModify", A{"original_name": 5555, "original_accountcode": "default", "secret": "x"})
	c.expect(codes.Duplicate, "SipUserModify", A{"original_name": 1010, "original_accountcode": "default", "name": "1"})
	c.expect(codes.MissingArgs, "SipUserModify", A{"original_accountcode": "default", "secret": "x"})
	c.expect(codes.Invalid, "SipUserModify", A{"original_name": 1010, "original_accountcode": "default", "nat": "on"})

	// Permission groups of SIP users.
	if got := string(c.ok("SipUserInfoPermission", A{"accountcode": "default", "name": "1"})); got != `"123"` {
		t.Fatalf("SipUserInfoPermission = %s", got)
	}
	c.expect(codes.NotFound, "SipUserInfoPermission", A{"accountcode": "default", "name": "1010"})
	c.expect(codes.NotFound, "SipUserModifyPermission", A{"accountcode": "default", "name": "1010", "location": "123"})
	c.expect(codes.NotFound, "SipUserDeletePermission", A{"accountcode": "default", "name": "1010"})
	c.ok("SipUserAddPermission", A{"accountcode": "default", "name": "1010", "location": "otherpermissiongroup"})
	c.expect(codes.Duplicate, "SipUserAddPermission", A{"accountcode": "default", "name": "1010", "location": "123"})
	c.expect(codes.NotFound, "SipUserAddPermission", A{"accountcode": "default", "name": "7777", "location": "123"})
	c.ok("SipUserModifyPermission", A{"accountcode": "default", "name": "1010", "location": "123"})
	c.expect(codes.NotFound, "SipUserModifyPermission", A{"accountcode": "default", "name": "1010", "location": "nowhere"})
	c.ok("SipUserDeletePermission", A{"accountcode": "default", "name": "1010"})
	c.expect(codes.MissingArgs, "SipUserAddPermission", A{"accountcode": "default", "name": "1010"})

	c.ok("SipUserDelete", A{"accountcode": "default", "name": "1010"})
	c.expect(codes.NotFound, "SipUserDelete", A{"accountcode": "default", "name": "1010"})
	c.expect(codes.MissingArgs, "SipUserDelete", A{"name": "1010"})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSendSmsAndCallBack(t *testing.T) {
	p := NewPlatform(t, WithQueue("default", "6100"), WithPermissionGroups("north"))
	c := newClient(t, p, p.Key())
	c.ok("SendSms", A{"Accountcode": "default", "Number": "552188283288", "Text": "Hi there!"})
	c.expect(codes.MissingArgs, "SendSms", A{"Accountcode": "default", "Number": "552188283288"})
	c.expect(codes.Invalid, "SendSms", A{"Accountcode": "default", "Number": "call me", "Text": "x"})
	c.expect(codes.NotFound, "SendSms", A{"Accountcode": "nope", "Number": "1", "Text": "x"})
	if got := p.SentSMS(); len(got) != 1 || got[0] != (SMS{Accountcode: "default", Number: "552188283288", Text: "Hi there!"}) {
		t.Fatalf("SentSMS = %v", got)
	}

	c.ok("NewCallBack", A{"Accountcode": "default", "Ruleid": "1", "Mcdu": "6100", "Originator": "2177277722", "Language": "pt_BR",
		"Location_id": "1", "Queue_id": "6100", "Email": "instant@instant.com.br"})
	c.expect(codes.Duplicate, "NewCallBack", A{"Accountcode": "default", "Mcdu": "6100", "Originator": "2177277722"})
	c.expect(codes.MissingArgs, "NewCallBack", A{"Accountcode": "default", "Mcdu": "6100"})
	c.expect(codes.Invalid, "NewCallBack", A{"Accountcode": "default", "Mcdu": "6100", "Originator": "1", "Language": "de_DE"})
	c.expect(codes.NotFound, "NewCallBack", A{"Accountcode": "default", "Mcdu": "6100", "Originator": "1", "Location_id": "9"})
	c.expect(codes.NotFound, "NewCallBack", A{"Accountcode": "default", "Mcdu": "6100", "Originator": "1", "Queue_id": "999"})
	cbs := p.CallBacks()
	if len(cbs) != 1 || cbs[0].LocationID != "1" || cbs[0].Originator != "2177277722" || cbs[0].QueueID == "" {
		t.Fatalf("CallBacks = %+v", cbs)
	}
}

func TestPermissions(t *testing.T) {
	p := NewPlatform(t, WithKey("limited1", "QueueList", "QueueAdd"), WithKey("all2"))
	lim := newClient(t, p, "limited1")
	lim.ok("QueueAdd", A{"accountcode": "default", "name": "1"})
	lim.ok("QueueList", A{"accountcode": "default"})
	if got := lim.expect(codes.PermissionDenied, "AgentList", A{"accountcode": "default"}); !strings.Contains(string(got), "ermission") {
		t.Fatalf("payload %s", got)
	}
	lim.expect(codes.PermissionDenied, "QueueDelete", A{"accountcode": "default", "name": "1"})
	lim.expect(codes.Invalid, "NoSuchMethod", A{})

	all := newClient(t, p, "all2")
	all.ok("QueueDelete", A{"accountcode": "default", "name": "1"})

	unknown := newClient(t, p, "nobody")
	unknown.expect(codes.PermissionDenied, "QueueList", A{"accountcode": "default"})

	if _, err := Start(WithKey("bad key!")); err == nil {
		t.Fatal("WithKey accepted an invalid key")
	}
	if _, err := Start(WithKey("k", "Nope")); err == nil {
		t.Fatal("WithKey accepted an unknown method")
	}
}

func TestMalformedRequests(t *testing.T) {
	p := NewPlatform(t)
	c := newClient(t, p, p.Key())
	key := p.Key()

	// Arguments that are not an object: RESPONSE_INVALID, with the identifier.
	w := c.waiter("bad1")
	c.sendRaw(`["QueueList", "` + key + `", "default", "bad1"]`)
	select {
	case r := <-w:
		if codes.Code(r.Code) != codes.Invalid || r.ID != "bad1" {
			t.Fatalf("reply %+v", r)
		}
	case <-time.After(waitFor):
		t.Fatal("no reply to a request with string arguments")
	}

	// Python literal requests are what the platform's own clients send.
	w = c.waiter("py")
	c.sendRaw(`['QueueAdd', '` + key + `', {'accountcode': 'default', 'name': 7015,}, 'py']`)
	if r := <-w; r.Code != 0 {
		t.Fatalf("python request: %+v %s", r, r.Payload)
	}

	before := p.Stats()
	for _, body := range []string{`not json at all`, `{"method": "QueueList"}`, `["QueueList"]`, `[1, 2, 3]`, `["QueueList", "", {}]`, ``} {
		c.sendRaw(body)
	}
	if err := p.Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitFor)
	for p.Stats().Malformed-before.Malformed < 6 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := p.Stats().Malformed - before.Malformed; got != 6 {
		t.Fatalf("Malformed = %d, want 6", got)
	}
	// The platform still serves.
	c.ok("QueueList", A{"accountcode": "default"})
	c.mu.Lock()
	strays := len(c.strays)
	c.mu.Unlock()
	if strays != 0 {
		t.Fatalf("%d stray replies", strays)
	}
}

func TestPythonLists(t *testing.T) {
	p := NewPlatform(t, WithPythonLists(), WithQueue("default", "1002"), WithQueue("default", "0015"), WithSipUser("default", "0001"))
	c := newClient(t, p, p.Key())
	var mu sync.Mutex
	var raw []byte
	p.SetReplyFunc(func(req Request, reply []byte) [][]byte {
		if req.Method == "QueueList" {
			mu.Lock()
			raw = append([]byte(nil), reply...)
			mu.Unlock()
		}
		return [][]byte{reply}
	})
	r := c.call("QueueList", A{"accountcode": "default"})
	mu.Lock()
	defer mu.Unlock()
	if !strings.HasPrefix(string(raw), `[0, ['1002', '0015'], "`) || string(r.Payload) != `["1002","0015"]` {
		t.Fatalf("QueueList reply %s, decoded %s", raw, r.Payload)
	}
	if got := string(c.ok("SipUserList", A{"accountcode": "default"})); got != `["0001"]` {
		t.Fatalf("SipUserList = %s", got)
	}
}
