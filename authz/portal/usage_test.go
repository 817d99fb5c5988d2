package portal

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/clearance-gw/clearance/authz/metering"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/testbrowser"
)

// storeUsage reports from the store under a config with one plan, as the
// gateway's wiring does.
type storeUsage struct {
	st  *env
	cfg *config.Config
}

func (u storeUsage) Usage(ctx context.Context, c store.Client, days int) (metering.Report, error) {
	return metering.BuildReport(ctx, u.st.st, u.cfg, metering.StoreKey("", c.ID), c.Plan, days, u.st.clk.Now())
}

// newUsageEnv is a portal whose client pages show usage: alice's client
// "charts app" is on the plan "charts" (10/s, 10000 a month) and has
// requests on several of the last 30 days.
func newUsageEnv(t *testing.T) *env {
	t.Helper()
	cfg := &config.Config{Plans: []config.Plan{{Name: "charts", Rate: "10/s", Quota: "10000/month"}}}
	e := newEnv(t)
	e.p.usage = storeUsage{st: e, cfg: cfg}
	e.addClient(store.Client{ID: "charts app", Name: "Charts app", Owner: "alice", Plan: "charts", Scopes: []string{}})
	today := e.clk.Now().Truncate(24 * time.Hour) // 2026-03-01
	var counts []store.UsageCount
	for i, n := range []int64{120, 0, 480, 950, 610, 0, 0, 1300, 720, 400, 0, 85, 990, 1500, 640, 300} {
		counts = append(counts, store.UsageCount{Key: "charts app", Day: today.AddDate(0, 0, -i), Count: n})
	}
	if err := e.st.AddUsage(t.Context(), counts); err != nil {
		t.Fatal(err)
	}
	return e
}

var barRE = regexp.MustCompile(`<rect class="bar" x="\d+" y="(\d+)" width="\d+" height="(\d+)" data-day="([0-9-]+)" data-requests="(\d+)">`)

// TestClientPageShowsPlanAndUsage: the client page names the plan, what is
// left of the quota (this month: only today's 120 count) and draws 30
// bars, today last, as inline SVG.
func TestClientPageShowsPlanAndUsage(t *testing.T) {
	e := newUsageEnv(t)
	b := e.login("alice")
	r := b.get("/portal/clients/charts%20app")
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{
		`<strong id="plan">charts</strong>`,
		`<span id="plan-rate">10/s</span>`,
		`<span id="plan-quota">10000/month</span>`,
		`<strong id="quota-left">9880</strong>`,
		`until 2026-04-01 00:00 UTC`,
		`<svg class="chart" id="usage-chart"`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the client page lacks %s", want)
		}
	}
	bars := barRE.FindAllStringSubmatch(r.body, -1)
	if len(bars) != 30 {
		t.Fatalf("%d bars, want 30", len(bars))
	}
	if last := bars[29]; last[3] != "2026-03-01" || last[4] != "120" {
		t.Errorf("last bar %v, want today with 120", last[1:])
	}
	if tallest := bars[29-13]; tallest[3] != "2026-02-16" || tallest[4] != "1500" || tallest[1] != "12" {
		t.Errorf("tallest bar %v, want 2026-02-16, 1500, reaching the top (y=12)", tallest[1:])
	}
	if bars[0][2] != "0" {
		t.Errorf("a day without requests has height %s", bars[0][2])
	}
	if strings.Contains(r.body, "<script src=\"http") {
		t.Error("the page loads a third-party script")
	}
}

// TestClientPageWithoutPlan: a client on no plan is shown as not metered.
func TestClientPageWithoutPlan(t *testing.T) {
	e := newUsageEnv(t)
	e.addClient(store.Client{ID: "free app", Name: "Free app", Owner: "alice", Scopes: []string{}})
	r := e.login("alice").get("/portal/clients/free%20app")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.body, "not on a plan") || len(barRE.FindAllString(r.body, -1)) != 30 {
		t.Fatalf("the page of a client without a plan:\n%s", r.body)
	}
}

// TestBrowserUsageChart: Chromium draws the server's SVG chart (30 bars
// with real sizes) under the page's Content-Security-Policy, with no
// script but the portal's own.
func TestBrowserUsageChart(t *testing.T) {
	ctx := testbrowser.Start(t)
	e := newUsageEnv(t)
	step(t, ctx, "log in",
		chromedp.Navigate(e.srv.URL+"/portal/login"),
		chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("new-client")),
		chromedp.Navigate(e.srv.URL+"/portal/clients/charts%20app"),
		chromedp.WaitVisible(chromedp.ID("usage-chart")),
	)
	type drawn struct {
		Bars, Tall, Width int
		Fill              string
		Scripts           []string
	}
	got := value(t, ctx, "measure the chart", chromedp.Evaluate[drawn](`(() => {
		const svg = document.getElementById("usage-chart");
		const bars = [...svg.querySelectorAll("rect.bar")];
		return {
			Bars: bars.length,
			Tall: bars.filter(b => b.getBBox().height > 100).length,
			Width: Math.round(svg.getBoundingClientRect().width),
			Fill: getComputedStyle(bars[bars.length - 1]).fill,
			Scripts: [...document.scripts].map(s => new URL(s.src, location.href).origin),
		};
	})()`))
	if got.Bars != 30 || got.Tall != 2 || got.Width < 200 || got.Fill == "" || got.Fill == "none" {
		t.Fatalf("chart as drawn: %+v (want 30 bars, 2 over 100 units, a width, a fill from the stylesheet)", got)
	}
	for _, o := range got.Scripts {
		if o != strings.TrimSuffix(e.srv.URL, "/") {
			t.Errorf("script from %s", o)
		}
	}
	screenshot(t, ctx, "usage")
}
