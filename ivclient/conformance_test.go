package ivclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/soapx"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// transports lists every Transport the conformance suite runs over. Adding
// a transport is adding one line here.
var transports = []struct {
	name string
	dial func(ctx context.Context, p *ivtest.Platform) (ivclient.Transport, error)
}{
	{"stomp", func(ctx context.Context, p *ivtest.Platform) (ivclient.Transport, error) {
		return stompx.Dial(ctx, p.STOMPAddr())
	}},
	{"soap", func(ctx context.Context, p *ivtest.Platform) (ivclient.Transport, error) {
		return soapx.New(p.SOAPURL())
	}},
}

// TestConformance runs all 41 methods, each to success and to at least one
// error code, over every transport against the same kind of fake platform.
func TestConformance(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			p := ivtest.NewPlatform(t,
				ivtest.WithAccountcodes("acme"),
				ivtest.WithPermissionGroups("123", "456"),
				ivtest.WithKey("limited1", "AgentList", "QueueList"),
			)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			transport, err := tr.dial(ctx, p)
			require.NoError(t, err)
			c, err := ivclient.New(transport, p.Key())
			require.NoError(t, err)
			defer c.Close()
			runConformance(ctx, t, c, p)

			limited, err := ivclient.New(transport, "limited1", ivclient.KeepTransportOpen())
			require.NoError(t, err)
			_, err = limited.AgentList(ctx, "default")
			require.NoError(t, err, "a limited key may call its methods")
			_, err = limited.AgentInfo(ctx, "default", "1001")
			require.ErrorIs(t, err, codes.ErrPermissionDenied)
			stranger, err := ivclient.New(transport, "nosuchkey", ivclient.KeepTransportOpen())
			require.NoError(t, err)
			_, err = stranger.QueueList(ctx, "default")
			require.ErrorIs(t, err, codes.ErrPermissionDenied)
		})
	}
}

func runConformance(ctx context.Context, t *testing.T, c *ivclient.Client, p *ivtest.Platform) {
	is := func(err, want error, what string) {
		t.Helper()
		if want == nil {
			require.NoError(t, err, what)
			return
		}
		require.ErrorIs(t, err, want, what)
		var ce *codes.Error
		require.ErrorAs(t, err, &ce, what)
	}

	// Queues.
	qs, err := c.QueueList(ctx, "default")
	is(err, nil, "QueueList empty")
	assert.Empty(t, qs)
	is(c.QueueAdd(ctx, ivclient.Queue{Accountcode: "default", Name: "7015", Description: "Support",
		SLAnsweredBefore1: ivclient.Ptr(56), DialTimeout: ivclient.Ptr(15), JoinEmpty: "no"}), nil, "QueueAdd")
	is(c.QueueAdd(ctx, ivclient.Queue{Accountcode: "default", Name: "7016"}), nil, "QueueAdd second")
	is(c.QueueAdd(ctx, ivclient.Queue{Accountcode: "default", Name: "7015"}), codes.ErrDuplicate, "QueueAdd duplicate")
	is(c.QueueAdd(ctx, ivclient.Queue{Accountcode: "nosuchaccount", Name: "7015"}), codes.ErrNotFound, "QueueAdd unknown accountcode")
	qs, err = c.QueueList(ctx, "default")
	is(err, nil, "QueueList")
	assert.ElementsMatch(t, []string{"7015", "7016"}, qs)
	_, err = c.QueueList(ctx, "nosuchaccount")
	is(err, codes.ErrNotFound, "QueueList unknown accountcode")
	qi, err := c.QueueInfo(ctx, "default", "7015")
	is(err, nil, "QueueInfo")
	assert.Equal(t, "Support", qi.Description)
	assert.Equal(t, 56, qi.SLAnsweredBefore1)
	assert.Equal(t, 15, qi.DialTimeout)
	assert.Equal(t, "no", qi.JoinEmpty)
	assert.Equal(t, "default", qi.Accountcode)
	_, err = c.QueueInfo(ctx, "default", "9999")
	is(err, codes.ErrNotFound, "QueueInfo unknown")
	is(c.QueueModify(ctx, "default", "7015", ivclient.Queue{Description: "Technical Support", MaxLen: ivclient.Ptr(5)}), nil, "QueueModify")
	qi, err = c.QueueInfo(ctx, "default", "7015")
	is(err, nil, "QueueInfo after modify")
	assert.Equal(t, "Technical Support", qi.Description)
	assert.Equal(t, 5, qi.MaxLen)
	assert.Equal(t, 56, qi.SLAnsweredBefore1, "fields left out are unchanged")
	is(c.QueueModify(ctx, "default", "9999", ivclient.Queue{Description: "x"}), codes.ErrNotFound, "QueueModify unknown")

	// Agents.
	is(c.AgentAdd(ctx, ivclient.Agent{Accountcode: "default", User: "1001", Pass: "1234", Name: "Alice"}), nil, "AgentAdd")
	is(c.AgentAdd(ctx, ivclient.Agent{Accountcode: "default", User: "1002", Name: "Bob"}), nil, "AgentAdd second")
	is(c.AgentAdd(ctx, ivclient.Agent{Accountcode: "default", User: "1001"}), codes.ErrDuplicate, "AgentAdd duplicate")
	is(c.AgentAdd(ctx, ivclient.Agent{Accountcode: "nosuchaccount", User: "1001"}), codes.ErrNotFound, "AgentAdd unknown accountcode")
	agents, err := c.AgentList(ctx, "default")
	is(err, nil, "AgentList")
	assert.ElementsMatch(t, []string{"1001", "1002"}, agents)
	_, err = c.AgentList(ctx, "nosuchaccount")
	is(err, codes.ErrNotFound, "AgentList unknown accountcode")
	ai, err := c.AgentInfo(ctx, "default", "1001")
	is(err, nil, "AgentInfo")
	assert.Equal(t, "Alice", ai.Name)
	assert.Equal(t, "1234", ai.Pass)
	assert.Equal(t, "default", ai.Accountcode)
	assert.NotZero(t, ai.ID)
	_, err = c.AgentInfo(ctx, "default", "4040")
	is(err, codes.ErrNotFound, "AgentInfo unknown")
	is(c.AgentModify(ctx, "default", "1002", ivclient.Agent{Name: "Robert"}), nil, "AgentModify")
	ai, err = c.AgentInfo(ctx, "default", "1002")
	is(err, nil, "AgentInfo after modify")
	assert.Equal(t, "Robert", ai.Name)
	is(c.AgentModify(ctx, "default", "4040", ivclient.Agent{Name: "x"}), codes.ErrNotFound, "AgentModify unknown")

	// Agent lines.
	is(c.AgentLineAdd(ctx, "default", "1001", ivclient.Line{Number: 1}, ivclient.Line{Number: 2, Inbound: ivclient.Ptr(false)}), nil, "AgentLineAdd")
	is(c.AgentLineAdd(ctx, "default", "1001", ivclient.Line{Number: 2}), codes.ErrDuplicate, "AgentLineAdd duplicate")
	is(c.AgentLineAdd(ctx, "default", "4040", ivclient.Line{Number: 1}), codes.ErrNotFound, "AgentLineAdd unknown agent")
	lines, err := c.AgentLineList(ctx, "default", "1001")
	is(err, nil, "AgentLineList")
	require.Len(t, lines, 2)
	byNumber := map[int]ivclient.AgentLine{}
	for _, l := range lines {
		byNumber[l.Number] = l
	}
	assert.True(t, byNumber[1].Inbound)
	assert.False(t, byNumber[2].Inbound)
	assert.True(t, byNumber[2].Outbound)
	_, err = c.AgentLineList(ctx, "default", "4040")
	is(err, codes.ErrNotFound, "AgentLineList unknown agent")
	is(c.AgentLineModify(ctx, "default", "1001", 2, ivclient.Ptr(true), ivclient.Ptr(false)), nil, "AgentLineModify")
	lines, err = c.AgentLineList(ctx, "default", "1001")
	is(err, nil, "AgentLineList after modify")
	for _, l := range lines {
		if l.Number == 2 {
			assert.True(t, l.Inbound)
			assert.False(t, l.Outbound)
		}
	}
	is(c.AgentLineModify(ctx, "default", "1001", 9, ivclient.Ptr(true), nil), codes.ErrNotFound, "AgentLineModify unknown line")
	is(c.AgentLineDelete(ctx, "default", "1001", 2), nil, "AgentLineDelete")
	is(c.AgentLineDelete(ctx, "default", "1001", 1), codes.ErrNotAllowed, "AgentLineDelete only line")
	is(c.AgentLineDelete(ctx, "default", "1001", 7), codes.ErrNotFound, "AgentLineDelete unknown line")

	// Queue memberships.
	is(c.AgentQueueAdd(ctx, "default", "1001", ivclient.QueueMembership{Name: "7015", Priority: 1}, ivclient.QueueMembership{Name: "7016"}), nil, "AgentQueueAdd")
	is(c.AgentQueueAdd(ctx, "default", "1002", ivclient.QueueMembership{Name: "7015"}), nil, "AgentQueueAdd second agent")
	is(c.AgentQueueAdd(ctx, "default", "1001", ivclient.QueueMembership{Name: "7015"}), codes.ErrDuplicate, "AgentQueueAdd duplicate")
	is(c.AgentQueueAdd(ctx, "default", "1001", ivclient.QueueMembership{Name: "9999"}), codes.ErrNotFound, "AgentQueueAdd unknown queue")
	aqs, err := c.AgentQueueList(ctx, "default", "1001")
	is(err, nil, "AgentQueueList")
	assert.ElementsMatch(t, []ivclient.AgentQueue{{Name: "7015", Priority: 1}, {Name: "7016", Priority: 0}}, stripQueues(aqs))
	_, err = c.AgentQueueList(ctx, "default", "4040")
	is(err, codes.ErrNotFound, "AgentQueueList unknown agent")
	members, err := c.AgentQueueMembers(ctx, "default", "7015")
	is(err, nil, "AgentQueueMembers")
	var users []string
	for _, m := range members {
		users = append(users, m.User)
	}
	assert.ElementsMatch(t, []string{"1001", "1002"}, users)
	_, err = c.AgentQueueMembers(ctx, "default", "9999")
	is(err, codes.ErrNotFound, "AgentQueueMembers unknown queue")
	is(c.AgentQueueModify(ctx, "default", "1001", "7015", 9), nil, "AgentQueueModify")
	aqs, err = c.AgentQueueList(ctx, "default", "1001")
	is(err, nil, "AgentQueueList after modify")
	assert.Contains(t, stripQueues(aqs), ivclient.AgentQueue{Name: "7015", Priority: 9})
	is(c.AgentQueueModify(ctx, "default", "1001", "9999", 1), codes.ErrNotFound, "AgentQueueModify unknown queue")
	is(c.AgentQueueDelete(ctx, "default", "1001", "7016"), nil, "AgentQueueDelete")
	is(c.AgentQueueDelete(ctx, "default", "1001", "7015"), codes.ErrNotAllowed, "AgentQueueDelete only queue")

	// Agent permission groups.
	is(c.AgentAddPermission(ctx, "default", "1001", "123"), nil, "AgentAddPermission")
	is(c.AgentAddPermission(ctx, "default", "1002", "nosuchgroup"), codes.ErrNotFound, "AgentAddPermission unknown group")
	loc, err := c.AgentInfoPermission(ctx, "default", "1001")
	is(err, nil, "AgentInfoPermission")
	assert.Equal(t, "123", loc)
	_, err = c.AgentInfoPermission(ctx, "default", "1002")
	is(err, codes.ErrNotFound, "AgentInfoPermission with no group")
	is(c.AgentModifyPermission(ctx, "default", "1001", "456"), nil, "AgentModifyPermission")
	loc, err = c.AgentInfoPermission(ctx, "default", "1001")
	is(err, nil, "AgentInfoPermission after modify")
	assert.Equal(t, "456", loc)
	is(c.AgentModifyPermission(ctx, "default", "1002", "456"), codes.ErrNotFound, "AgentModifyPermission with no group")
	is(c.AgentDeletePermission(ctx, "default", "1001"), nil, "AgentDeletePermission")
	is(c.AgentDeletePermission(ctx, "default", "1001"), codes.ErrNotFound, "AgentDeletePermission twice")

	// SIP users.
	is(c.SipUserAdd(ctx, ivclient.SipUser{Accountcode: "default", Name: "1010", Secret: "creative-password", CallLimit: ivclient.Ptr(2), MusicOnHold: "default"}), nil, "SipUserAdd")
	is(c.SipUserAdd(ctx, ivclient.SipUser{Accountcode: "default", Name: "1010"}), codes.ErrDuplicate, "SipUserAdd duplicate")
	sips, err := c.SipUserList(ctx, "default")
	is(err, nil, "SipUserList")
	assert.Contains(t, sips, "1010")
	_, err = c.SipUserList(ctx, "nosuchaccount")
	is(err, codes.ErrNotFound, "SipUserList unknown accountcode")
	su, err := c.SipUserInfo(ctx, "default", "1010")
	is(err, nil, "SipUserInfo")
	assert.Equal(t, "creative-password", su.Secret)
	assert.Equal(t, 2, su.CallLimit)
	assert.Equal(t, "default", su.MusicOnHold)
	_, err = c.SipUserInfo(ctx, "default", "9999")
	is(err, codes.ErrNotFound, "SipUserInfo unknown")
	is(c.SipUserModify(ctx, "default", "1010", ivclient.SipUser{Secret: "new-secret", Port: ivclient.Ptr(5070)}), nil, "SipUserModify")
	su, err = c.SipUserInfo(ctx, "default", "1010")
	is(err, nil, "SipUserInfo after modify")
	assert.Equal(t, "new-secret", su.Secret)
	assert.Equal(t, 5070, su.Port)
	is(c.SipUserModify(ctx, "default", "9999", ivclient.SipUser{Secret: "x"}), codes.ErrNotFound, "SipUserModify unknown")
	is(c.SipUserAddPermission(ctx, "default", "1010", "123"), nil, "SipUserAddPermission")
	is(c.SipUserAddPermission(ctx, "default", "1010", "456"), codes.ErrDuplicate, "SipUserAddPermission when set")
	loc, err = c.SipUserInfoPermission(ctx, "default", "1010")
	is(err, nil, "SipUserInfoPermission")
	assert.Equal(t, "123", loc)
	_, err = c.SipUserInfoPermission(ctx, "default", "9999")
	is(err, codes.ErrNotFound, "SipUserInfoPermission unknown user")
	is(c.SipUserModifyPermission(ctx, "default", "1010", "456"), nil, "SipUserModifyPermission")
	is(c.SipUserModifyPermission(ctx, "default", "1010", "nosuchgroup"), codes.ErrNotFound, "SipUserModifyPermission unknown group")
	is(c.SipUserDeletePermission(ctx, "default", "1010"), nil, "SipUserDeletePermission")
	is(c.SipUserDeletePermission(ctx, "default", "1010"), codes.ErrNotFound, "SipUserDeletePermission twice")

	// Sessions and calls.
	is(c.AgentPause(ctx, "default", "1001", "1"), codes.ErrNotAllowed, "AgentPause logged off")
	is(c.AgentLogin(ctx, "default", "1001", "SIP/default_1010"), nil, "AgentLogin")
	is(c.AgentLogin(ctx, "default", "default_1001", "SIP/default_1010"), codes.ErrDuplicate, "AgentLogin twice")
	is(c.AgentLogin(ctx, "default", "4040", "SIP/default_1010"), codes.ErrNotFound, "AgentLogin unknown agent")
	is(c.AgentPause(ctx, "default", "1001", "2"), nil, "AgentPause")
	ai, err = c.AgentInfo(ctx, "default", "1001")
	is(err, nil, "AgentInfo paused")
	assert.Equal(t, "PAUSE", ai.AgentStatus)
	is(c.AgentPause(ctx, "default", "1001", "99"), codes.ErrNotFound, "AgentPause unknown reason")
	is(c.AgentUnpause(ctx, "default", "1001"), nil, "AgentUnpause")
	is(c.AgentUnpause(ctx, "default", "1001"), codes.ErrDuplicate, "AgentUnpause not paused")
	is(c.BlindTransfer(ctx, "default", "1001", "6100"), codes.ErrItemEmpty, "BlindTransfer with no call")
	is(c.NewCall(ctx, "default", "1002", "6100", "9999"), codes.ErrNotAllowed, "NewCall logged off")
	is(c.NewCall(ctx, "default", "1001", "6100", "9999"), nil, "NewCall")
	calls := p.Calls()
	require.NotEmpty(t, calls, "NewCall placed a call")
	is(c.BlindTransfer(ctx, "default", "1001", "7016"), nil, "BlindTransfer")
	is(c.NewCall(ctx, "default", "1001", "6101", ""), nil, "NewCall again")
	calls = p.Calls()
	require.NotEmpty(t, calls)
	is(c.Hangup(ctx, "default", calls[len(calls)-1].UniqueID), nil, "Hangup")
	is(c.Hangup(ctx, "default", "1286208779.1.30"), codes.ErrNotFound, "Hangup unknown call")
	is(c.SendSms(ctx, "default", "552188283288", "Hi there!"), nil, "SendSms")
	is(c.SendSms(ctx, "nosuchaccount", "552188283288", "Hi there!"), codes.ErrNotFound, "SendSms unknown accountcode")
	is(c.NewCallBack(ctx, ivclient.CallBack{Accountcode: "default", RuleID: "1", Mcdu: "6100", Originator: "2177277722", Language: "pt_BR"}), nil, "NewCallBack")
	is(c.NewCallBack(ctx, ivclient.CallBack{Accountcode: "nosuchaccount", Mcdu: "6100", Originator: "2177277722"}), codes.ErrNotFound, "NewCallBack unknown accountcode")
	require.Len(t, p.CallBacks(), 1)
	is(c.AgentDelete(ctx, "default", "1001"), codes.ErrNotAllowed, "AgentDelete of a logged-in agent")
	is(c.AgentLogoff(ctx, "default", "1001"), nil, "AgentLogoff")
	is(c.AgentLogoff(ctx, "default", "1001"), codes.ErrDuplicate, "AgentLogoff twice")

	// Deletes.
	is(c.SipUserDelete(ctx, "default", "1010"), nil, "SipUserDelete")
	is(c.SipUserDelete(ctx, "default", "1010"), codes.ErrNotFound, "SipUserDelete twice")
	is(c.AgentDelete(ctx, "default", "1002"), nil, "AgentDelete")
	is(c.AgentDelete(ctx, "default", "1002"), codes.ErrNotFound, "AgentDelete twice")
	is(c.QueueDelete(ctx, "default", "7016"), nil, "QueueDelete")
	is(c.QueueDelete(ctx, "default", "7016"), codes.ErrNotFound, "QueueDelete twice")
	members, err = c.AgentQueueMembers(ctx, "default", "7015")
	is(err, nil, "AgentQueueMembers after deletes")
	require.Len(t, members, 1)
	assert.Equal(t, "1001", members[0].User)
	is(c.QueueDelete(ctx, "default", "7015"), codes.ErrNotEmpty, "QueueDelete of a queue with members")
}

func stripQueues(in []ivclient.AgentQueue) []ivclient.AgentQueue {
	out := make([]ivclient.AgentQueue, len(in))
	for i, q := range in {
		out[i] = ivclient.AgentQueue{Name: q.Name, Priority: q.Priority}
	}
	return out
}
