package ivclient

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/internal/wire"
)

// replay is a Transport that answers every call with one canned reply body,
// decoded the way every transport must (wire.ParseReply, then codes, then
// json.Unmarshal into out). It records the last request.
type replay struct {
	body []byte
	last *Request
	sent []byte
}

func (r *replay) Call(ctx context.Context, req *Request, out any) error {
	r.last = req
	b, err := wire.AppendRequest(nil, req.Method, req.Key, req.Args, "id1")
	if err != nil {
		return err
	}
	r.sent = b
	rep, err := wire.ParseReply(r.body)
	if err != nil {
		return errors.Join(ErrMalformedReply, err)
	}
	if rep.Code != 0 {
		d, _ := rep.PayloadString()
		return &codes.Error{Code: codes.Code(rep.Code), Method: req.Method, Description: d}
	}
	if out != nil && rep.Payload != nil {
		if err := json.Unmarshal(rep.Payload, out); err != nil {
			return errors.Join(ErrMalformedReply, err)
		}
	}
	return nil
}

func (r *replay) Close() error { return nil }

func fixture(t *testing.T, name string) *Client {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "replies", name+".json"))
	require.NoError(t, err)
	c, err := New(&replay{body: b}, "f054bbd2f5ebab9")
	require.NoError(t, err)
	return c
}

// Every JSON reply example of the reference decodes into its typed result.
func TestReferenceReplies(t *testing.T) {
	ctx := context.Background()

	agents, err := fixture(t, "AgentList").AgentList(ctx, "default")
	require.NoError(t, err)
	assert.Equal(t, []string{"1234", "5678", "6666", "1111", "7777"}, agents)

	info, err := fixture(t, "AgentInfo").AgentInfo(ctx, "default", "1000")
	require.NoError(t, err)
	assert.Equal(t, AgentInfo{ID: 2, Accountcode: "default", User: "default_1234", Name: "1234", Pass: "1234",
		Extension: "n/a", Interface: "n/a", AgentStatus: "LOGOFF", PauseReason: "test"}, *info)

	lines, err := fixture(t, "AgentLineList").AgentLineList(ctx, "default", "0001")
	require.NoError(t, err)
	require.Len(t, lines, 2)
	assert.Equal(t, AgentLine{ID: 13, Number: 1, Inbound: true, Outbound: true, Status: "IDLE"}, lines[0])
	assert.Equal(t, 2, lines[1].Number)

	qs, err := fixture(t, "AgentQueueList").AgentQueueList(ctx, "default", "0001")
	require.NoError(t, err)
	assert.Equal(t, []AgentQueue{{Name: "1"}, {Name: "2"}}, qs)

	members, err := fixture(t, "AgentQueueMembers").AgentQueueMembers(ctx, "default", "1")
	require.NoError(t, err)
	assert.Equal(t, []QueueMember{{User: "0001"}, {User: "0002"}}, members)

	loc, err := fixture(t, "AgentInfoPermission").AgentInfoPermission(ctx, "default", "0001")
	require.NoError(t, err)
	assert.Equal(t, "123", loc)
	loc, err = fixture(t, "SipUserInfoPermission").SipUserInfoPermission(ctx, "default", "1111")
	require.NoError(t, err)
	assert.Equal(t, "123", loc)

	queues, err := fixture(t, "QueueList").QueueList(ctx, "default")
	require.NoError(t, err)
	assert.Equal(t, []string{"1002", "1004", "0015", "7021"}, queues)

	sips, err := fixture(t, "SipUserList").SipUserList(ctx, "default")
	require.NoError(t, err)
	assert.Equal(t, []string{"instantvoice", "0001", "0002", "0003", "0004"}, sips)

	q, err := fixture(t, "QueueInfo").QueueInfo(ctx, "default", "7012")
	require.NoError(t, err)
	assert.Equal(t, "default_7012", q.Name)
	assert.Equal(t, "Technical Support Queue", q.Description)
	assert.Equal(t, "no", q.RequireSendInfo)
	assert.Equal(t, 90, q.SLAnsweredBefore3)
	assert.Equal(t, 10, q.DialTimeout)
	assert.Equal(t, "wav49", q.MonitorFormat)
	assert.Contains(t, q.Extra, "sl_w1_a1", "unknown fields are kept")
	assert.Nil(t, q.Extra["sl_w1_a1"])

	u, err := fixture(t, "SipUserInfo").SipUserInfo(ctx, "default", "1010")
	require.NoError(t, err)
	assert.Equal(t, "default_0001", u.Name)
	assert.Equal(t, "", u.CallerID, "null callerid")
	assert.Equal(t, "0", u.Qualify, "number where a string is expected")
	assert.Equal(t, int64(1292523047), u.RegSeconds)
	assert.Equal(t, "ilbc;gsm;ulaw;alaw", u.Allow)
	assert.Equal(t, "no", u.IgnoreRegExpire)
	assert.Equal(t, "instantvoice_agent", u.Context)

	require.NoError(t, fixture(t, "AgentLogin").AgentLogin(ctx, "default", "default_1001", "SIP/default_0001"))
}

// The XML-only names of a reply (IVWS) land in the same fields.
func TestXMLAliases(t *testing.T) {
	var a AgentInfo
	require.NoError(t, json.Unmarshal([]byte(`{"passwd":"456","accountcode":"default","agents_id":"22","name":"Foo Agent","user":"0001"}`), &a))
	assert.Equal(t, AgentInfo{ID: 22, Accountcode: "default", Name: "Foo Agent", Pass: "456", User: "0001"}, a)

	var q QueueInfo
	require.NoError(t, json.Unmarshal([]byte(`{"requisendinfo":"no","dialtimeout":"9991","description":null}`), &q))
	assert.Equal(t, "no", q.RequireSendInfo)
	assert.Equal(t, 9991, q.DialTimeout)

	var u SipUserInfo
	require.NoError(t, json.Unmarshal([]byte(`{"call_limit":"0","ignoreexpire":"no","port":"5060","callerid":null}`), &u))
	assert.Equal(t, "no", u.IgnoreRegExpire)
	assert.Equal(t, 5060, u.Port)

	var l stringList
	require.NoError(t, json.Unmarshal([]byte(`{"integer":["('0001',)","('0002',)"]}`), &l))
	assert.Equal(t, stringList{"0001", "0002"}, l)
	require.NoError(t, json.Unmarshal([]byte(`"1000"`), &l))
	assert.Equal(t, stringList{"1000"}, l)

	var lines structList[AgentLine]
	require.NoError(t, json.Unmarshal([]byte(`{"AgentLines":{"accountcode":"default","inbound":"1","linenumber":"1","linestatusts":null}}`), &lines))
	assert.Equal(t, structList[AgentLine]{{Accountcode: "default", Inbound: true, Number: 1}}, lines)

	var p permission
	require.NoError(t, json.Unmarshal([]byte(`{"code":"0","location":"123"}`), &p))
	assert.Equal(t, permission("123"), p)
}

func TestWrongTypesAreErrors(t *testing.T) {
	var a AgentInfo
	err := json.Unmarshal([]byte(`{"id":{"x":1}}`), &a)
	require.Error(t, err)
	var l stringList
	require.Error(t, json.Unmarshal([]byte(`[{"a":1}]`), &l))
	c, err := New(&replay{body: []byte(`[0, {"id": "abc"}]`)}, "k1")
	require.NoError(t, err)
	_, err = c.AgentInfo(context.Background(), "default", "1")
	require.ErrorIs(t, err, ErrMalformedReply)
}

func TestErrorCodes(t *testing.T) {
	c, err := New(&replay{body: []byte(`[3, "Agent not found", "id1"]`)}, "k1")
	require.NoError(t, err)
	_, err = c.AgentInfo(context.Background(), "default", "1")
	require.ErrorIs(t, err, codes.ErrNotFound)
	var ce *codes.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "AgentInfo", ce.Method)
	assert.Equal(t, "Agent not found", ce.Description)
}

// The requests carry the reference's argument names for each method.
func TestRequestNames(t *testing.T) {
	r := &replay{body: []byte(`[0, "ok"]`)}
	c, err := New(r, "f054bbd2f5ebab9")
	require.NoError(t, err)
	ctx := context.Background()
	cases := []struct {
		call func() error
		want string
	}{
		{func() error { return c.AgentLogin(ctx, "default", "1001", "SIP/default_0001") },
			`["AgentLogin","f054bbd2f5ebab9",{"Accountcode":"default","User":"default_1001","Interface":"SIP/default_0001"},"id1"]`},
		{func() error { return c.NewCall(ctx, "default", "default_1001", "6100", "9999") },
			`["NewCall","f054bbd2f5ebab9",{"Accountcode":"default","Agent":"default_1001","Exten":"6100","External_id":"9999"},"id1"]`},
		{func() error { return c.BlindTransfer(ctx, "default", "default_1001", "6100") },
			`["BlindTransfer","f054bbd2f5ebab9",{"Accountcode":"default","Agent":"default_1001","Exten":"6100"},"id1"]`},
		{func() error {
			return c.AgentAdd(ctx, Agent{Accountcode: "default", User: "1000", Pass: "1234", Name: "Foo Agent"})
		},
			`["AgentAdd","f054bbd2f5ebab9",{"accountcode":"default","user":"1000","pass":"1234","name":"Foo Agent"},"id1"]`},
		{func() error { return c.AgentModify(ctx, "default", "1000", Agent{Pass: "1234"}) },
			`["AgentModify","f054bbd2f5ebab9",{"original_accountcode":"default","original_user":"1000","pass":"1234"},"id1"]`},
		{func() error {
			return c.AgentLineAdd(ctx, "default", "0001", Line{Number: 1, Inbound: Ptr(false), Outbound: Ptr(true)}, Line{Number: 2})
		}, `["AgentLineAdd","f054bbd2f5ebab9",{"accountcode":"default","user":"0001","lines":[{"linenumber":"1","inbound":"0","outbound":"1"},{"linenumber":"2"}]},"id1"]`},
		{func() error { return c.AgentLineModify(ctx, "default", "0001", 1, Ptr(true), Ptr(false)) },
			`["AgentLineModify","f054bbd2f5ebab9",{"original_accountcode":"default","original_user":"0001","original_linenumber":"1","inbound":"1","outbound":"0"},"id1"]`},
		{func() error { return c.AgentQueueAdd(ctx, "default", "0001", QueueMembership{Name: "1", Priority: 0}) },
			`["AgentQueueAdd","f054bbd2f5ebab9",{"accountcode":"default","user":"0001","queues":[{"name":"1","priority":"0"}]},"id1"]`},
		{func() error { return c.AgentQueueModify(ctx, "default", "0001", "1", 10) },
			`["AgentQueueModify","f054bbd2f5ebab9",{"original_accountcode":"default","original_user":"0001","original_name":"1","priority":"10"},"id1"]`},
		{func() error {
			return c.QueueAdd(ctx, Queue{Accountcode: "default", Name: "7015", SLAnsweredBefore1: Ptr(56), Announce: "SynthR - Oceanus.mp3", MusicOnHold: "default"})
		}, `["QueueAdd","f054bbd2f5ebab9",{"accountcode":"default","name":"7015","sl_answeredbefore_1":56,"announce":"SynthR - Oceanus.mp3","musiconhold":"default"},"id1"]`},
		{func() error {
			return c.SipUserAdd(ctx, SipUser{Accountcode: "default", Name: "1010", CallLimit: Ptr(2)})
		},
			`["SipUserAdd","f054bbd2f5ebab9",{"accountcode":"default","name":"1010","call-limit":2},"id1"]`},
		{func() error {
			return c.NewCallBack(ctx, CallBack{Accountcode: "default", RuleID: "1", Mcdu: "6100", Originator: "2177277722", Language: "pt_BR"})
		}, `["NewCallBack","f054bbd2f5ebab9",{"Accountcode":"default","Ruleid":"1","Mcdu":"6100","Originator":"2177277722","Language":"pt_BR"},"id1"]`},
		{func() error { return c.Hangup(ctx, "default", "1286208779.1.30") },
			`["Hangup","f054bbd2f5ebab9",{"Accountcode":"default","Uniqueid":"1286208779.1.30"},"id1"]`},
	}
	for _, tc := range cases {
		require.NoError(t, tc.call())
		assert.JSONEq(t, tc.want, string(r.sent))
	}
}

func TestBadInputNeverSent(t *testing.T) {
	for _, key := range []string{"", "abcdefghijklmnopqrstu", "key-1", "clé", "a b"} {
		_, err := New(&replay{}, key)
		require.ErrorIs(t, err, ErrInvalidKey, "key %q", key)
		if key != "" {
			assert.NotContains(t, err.Error(), key)
		}
	}
	r := &replay{body: []byte(`[0, "ok"]`)}
	c, err := New(r, "k1")
	require.NoError(t, err)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"login no iface":     func() error { return c.AgentLogin(ctx, "default", "1001", "") },
		"add no user":        func() error { return c.AgentAdd(ctx, Agent{Accountcode: "default"}) },
		"add user not digit": func() error { return c.AgentAdd(ctx, Agent{Accountcode: "default", User: "abc"}) },
		"queue no name":      func() error { return c.QueueAdd(ctx, Queue{Accountcode: "default"}) },
		"modify no original": func() error { return c.QueueModify(ctx, "", "7015", Queue{}) },
		"no lines":           func() error { return c.AgentLineAdd(ctx, "default", "1") },
		"line zero":          func() error { return c.AgentLineAdd(ctx, "default", "1", Line{}) },
		"hangup no id":       func() error { return c.Hangup(ctx, "default", " ") },
		"negative":           func() error { return c.QueueAdd(ctx, Queue{Accountcode: "d", Name: "1", Timeout: Ptr(-1)}) },
	} {
		err := call()
		require.ErrorIs(t, err, ErrInvalidArgument, name)
		var ae *ArgError
		require.ErrorAs(t, err, &ae, name)
	}
	assert.Nil(t, r.last, "nothing was sent")
	require.NoError(t, c.QueueModify(ctx, "default", "7015", Queue{Description: "only this"}))
}

func TestClose(t *testing.T) {
	c, err := New(&replay{body: []byte(`[0,"ok"]`)}, "k1")
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.AgentLogoff(context.Background(), "default", "1"), ErrClosed)
}

// FuzzResults: no reply payload makes a result decoder panic, whatever its
// shape; what the platform's lenient forms accept decodes the same twice.
func FuzzResults(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "replies"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata", "replies", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		if r, err := wire.ParseReply(b); err == nil && r.Payload != nil {
			f.Add([]byte(r.Payload))
		}
	}
	f.Add([]byte(`{"integer":["('0001',)"]}`))
	f.Add([]byte(`{"id":{"x":[1,2]},"Extra":1}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var (
			a  AgentInfo
			q  QueueInfo
			u  SipUserInfo
			l  stringList
			ls structList[AgentLine]
			qs structList[AgentQueue]
			ms structList[QueueMember]
			p  permission
		)
		for _, out := range []any{&a, &q, &u, &l, &ls, &qs, &ms, &p} {
			_ = json.Unmarshal(payload, out)
		}
	})
}

func TestResultJSONRoundTrip(t *testing.T) {
	in := []byte(`{"id":"7","accountcode":"default","user":"default_1001","agentstatus":"LOGIN","extension":"1001","shiny":{"a":1},"disabled":0}`)
	var a AgentInfo
	if err := json.Unmarshal(in, &a); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(&a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["id"] != 7.0 || m["user"] != "default_1001" || m["reasons_reason"] != "" || m["Extra"] != nil ||
		!reflect.DeepEqual(m["shiny"], map[string]any{"a": 1.0}) {
		t.Errorf("marshalled %s", b)
	}
	var back AgentInfo
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, a) {
		t.Errorf("round trip: %+v, %v; want %+v", back, err, a)
	}
}
