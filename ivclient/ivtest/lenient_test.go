package ivtest

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// An argument under a name the reference does not give it over the
// transport is accepted, and counted by kind, marked on the request and
// logged (Info the first time, Debug after): User in a NewCall over STOMP
// (the reference's STOMP example has Agent), Agent over SOAP (its XML has
// User), passwd in an AgentAdd over STOMP. The reference's own names, and
// what ivclient sends over either transport, are not counted.
func TestLenientNames(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, c := agentSetup(t, WithLogger(log), WithNewCallOutcome(NoAnswer))
	addLines(c, "1001", "1")
	login(c, "1001")

	c.ok("NewCall", A{"Accountcode": "default", "Agent": "default_1001", "Exten": "6100"})
	if got := p.Lenient(); len(got) != 0 {
		t.Fatalf("the reference's names counted as lenient: %v", got)
	}
	c.ok("NewCall", A{"Accountcode": "default", "User": "default_1001", "Exten": "6100"})
	c.ok("NewCall", A{"Accountcode": "default", "User": "default_1001", "Exten": "6100"})
	c.ok("AgentAdd", A{"accountcode": "default", "user": "1010", "passwd": "12"})
	status := postSOAP(t, p, "NewCall", `<ivws:Accountcode>default</ivws:Accountcode><ivws:User>default_1001</ivws:User><ivws:Exten>6100</ivws:Exten>`)
	if status != http.StatusOK {
		t.Fatalf("NewCall over SOAP with User: HTTP %d", status)
	}
	status = postSOAP(t, p, "NewCall", `<ivws:Accountcode>default</ivws:Accountcode><ivws:Agent>default_1001</ivws:Agent><ivws:Exten>6100</ivws:Exten>`)
	if status != http.StatusOK {
		t.Fatalf("NewCall over SOAP with Agent: HTTP %d", status)
	}

	want := []LenientCount{
		{Kind: "NewCall over STOMP: user for Agent", Count: 2},
		{Kind: "AgentAdd over STOMP: passwd for pass", Count: 1},
		{Kind: "NewCall over SOAP: agent for User", Count: 1},
	}
	got := p.Lenient()
	if len(got) != len(want) {
		t.Fatalf("Lenient = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Lenient[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if st := p.Stats(); st.Lenient != 4 {
		t.Errorf("Stats.Lenient = %d, want 4", st.Lenient)
	}
	var marked []string
	for _, r := range p.Requests() {
		marked = append(marked, r.Method+"/"+r.Transport+"="+strings.Join(r.Lenient, ","))
	}
	wantMarks := "AgentLineAdd/stomp=|AgentLogin/stomp=|NewCall/stomp=|NewCall/stomp=NewCall over STOMP: user for Agent|" +
		"NewCall/stomp=NewCall over STOMP: user for Agent|AgentAdd/stomp=AgentAdd over STOMP: passwd for pass|" +
		"NewCall/soap=|NewCall/soap=NewCall over SOAP: agent for User"
	if got := strings.Join(marked, "|"); got != wantMarks {
		t.Errorf("requests:\n%s\nwant\n%s", got, wantMarks)
	}
	out := logs.String()
	if n := strings.Count(out, "level=INFO msg=\"ivtest: accepted a request the platform's reference does not describe\" kind=\"NewCall over STOMP: user for Agent\""); n != 1 {
		t.Errorf("%d Info lines for the first lenient NewCall, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "level=DEBUG msg=\"ivtest: accepted a request the platform's reference does not describe\" kind=\"NewCall over STOMP: user for Agent\""); n != 1 {
		t.Errorf("%d Debug lines for the second lenient NewCall, want 1:\n%s", n, out)
	}
	if strings.Contains(out, p.Key()) {
		t.Error("the log holds the access key")
	}

	// ivclient sends each transport's names: nothing more is counted.
	before := p.Stats().Lenient
	ctx := ctxT(t)
	tr, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ivclient.New(tr, p.Key())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	for _, cl := range []*ivclient.Client{sc, soapClient(t, p, p.Key())} {
		if err := cl.NewCall(ctx, "default", "1001", "6100", "9"); err != nil {
			t.Fatal(err)
		}
		if err := cl.AgentModify(ctx, "default", "1010", ivclient.Agent{Pass: "34"}); err != nil {
			t.Fatal(err)
		}
		if err := cl.BlindTransfer(ctx, "default", "1002", "7000"); err == nil {
			t.Fatal("BlindTransfer of an agent not logged in: no error")
		}
	}
	if after := p.Stats().Lenient; after != before {
		t.Errorf("ivclient's requests counted as lenient: %v", p.Lenient())
	}
}

// postSOAP posts one IVWS operation with p's key and the given argument
// elements, and returns the HTTP status.
func postSOAP(t *testing.T, p *Platform, method, args string) int {
	t.Helper()
	body := `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ivws="Ivws.Ivws"><soapenv:Body><ivws:` +
		method + `><ivws:key>` + p.Key() + `</ivws:key>` + args + `</ivws:` + method + `></soapenv:Body></soapenv:Envelope>`
	req, err := http.NewRequestWithContext(context.Background(), "POST", p.SOAPURL(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
