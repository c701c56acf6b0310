package soapx_test

import (
	"context"
	"net/http"
	"os"
	"reflect"
	"sync"
	"testing"

	"github.com/instantvoice/instantvoice-go/internal/catalog"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// The reference's XML replies, served byte for byte by an endpoint, decode
// through soapx and the typed client into the values the STOMP transport
// gives for the same data.
func TestReferenceRepliesThroughClient(t *testing.T) {
	var mu sync.Mutex
	fixture := ""
	e := newIVWS(t, func(w http.ResponseWriter, r *http.Request, req request) {
		mu.Lock()
		name := fixture
		mu.Unlock()
		b, err := os.ReadFile("testdata/replies/" + name + ".xml")
		if err != nil {
			t.Error(err)
			w.WriteHeader(500)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Write(b)
	})
	e.setWSDL(func(address string) (int, string) {
		var names []string
		for _, m := range catalog.Methods() {
			names = append(names, m.Name)
		}
		return 200, testWSDLWith(address, names)
	})
	tr := newTransport(t, e.URL())
	c, err := ivclient.New(tr, testKey, ivclient.KeepTransportOpen())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	use := func(name string) {
		mu.Lock()
		fixture = name
		mu.Unlock()
	}

	use("AgentInfo")
	info, err := c.AgentInfo(ctx, "default", "0001")
	if err != nil || info.ID != 22 || info.Pass != "456" || info.Accountcode != "default" || info.Name != "Foo Agent" || info.User != "0001" || len(info.Extra) != 0 {
		t.Errorf("AgentInfo: %+v, %v", info, err)
	}

	use("AgentLineList")
	lines, err := c.AgentLineList(ctx, "default", "0001")
	if err != nil || len(lines) != 1 || lines[0].Accountcode != "default" || !lines[0].Inbound || !lines[0].Outbound ||
		lines[0].Status != "IDLE" || lines[0].Number != 1 || lines[0].StatusTS != 0 {
		t.Errorf("AgentLineList: %+v, %v", lines, err)
	}

	use("AgentQueueList")
	queues, err := c.AgentQueueList(ctx, "default", "0001")
	if err != nil || len(queues) != 2 || queues[0].Name != "1" || queues[1].Name != "2" || queues[1].Priority != 0 {
		t.Errorf("AgentQueueList: %+v, %v", queues, err)
	}

	use("AgentQueueMembers")
	members, err := c.AgentQueueMembers(ctx, "default", "1")
	if err != nil || len(members) != 1 || members[0].User != "0001" || members[0].Priority != 0 {
		t.Errorf("AgentQueueMembers: %+v, %v", members, err)
	}

	for _, m := range []string{"AgentInfoPermission", "SipUserInfoPermission"} {
		use(m)
		var loc string
		if m == "AgentInfoPermission" {
			loc, err = c.AgentInfoPermission(ctx, "default", "0001")
		} else {
			loc, err = c.SipUserInfoPermission(ctx, "default", "1111")
		}
		if err != nil || loc != "123" {
			t.Errorf("%s: %q, %v", m, loc, err)
		}
	}

	use("QueueList")
	names, err := c.QueueList(ctx, "default")
	if want := []string{"1000", "1", "2000", "2341", "10666"}; err != nil || !reflect.DeepEqual(names, want) {
		t.Errorf("QueueList: %q, %v", names, err)
	}

	use("SipUserList")
	names, err = c.SipUserList(ctx, "default")
	if want := []string{"instantvoice", "0001", "0002", "0003", "0004"}; err != nil || !reflect.DeepEqual(names, want) {
		t.Errorf("SipUserList: %q, %v", names, err)
	}

	use("QueueInfo")
	q, err := c.QueueInfo(ctx, "default", "1000")
	if err != nil || q.RequireSendInfo != "no" || q.DialTimeout != 9991 || q.SLAnsweredBefore3 != 90 || q.Name != "1000" ||
		q.JoinEmpty != "yes" || q.Description != "" || q.MusicOnHold != "default" || len(q.Extra) != 0 {
		t.Errorf("QueueInfo: %+v, %v", q, err)
	}

	use("SipUserInfo")
	u, err := c.SipUserInfo(ctx, "default", "0001")
	if err != nil || u.CallLimit != 0 || u.IgnoreRegExpire != "no" || u.CallerID != "default_0001" || u.Port != 5060 ||
		u.Secret != "creative-password" || u.FullContact != "" || u.Allow != "ilbc;gsm;ulaw;alaw" || len(u.Extra) != 0 {
		t.Errorf("SipUserInfo: %+v, %v", u, err)
	}
}
