package fakeivws

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/instantvoice/instantvoice-go/codes"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stub is a Platform that records what the endpoint asked of it.
type stub struct {
	mu        sync.Mutex
	received  int
	malformed []string
	served    []string // method key args
	hold      Hold
}

func (s *stub) Received() { s.mu.Lock(); s.received++; s.mu.Unlock() }

func (s *stub) Malformed(key string, body []byte) {
	s.mu.Lock()
	s.malformed = append(s.malformed, key)
	s.mu.Unlock()
}

func (s *stub) Serve(method, key string, args map[string]any, body []byte) (codes.Code, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.served = append(s.served, method+" "+key+" "+args["accountcode"].(string))
	if args["accountcode"] == "nope" {
		return codes.NotFound, "Accountcode nope not found"
	}
	return codes.OK, nil
}

func (s *stub) Hold(method string, gone, closing <-chan struct{}) Hold {
	if s.hold == Dropped {
		select {
		case <-gone:
		case <-closing:
		}
	}
	return s.hold
}

func post(t *testing.T, url, op, accountcode string) (int, string) {
	t.Helper()
	body := `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ivws="Ivws.Ivws"><soapenv:Body>` +
		`<ivws:` + op + `><ivws:key>k1</ivws:key><ivws:accountcode>` + accountcode + `</ivws:accountcode></ivws:` + op + `></soapenv:Body></soapenv:Envelope>`
	resp, err := http.Post(url, "text/xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The endpoint asks its Platform for each operation and answers in the
// reference's style; a dropped reply ends without a response when the
// endpoint closes; Close is idempotent.
func TestServerAsksItsPlatform(t *testing.T) {
	p := &stub{}
	s, err := Start("", p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Get(s.URL() + "?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	wsdl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(wsdl), `location="`+s.URL()+`"`) {
		t.Errorf("the WSDL does not name the endpoint %s", s.URL())
	}

	if code, body := post(t, s.URL(), "QueueList", "default"); code != 200 || !strings.Contains(body, "<QueueListResult") {
		t.Errorf("QueueList: %d %s", code, body)
	}
	if code, body := post(t, s.URL(), "AgentInfo", "nope"); code != 500 || !strings.Contains(body, "SOAP-ENV:Client.RESPONSE_NOT_FOUND") {
		t.Errorf("a failed AgentInfo: %d %s", code, body)
	}
	resp, err = http.Post(s.URL(), "text/xml", strings.NewReader("not xml"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	p.mu.Lock()
	got := strings.Join(p.served, "; ")
	received, malformed := p.received, len(p.malformed)
	p.mu.Unlock()
	if got != "QueueList k1 default; AgentInfo k1 nope" || received != 3 || malformed != 1 {
		t.Errorf("served %q, received %d, malformed %d", got, received, malformed)
	}

	p.hold = Dropped
	done := make(chan int)
	go func() {
		code, _ := post(t, s.URL(), "QueueList", "default")
		done <- code
	}()
	for {
		p.mu.Lock()
		n := len(p.served)
		p.mu.Unlock()
		if n == 3 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	s.Close()
	if code := <-done; code != 0 {
		t.Errorf("a dropped reply was answered: HTTP %d", code)
	}
	s.Close()
}
