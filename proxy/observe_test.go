package proxy

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/config"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// counterValue reads the series of counter name with the given route and
// code labels from reg.
func counterValue(t testing.TB, reg prometheus.Gatherer, name, route, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["route"] == route && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// The access log is checked as the JSON writer of the access log writes
// it and as slog writes it (log.format text, or no writer given).
func TestAccessLog(t *testing.T) {
	t.Run("JSONAccessLog", func(t *testing.T) { testAccessLog(t) })
	t.Run("slog", func(t *testing.T) { testAccessLog(t, func(o *Options) { o.JSONAccessLog = nil }) })
}

func testAccessLog(t *testing.T, opts ...gwOption) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "0123456789")
	})
	r := testRoute("mapdata", "/mapdata/", up.URL)
	r.Scopes = []string{"query_mapdata"}
	g := newGateway(t, testConfig(r, testRoute("down", "/down/", "http://"+deadAddr(t))), testGuard(), opts...)

	const cookie = "session=COOKIESECRET"
	requests := []struct {
		target string
		hdr    []string
		status int
	}{
		{"/mapdata/x?access_token=" + tokAlice + "&q=QUERYSECRET", nil, 200},
		{"/mapdata/x?q=QUERYSECRET", []string{"Authorization", "Bearer " + tokAlice, "Cookie", cookie}, 200},
		{"/mapdata/x?q=QUERYSECRET", []string{"Authorization", "Bearer " + tokRobot}, 401},
		{"/mapdata/x?access_token=WRONGSECRET", nil, 401},
		{"/mapdata/x?access_token=" + tokAlice, []string{"Authorization", "Bearer " + tokAlice}, 400},
		{"/down/x?access_token=" + tokAlice + "&q=QUERYSECRET", []string{"Cookie", cookie}, 502},
		{"/nowhere?access_token=" + tokAlice, nil, 404},
	}
	for _, rq := range requests {
		resp, body := g.get(t, rq.target, rq.hdr...)
		if resp.StatusCode != rq.status {
			t.Fatalf("%s: status %d, want %d (%s)", rq.target, resp.StatusCode, rq.status, body)
		}
	}

	lines := g.log.lines(t)
	if len(lines) != len(requests) {
		t.Fatalf("%d log lines for %d requests:\n%s", len(lines), len(requests), g.log.String())
	}
	t.Run("one line per request with its fields", func(t *testing.T) {
		for i, l := range lines {
			rq := requests[i]
			if l["msg"] != "request" || l["component"] != "proxy" {
				t.Errorf("line %d: msg %v component %v", i, l["msg"], l["component"])
			}
			if l["status"] != float64(rq.status) {
				t.Errorf("line %d: status %v, want %d", i, l["status"], rq.status)
			}
			wantPath, _, _ := strings.Cut(rq.target, "?")
			if l["path"] != wantPath || l["method"] != "GET" {
				t.Errorf("line %d: %v %v, want GET %s", i, l["method"], l["path"], wantPath)
			}
			for _, k := range []string{"request_id", "route", "bytes", "duration_ms", "remote"} {
				if _, ok := l[k]; !ok {
					t.Errorf("line %d: no %s", i, k)
				}
			}
			wantLevel := "INFO"
			if rq.status >= 500 {
				wantLevel = "ERROR"
			}
			if l["level"] != wantLevel {
				t.Errorf("line %d: level %v, want %s", i, l["level"], wantLevel)
			}
		}
	})
	t.Run("authenticated lines name the client and subject", func(t *testing.T) {
		for _, i := range []int{0, 1} {
			l := lines[i]
			if l["client_id"] != "demo-app" || l["subject"] != "alice" || l["bytes"] != float64(10) {
				t.Errorf("line %d: %v", i, l)
			}
			if _, ok := l["upstream_ms"]; !ok {
				t.Errorf("line %d: no upstream_ms", i)
			}
		}
		for _, i := range []int{2, 3, 4, 6} {
			if _, ok := lines[i]["client_id"]; ok {
				t.Errorf("line %d: refused request names a client: %v", i, lines[i])
			}
			if _, ok := lines[i]["upstream_ms"]; ok {
				t.Errorf("line %d: upstream_ms for a request never proxied", i)
			}
		}
		if lines[2]["auth_error"] != "scope" || lines[3]["auth_error"] != "signature" {
			t.Errorf("auth_error %v, %v", lines[2]["auth_error"], lines[3]["auth_error"])
		}
		if lines[6]["route"] != "none" {
			t.Errorf("404 route label %v", lines[6]["route"])
		}
	})
	t.Run("no token, query or credential anywhere", func(t *testing.T) {
		text := g.log.String()
		for _, secret := range []string{tokAlice, tokRobot, "WRONGSECRET", "QUERYSECRET", "COOKIESECRET", "access_token", "Bearer", "?"} {
			if strings.Contains(text, secret) {
				t.Errorf("log contains %q", secret)
			}
		}
	})
}

func TestMetrics(t *testing.T) {
	up := newUpstream(t, nil)
	r := testRoute("mapdata", "/mapdata/", up.URL)
	r.Scopes = []string{"query_mapdata"}
	clock := &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), step: 10 * time.Millisecond}
	g := newGateway(t, testConfig(r, testRoute("down", "/down/", "http://"+deadAddr(t))), testGuard(), func(o *Options) {
		o.Now = clock.Now
		o.Endpoints = []Endpoint{{Name: "token", Pattern: "/token", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
		})}}
	})
	g.get(t, "/mapdata/a", "Authorization", "Bearer "+tokAlice)
	g.get(t, "/mapdata/b?access_token="+tokAlice)
	g.get(t, "/mapdata/c")
	g.get(t, "/down/x?access_token="+tokAlice)
	g.get(t, "/secret-path-not-a-label")
	g.get(t, "/token")
	g.h.metrics.Reload(true)
	g.h.metrics.Reload(true)
	g.h.metrics.Reload(false)

	golden := filepath.Join("testdata", "metrics.prom")
	if *update {
		var b strings.Builder
		srv := httptest.NewServer(NewAdmin(g.reg, nil))
		defer srv.Close()
		resp, err := srv.Client().Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(&b, resp.Body)
		resp.Body.Close()
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.GatherAndCompare(g.reg, f,
		"clearance_http_requests_total", "clearance_http_request_duration_seconds",
		"clearance_upstream_duration_seconds", "clearance_config_reloads_total"); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(g.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	t.Run("spot values", func(t *testing.T) {
		checks := []struct {
			labels []string
			want   float64
		}{
			{[]string{"mapdata", "2xx"}, 2},
			{[]string{"mapdata", "4xx"}, 1},
			{[]string{"down", "5xx"}, 1},
			{[]string{"none", "4xx"}, 1},
			{[]string{"token", "4xx"}, 1},
		}
		for _, c := range checks {
			if got := counterValue(t, g.reg, "clearance_http_requests_total", c.labels[0], c.labels[1]); got != c.want {
				t.Errorf("requests%v = %v, want %v", c.labels, got, c.want)
			}
		}
		if got := testutil.ToFloat64(g.h.metrics.reloads.WithLabelValues("failure")); got != 1 {
			t.Errorf("failed reloads %v", got)
		}
	})
	t.Run("nil metrics record nothing", func(t *testing.T) {
		var m *Metrics
		m.Reload(true)
		if rm := m.forRoute("x", true); rm != nil {
			t.Error("nil Metrics built route metrics")
		}
	})
}

func TestAdmin(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	m.Reload(true)
	var readyErr error
	srv := httptest.NewServer(NewAdmin(reg, func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline on the readiness check")
		}
		return readyErr
	}))
	t.Cleanup(srv.Close)

	get := func(t *testing.T, method, p string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+p, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	t.Run("healthz says ok", func(t *testing.T) {
		resp, body := get(t, "GET", "/healthz")
		if resp.StatusCode != 200 || body != "ok\n" {
			t.Errorf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("readyz is 200 when ready", func(t *testing.T) {
		resp, body := get(t, "GET", "/readyz")
		if resp.StatusCode != 200 || jsonError(t, body)["status"] != "ready" {
			t.Errorf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("readyz is 503 with the reason", func(t *testing.T) {
		readyErr = errors.New("store unreachable")
		defer func() { readyErr = nil }()
		resp, body := get(t, "GET", "/readyz")
		e := jsonError(t, body)
		if resp.StatusCode != 503 || e["reason"] != "store unreachable" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("metrics in text format", func(t *testing.T) {
		resp, body := get(t, "GET", "/metrics")
		if resp.StatusCode != 200 || !strings.Contains(body, `clearance_config_reloads_total{result="success"} 1`) {
			t.Errorf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("other methods refused", func(t *testing.T) {
		if resp, _ := get(t, "POST", "/healthz"); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /healthz: %d", resp.StatusCode)
		}
	})
	t.Run("nil ready is always ready", func(t *testing.T) {
		rec := httptest.NewRecorder()
		NewAdmin(reg, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		if rec.Code != 200 {
			t.Errorf("%d", rec.Code)
		}
	})
}

func TestTransportTuning(t *testing.T) {
	r := testRoute("a", "/a/", "https://upstream.example")
	r.MaxIdleConns = 64
	r.DialTimeout = config.Duration(2 * time.Second)
	r.Timeout = config.Duration(3 * time.Second)
	r.TLSInsecureSkip = true
	h, err := New(testConfig(r), testGuard(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.transports) != 1 {
		t.Fatalf("%d transports", len(h.transports))
	}
	for _, tr := range h.transports {
		if tr == http.DefaultTransport {
			t.Fatal("the default transport is used")
		}
		if tr.MaxIdleConnsPerHost != 64 || tr.MaxIdleConns != 64 || tr.ResponseHeaderTimeout != 3*time.Second ||
			tr.TLSHandshakeTimeout != 3*time.Second || tr.TLSClientConfig == nil || !tr.TLSClientConfig.InsecureSkipVerify {
			t.Errorf("transport %+v", tr)
		}
	}
	if dt := http.DefaultTransport.(*http.Transport); dt.MaxIdleConnsPerHost != 0 || dt.ResponseHeaderTimeout != 0 {
		t.Error("the default transport was modified")
	}
}
