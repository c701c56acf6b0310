package console

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium starts headless Chromium for one test (skipped without it,
// failed when IV_REQUIRE_CHROMIUM=1) and returns a tab's context.
func chromium(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("IV_CHROMIUM")
	names := []string{"chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"}
	if path != "" {
		names = []string{path}
	}
	path = ""
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("IV_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("Chromium is required (IV_CHROMIUM names another binary) but not found")
		}
		t.Skip("Chromium is not installed; set IV_REQUIRE_CHROMIUM=1 to require it")
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(t.TempDir()))
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	return ctx
}

func waitPage(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(15*time.Second))); err != nil { // against a hang only
		t.Fatalf("the page did not show %s: %v", what, err)
	}
}

// dropAll drops every page as the broadcaster drops one that falls
// behind.
func (c *Console) dropAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for cl := range c.clients {
		delete(c.clients, cl)
		close(cl.gone)
		c.drops++
	}
}

// rawRows is true when the page's event list holds exactly the numbered
// events 1..n, each once, and no "missed" row.
const rawRows = `((n) => { const r = [...document.querySelectorAll('#events tbody tr[data-type="(raw)"]')].map(r => r.cells[3].textContent);
  return r.length === n && new Set(r).size === n && r.every(x => Number(x) >= 1 && Number(x) <= n) && !document.querySelector('#events tr.gap'); })`

// A page the console drops reconnects by itself and resumes: its event
// list ends with every event, none twice, none said missed, and the drop
// is counted on the page.
func TestConsoleBrowserResume(t *testing.T) {
	p, c, url := serve(t, eventRing, requestRing)
	ctx := chromium(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/")); err != nil {
		t.Fatal(err)
	}
	waitPage(t, ctx, "the stream live", `document.getElementById("live").textContent === "live"`)
	publish(t, p, 1, 50)
	waitPage(t, ctx, "events 1..50", rawRows+`(50)`)
	c.dropAll()
	publish(t, p, 51, 120) // while the page reconnects
	waitPage(t, ctx, "events 1..120 after the drop", rawRows+`(120) && document.getElementById("n-drops").textContent === "1"`)
	if missed, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("n-missed").textContent`)); err != nil || missed != "0" {
		t.Errorf("missed: %q (%v), want 0", missed, err)
	}
}

// A page that reconnects after the console's ring has moved past it shows
// a "missed N events" row and counts them.
func TestConsoleBrowserGap(t *testing.T) {
	const ringSize = 16
	p, c, url := serve(t, ringSize, ringSize)
	ctx := chromium(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/")); err != nil {
		t.Fatal(err)
	}
	waitPage(t, ctx, "the stream live", `document.getElementById("live").textContent === "live"`)
	publish(t, p, 1, 10)
	waitPage(t, ctx, "events 1..10", rawRows+`(10)`)
	c.dropAll()
	publish(t, p, 11, 100) // 74 of them gone from the ring before the page is back
	waitPage(t, ctx, "the missed row", `(() => { const g = document.querySelector('#events tr.gap');
	  return !!g && g.dataset.gap === "74" && g.textContent.includes("missed 74 events") && document.getElementById("n-missed").textContent === "74"
	    && document.querySelectorAll('#events tbody tr[data-type="(raw)"]').length === 10 + 16; })()`)
}
