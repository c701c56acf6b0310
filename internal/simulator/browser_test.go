package simulator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/soapx"
)

// domWait bounds each wait for the page to show something; the console
// sends a batch every 250 ms, so a change normally shows well within it.
const domWait = 15 * time.Second

// browser starts headless Chromium for one test and returns a context
// that drives a tab of it. Without Chromium the test is skipped, or fails
// when IV_REQUIRE_CHROMIUM=1 (as CI sets it).
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	path := os.Getenv("IV_CHROMIUM")
	if path != "" {
		if p, err := exec.LookPath(path); err == nil {
			path = p
		} else {
			path = "" // named but missing: as if not installed
		}
	} else {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("IV_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("Chromium is required (apt-get install chromium; IV_CHROMIUM names another binary) but not found")
		}
		t.Skip("Chromium is not installed; set IV_REQUIRE_CHROMIUM=1 to require it")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	return ctx
}

// waitJS waits until the JavaScript expression is true on the page.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(domWait))); err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`["live: " + document.getElementById("live").textContent,
			"toasts: " + document.getElementById("toasts").textContent, "calls: " + document.querySelectorAll("#calls tbody tr").length,
			"events: " + document.querySelectorAll("#events tbody tr").length].join("; ")`))
		t.Fatalf("the page did not show %s: %v (%s)", what, err, state)
	}
}

func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, domWait)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

// clickJS clicks the element sel through the page's DOM: under load,
// where the DevTools DOM domain would track thousands of changing rows.
func clickJS(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	waitJS(t, ctx, sel, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; e.scrollIntoView({block: "center"}); e.click(); return true; })()`, sel))
}

// The console shows the seeded agents, a call played by clicking and its
// events, its end, requests over both transports with their codes, and
// empties the calls on reset; a failed request's detail shows its
// description.
func TestConsoleBrowser(t *testing.T) {
	s := start(t, "-key", "simkey2")
	ctx := browser(t, 1440, 1000)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.control)); err != nil {
		t.Fatal(err)
	}
	row := func(key string) string { return fmt.Sprintf(`#agents tbody tr[data-key="%s"]`, key) }
	waitJS(t, ctx, "the seeded agents", `["default_1001","default_1002","default_1003"].every(k => document.querySelector('#agents tbody tr[data-key="'+k+'"]'))`)

	click(t, ctx, row("default_1001")+` button[data-act="login"]`)
	waitJS(t, ctx, "agent 1001 logged in", `(document.querySelector('`+row("default_1001")+`') || {}).textContent.includes("logged in")`)
	click(t, ctx, row("default_1001")+` button[data-act="inbound"]`)
	waitJS(t, ctx, "the call", `!!document.querySelector('#calls tbody tr[data-agent="default_1001"]')`)
	waitJS(t, ctx, "the NEWCALL", `!!document.querySelector('#events tbody tr[data-type="NEWCALL"][data-agent="default_1001"]')`)
	waitJS(t, ctx, "agent 1001 on a call", `document.querySelector('`+row("default_1001")+`').textContent.includes("on a call")`)

	click(t, ctx, `#calls tbody tr[data-agent="default_1001"] button[data-act="hangup"]`)
	waitJS(t, ctx, "the call gone", `document.querySelectorAll('#calls tbody tr').length === 0`)
	waitJS(t, ctx, "the HANGUP", `!!document.querySelector('#events tbody tr[data-type="HANGUP"][data-agent="default_1001"]')`)

	// A client's requests: over STOMP, one that succeeds and one the
	// platform refuses (agent 1002 is not logged in); over SOAP, one.
	rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _ := s.stompClient(rctx, t, events.TopicPrefix+"default_1002")
	if _, err := c.AgentInfo(rctx, "default", "1001"); err != nil {
		t.Fatal(err)
	}
	err := c.AgentPause(rctx, "default", "1002", "1")
	var ce *codes.Error
	if !errors.As(err, &ce) || ce.Code != codes.NotAllowed {
		t.Fatalf("AgentPause of an agent logged off: %v, want RESPONSE_NOT_ALLOWED", err)
	}
	tr, err := soapx.New(s.soapURL)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ivclient.New(tr, s.key)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, err := sc.AgentList(rctx, "default"); err != nil {
		t.Fatal(err)
	}
	if err := c.SendSms(rctx, "default", "+33612345678", "Your callback is booked"); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the SMS", `document.getElementById("sms").textContent.includes("Your callback is booked")`)
	req := func(method, transport string) string {
		return fmt.Sprintf(`#requests tbody tr[data-method="%s"][data-transport="%s"]`, method, transport)
	}
	waitJS(t, ctx, "the STOMP request", `(document.querySelector('`+req("AgentInfo", "stomp")+`') || {textContent: ""}).textContent.includes("OK")`)
	waitJS(t, ctx, "the refused STOMP request", `(document.querySelector('`+req("AgentPause", "stomp")+`') || {textContent: ""}).textContent.includes("RESPONSE_NOT_ALLOWED")`)
	waitJS(t, ctx, "the SOAP request", `(document.querySelector('`+req("AgentList", "soap")+`') || {textContent: ""}).textContent.includes("OK")`)
	// A request the reference does not describe (Agent over SOAP, whose
	// XML names it User) is marked lenient and counted.
	lenient := `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ivws="Ivws.Ivws"><soapenv:Body><ivws:AgentLogoff>` +
		`<ivws:key>` + s.key + `</ivws:key><ivws:Accountcode>default</ivws:Accountcode><ivws:Agent>default_1003</ivws:Agent></ivws:AgentLogoff></soapenv:Body></soapenv:Envelope>`
	if resp, err := http.Post(s.soapURL, "text/xml; charset=utf-8", strings.NewReader(lenient)); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	waitJS(t, ctx, "the lenient request marked", `!!document.querySelector('`+req("AgentLogoff", "soap")+` .badge.lenient') && document.getElementById("n-lenient").textContent === "1"`)
	if txt, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("requests").textContent`)); err != nil || strings.Contains(txt, s.key) {
		t.Errorf("the request list shows the key (or could not be read: %v)", err)
	}

	click(t, ctx, req("AgentPause", "stomp"))
	waitJS(t, ctx, "the failed request's detail", `!document.getElementById("request-detail").hidden && document.getElementById("request-detail").textContent.includes("not logged in")`)
	shoot(t, ctx, "#requests-panel", "console-request.png")

	// Reset empties the calls.
	if status, _, _ := s.call(t, "/calls/inbound", map[string]any{"agent": 1001, "callerid": "2100000009"}); status != 200 {
		t.Fatalf("inbound: %d", status)
	}
	waitJS(t, ctx, "the second call", `document.querySelectorAll('#calls tbody tr').length === 1`)
	click(t, ctx, "#reset")
	waitJS(t, ctx, "no calls after reset", `document.querySelectorAll('#calls tbody tr').length === 0 && !!document.querySelector('#events tbody tr[data-type="HANGUP"]')`)
	waitJS(t, ctx, "agent 1001 logged off after reset", `document.querySelector('`+row("default_1001")+`').textContent.includes("logged off")`)
}

// Under load (2,000 agents, about 200 events a second) the console keeps
// up: it shows every agent, and a call played by a click shows at once
// among the traffic's.
func TestConsoleUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("plays traffic for several seconds")
	}
	s := start(t, "-traffic", "agents=2000,cps=70,talk=20s,answered=85,noanswer=10,busy=5,outbound=20")
	ctx := browser(t, 1440, 1040)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.control)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "2,003 agents", `document.querySelectorAll('#agents tbody tr').length === 2003`)
	waitJS(t, ctx, "calls of the traffic", `document.querySelectorAll('#calls tbody tr').length >= 20`)
	clickJS(t, ctx, `#agents tbody tr[data-key="default_1002"] button[data-act="login"]`)
	waitJS(t, ctx, "agent 1002 logged in", `document.querySelector('#agents tbody tr[data-key="default_1002"]').textContent.includes("logged in")`)
	// The event list, filtered by agent, keeps agent 1002's events in view
	// whatever the traffic.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => { const f = document.getElementById("ev-agent"); f.value = "default_1002"; f.dispatchEvent(new Event("input")); })()`)); err != nil {
		t.Fatal(err)
	}
	clickJS(t, ctx, `#agents tbody tr[data-key="default_1002"] button[data-act="inbound"]`)
	waitJS(t, ctx, "the NEWCALL of agent 1002 among the traffic", `!!document.querySelector('#events tbody tr[data-type="NEWCALL"][data-agent="default_1002"]')`)
	// (A "missed N events" row, were the page to fall behind, is a note,
	// not an event.)
	waitJS(t, ctx, "only agent 1002's events", `Array.from(document.querySelectorAll('#events tbody tr')).every(r => r.classList.contains("gap") || r.dataset.agent === "default_1002")`)
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => { const f = document.getElementById("ev-agent"); f.value = ""; f.dispatchEvent(new Event("input")); })()`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "a busy event list", `document.querySelectorAll('#events tbody tr').length >= 200`)
	// A few requests from a client, one refused, for the picture.
	rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _ := s.stompClient(rctx, t, events.TopicPrefix+"default_1003")
	for _, u := range []string{"1001", "20001", "20002"} {
		if _, err := c.AgentInfo(rctx, "default", u); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.AgentPause(rctx, "default", "1003", "2"); err == nil {
		t.Fatal("AgentPause of agent 1003, logged off: no error")
	}
	waitJS(t, ctx, "the requests", `document.querySelectorAll('#requests tbody tr').length === 4`)
	clickJS(t, ctx, `#requests tbody tr[data-method="AgentPause"]`)
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector(".scroll.tall").scrollTop = 0; window.scrollTo(0, 0)`)); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("IV_CONSOLE_SCREENSHOTS") != "" { // a picture of the load at its height
		waitJS(t, ctx, "the load's calls", `document.querySelectorAll('#calls tbody tr').length >= 600`)
	}
	shoot(t, ctx, "", "console.png")
	if st, err := chromedp.Run(ctx, chromedp.Evaluate[string](`"page drops " + document.getElementById("n-drops").textContent + ", missed " + document.getElementById("n-missed").textContent`)); err == nil {
		t.Log(st) // a dropped page resumes; what it could not get back is counted
	}
}

// shoot writes a PNG of the element sel (the viewport when empty) to
// $IV_CONSOLE_SCREENSHOTS/name, when that variable names a directory.
func shoot(t *testing.T, ctx context.Context, sel, name string) {
	t.Helper()
	dir := os.Getenv("IV_CONSOLE_SCREENSHOTS")
	if dir == "" {
		return
	}
	var png []byte
	var err error
	if sel == "" {
		png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	} else {
		png, err = chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	}
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d KB)", filepath.Join(dir, name), len(png)>>10)
}
