package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/routepath"
)

func TestForwardedRequest(t *testing.T) {
	up := newUpstream(t, nil)
	base := newUpstream(t, nil)

	mapdata := testRoute("mapdata", "/mapdata/", up.URL)
	mapdata.Scopes = []string{"query_mapdata"}
	fwd := testRoute("reports", "/reports", up.URL)
	fwd.ForwardAuthorization = true
	strip := testRoute("strip", "/v2/charts/", base.URL+"/api")
	strip.StripPrefix = true
	public := testRoute("public", "/status/", up.URL)
	public.Public = true
	g := newGateway(t, testConfig(mapdata, fwd, strip, public), testGuard())
	gwHost := strings.TrimPrefix(g.URL, "http://")

	tests := []struct {
		name   string
		target string
		hdr    []string
		up     *upstream
		check  func(t *testing.T, s seen)
	}{
		{
			name:   "query token removed and other parameters kept byte for byte",
			target: "/mapdata/tiles?b=2&access_token=" + tokAlice + "&a=%2F1+x&flag&access_token=" + tokAlice + "&z=%7e",
			check: func(t *testing.T, s seen) {
				if want := "/mapdata/tiles?b=2&a=%2F1+x&flag&z=%7e"; s.RequestURI != want {
					t.Errorf("upstream request URI = %q, want %q", s.RequestURI, want)
				}
			},
		},
		{
			name:   "percent-encoded token parameter name removed too",
			target: "/mapdata/x?access%5Ftoken=" + tokAlice + "&k=v",
			check: func(t *testing.T, s seen) {
				if want := "/mapdata/x?k=v"; s.RequestURI != want {
					t.Errorf("upstream request URI = %q, want %q", s.RequestURI, want)
				}
			},
		},
		{
			name:   "spoofed identity headers stripped and replaced",
			target: "/mapdata/tiles",
			hdr: []string{"Authorization", "Bearer " + tokAlice, "X-Auth-Subject", "admin", "x-auth-client-id", "evil",
				"X-AUTH-ROLES", "admin", "X-Auth-Scope", "manage_users"},
			check: func(t *testing.T, s seen) {
				want := map[string][]string{
					"X-Auth-Subject":   {"alice"},
					"X-Auth-Client-Id": {"demo-app"},
					"X-Auth-Scope":     {"query_mapdata user"},
				}
				for k, v := range s.Header {
					if strings.HasPrefix(strings.ToLower(k), "x-auth-") {
						if w, ok := want[k]; !ok || strings.Join(v, ",") != strings.Join(w, ",") {
							t.Errorf("upstream header %s = %q, want %q", k, v, w)
						}
					}
				}
				for k, w := range want {
					if got := s.Header[k]; strings.Join(got, ",") != strings.Join(w, ",") {
						t.Errorf("upstream header %s = %q, want %q", k, got, w)
					}
				}
			},
		},
		{
			name:   "underscore spellings of identity and forwarding headers stripped",
			target: "/mapdata/tiles",
			hdr: []string{"Authorization", "Bearer " + tokAlice, "X_Auth_Subject", "admin", "X-Auth_Scope", "manage_users",
				"X_Forwarded_For", "6.6.6.6", "X_Request_Id", "spoofed", "X-Real-Ip", "6.6.6.6", "X_Real_IP", "6.6.6.6",
				"X_Other", "kept"},
			check: func(t *testing.T, s seen) {
				for k, v := range s.Header {
					n := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
					if strings.Contains(k, "_") && k != "X_other" || n == "x-real-ip" {
						t.Errorf("upstream got %s = %q", k, v)
					}
				}
				if s.Header.Get("X-Auth-Subject") != "alice" || s.Header.Get("X_other") != "kept" {
					t.Errorf("upstream headers %v", s.Header)
				}
			},
		},
		{
			name:   "issuer and actor of an admin token forwarded, client spellings stripped",
			target: "/mapdata/tiles",
			hdr: []string{"Authorization", "Bearer " + tokAdmin, "X-Auth-Issuer", "https://gw.example", "X-Auth-Actor", "nobody",
				"X_Auth_Issuer", "https://evil.example", "X-Auth_Actor", "nobody"},
			check: func(t *testing.T, s seen) {
				want := map[string]string{
					"X-Auth-Subject": "bob", "X-Auth-Client-Id": "support-tool", "X-Auth-Scope": "query_mapdata",
					"X-Auth-Issuer": "https://gw.example", "X-Auth-Actor": "root",
				}
				for k, v := range s.Header {
					if n := strings.ToLower(strings.ReplaceAll(k, "_", "-")); strings.HasPrefix(n, "x-auth-") && (len(v) != 1 || v[0] != want[k]) {
						t.Errorf("upstream header %s = %q", k, v)
					}
				}
				for k, w := range want {
					if got := s.Header.Values(k); len(got) != 1 || got[0] != w {
						t.Errorf("upstream header %s = %q, want %q", k, got, w)
					}
				}
			},
		},
		{
			name:   "no actor header without an actor",
			target: "/mapdata/tiles",
			hdr:    []string{"Authorization", "Bearer " + tokAlice, "X-Auth-Actor", "root"},
			check: func(t *testing.T, s seen) {
				if v, ok := s.Header["X-Auth-Actor"]; ok {
					t.Errorf("upstream X-Auth-Actor %q", v)
				}
			},
		},
		{
			name:   "the gateway's own cookies removed, others kept in order",
			target: "/mapdata/tiles",
			hdr: []string{"Authorization", "Bearer " + tokAlice,
				"Cookie", "a=1; clearance_session=SESSION1; b=2;Clearance_CSRF=x", "Cookie", "clearance_login=y", "Cookie", "c=3"},
			check: func(t *testing.T, s seen) {
				if got := s.Header.Values("Cookie"); strings.Join(got, " | ") != "a=1; b=2 | c=3" {
					t.Errorf("upstream Cookie %q", got)
				}
			},
		},
		{
			name:   "no Cookie header when only the gateway's cookies were sent",
			target: "/status/x",
			hdr:    []string{"Cookie", "clearance_session=SESSION1; clearance_csrf=x"},
			check: func(t *testing.T, s seen) {
				if v, ok := s.Header["Cookie"]; ok {
					t.Errorf("upstream Cookie %q", v)
				}
			},
		},
		{
			name:   "other cookies pass byte for byte",
			target: "/status/x",
			hdr:    []string{"Cookie", "theme=dark;lang=de;  x=\"q\""},
			check: func(t *testing.T, s seen) {
				if got := s.Header.Values("Cookie"); len(got) != 1 || got[0] != "theme=dark;lang=de;  x=\"q\"" {
					t.Errorf("upstream Cookie %q", got)
				}
			},
		},
		{
			name:   "routed on the canonical path, forwarded as sent",
			target: "/MapData;v=1/Tiles",
			hdr:    []string{"Authorization", "Bearer " + tokAlice},
			check: func(t *testing.T, s seen) {
				if want := "/MapData;v=1/Tiles"; s.RequestURI != want {
					t.Errorf("upstream request URI = %q, want %q", s.RequestURI, want)
				}
				if s.Header.Get("X-Auth-Subject") != "alice" {
					t.Errorf("the protected route was not checked: %v", s.Header)
				}
			},
		},
		{
			name:   "strip prefix removes the client's spelling of the prefix",
			target: "/V2/Charts;v=1/eddf",
			hdr:    []string{"Authorization", "Bearer " + tokAlice},
			up:     base,
			check: func(t *testing.T, s seen) {
				if want := "/api/eddf"; s.RequestURI != want {
					t.Errorf("upstream request URI = %q, want %q", s.RequestURI, want)
				}
			},
		},
		{
			name:   "authorization removed by default",
			target: "/mapdata/tiles",
			hdr:    []string{"Authorization", "Bearer " + tokAlice},
			check: func(t *testing.T, s seen) {
				if v, ok := s.Header["Authorization"]; ok {
					t.Errorf("upstream got Authorization %q", v)
				}
			},
		},
		{
			name:   "authorization forwarded when the route asks",
			target: "/reports/today",
			hdr:    []string{"Authorization", "Bearer " + tokAlice},
			check: func(t *testing.T, s seen) {
				if got := s.Header.Get("Authorization"); got != "Bearer "+tokAlice {
					t.Errorf("upstream Authorization = %q", got)
				}
			},
		},
		{
			name:   "x-forwarded headers set from the connection, client values dropped",
			target: "/mapdata/tiles",
			hdr: []string{"Authorization", "Bearer " + tokAlice, "X-Forwarded-For", "6.6.6.6",
				"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https", "Forwarded", "for=6.6.6.6"},
			check: func(t *testing.T, s seen) {
				if got := s.Header.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
					t.Errorf("X-Forwarded-For = %q, want [127.0.0.1]", got)
				}
				if got := s.Header.Get("X-Forwarded-Host"); got != gwHost {
					t.Errorf("X-Forwarded-Host = %q, want %q", got, gwHost)
				}
				if got := s.Header.Get("X-Forwarded-Proto"); got != "http" {
					t.Errorf("X-Forwarded-Proto = %q, want http", got)
				}
				if got := s.Header.Get("Forwarded"); got != "" {
					t.Errorf("Forwarded = %q, want none", got)
				}
				if want := strings.TrimPrefix(up.URL, "http://"); s.Host != want {
					t.Errorf("Host = %q, want the upstream's %q", s.Host, want)
				}
			},
		},
		{
			name:   "strip prefix joins the rest onto the upstream base path",
			target: "/v2/charts/eddf/ils25?x=1",
			hdr:    []string{"Authorization", "Bearer " + tokAlice},
			up:     base,
			check: func(t *testing.T, s seen) {
				if want := "/api/eddf/ils25?x=1"; s.RequestURI != want {
					t.Errorf("upstream request URI = %q, want %q", s.RequestURI, want)
				}
			},
		},
		{
			name:   "strip prefix of the bare prefix gives the base path",
			target: "/v2/charts",
			hdr:    []string{"Authorization", "Bearer " + tokAlice},
			up:     base,
			check: func(t *testing.T, s seen) {
				if want := "/api/"; s.RequestURI != want {
					t.Errorf("upstream request URI = %q, want %q", s.RequestURI, want)
				}
			},
		},
		{
			name:   "strip prefix keeps encoded slashes of the rest",
			target: "/v2/charts/a%2Fb/c",
			hdr:    []string{"Authorization", "Bearer " + tokAlice},
			up:     base,
			check: func(t *testing.T, s seen) {
				if want := "/api/a%2Fb/c"; s.RequestURI != want {
					t.Errorf("upstream request URI = %q, want %q", s.RequestURI, want)
				}
			},
		},
		{
			name:   "dot segments resolved before matching and forwarding",
			target: "/status/../mapdata/./tiles//x/",
			hdr:    []string{"Authorization", "Bearer " + tokAlice},
			check: func(t *testing.T, s seen) {
				if want := "/mapdata/tiles/x/"; s.RequestURI != want {
					t.Errorf("upstream request URI = %q, want %q", s.RequestURI, want)
				}
				if s.Header.Get("X-Auth-Subject") != "alice" {
					t.Errorf("the protected route was not checked: %v", s.Header)
				}
			},
		},
		{
			name:   "public route needs no token and strips token parameter and identity headers",
			target: "/status/ping?access_token=" + tokAlice + "&v=1",
			hdr:    []string{"X-Auth-Subject", "admin", "X-Auth-Client-Id", "evil"},
			check: func(t *testing.T, s seen) {
				if want := "/status/ping?v=1"; s.RequestURI != want {
					t.Errorf("upstream request URI = %q, want %q", s.RequestURI, want)
				}
				for k := range s.Header {
					if strings.HasPrefix(strings.ToLower(k), "x-auth-") {
						t.Errorf("public route forwarded %s", k)
					}
				}
			},
		},
		{
			name:   "request body and method forwarded",
			target: "/reports/new",
			hdr:    []string{"Authorization", "Bearer " + tokAlice},
			check: func(t *testing.T, s seen) {
				if s.Method != http.MethodPost || s.Body != `{"wx":"CAVOK"}` {
					t.Errorf("upstream got %s %q", s.Method, s.Body)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.up
			if u == nil {
				u = up
			}
			before := u.count()
			method, body := http.MethodGet, ""
			if strings.Contains(tc.name, "body") {
				method, body = http.MethodPost, `{"wx":"CAVOK"}`
			}
			req, err := http.NewRequest(method, g.URL+tc.target, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Add(tc.hdr[i], tc.hdr[i+1])
			}
			resp, rbody := g.do(t, req)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %q", resp.StatusCode, rbody)
			}
			if u.count() != before+1 {
				t.Fatalf("upstream got %d requests, want 1", u.count()-before)
			}
			tc.check(t, u.last(t))
		})
	}
}

func TestRouteBoundaries(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	routes := []config.Route{
		testRoute("mapdata", "/mapdata/", up.URL),
		testRoute("mapairdata", "/mapdata/air/", up.URL),
		testRoute("reports", "/reports", up.URL),
		testRoute("deep", "/a/b/c", up.URL),
	}
	rootCfg := append([]config.Route{testRoute("root", "/", up.URL)}, routes...)
	tests := []struct {
		path     string
		want     string // route name, "" for no match
		wantRoot string // with a "/" route added
	}{
		{"/mapdata", "mapdata", "mapdata"},
		{"/mapdata/", "mapdata", "mapdata"},
		{"/mapdata/tiles/1", "mapdata", "mapdata"},
		{"/mapdataX", "", "root"},
		{"/mapdata.json", "", "root"},
		{"/mapdata/air", "mapairdata", "mapairdata"},
		{"/mapdata/air/x", "mapairdata", "mapairdata"},
		{"/mapdata/airX", "mapdata", "mapdata"},
		{"/reports", "reports", "reports"},
		{"/reports/", "reports", "reports"},
		{"/reports/x/y", "reports", "reports"},
		{"/reportsX", "", "root"},
		{"/a/b", "", "root"},
		{"/a/b/c/d", "deep", "deep"},
		{"/a/b/cd", "", "root"},
		{"/", "", "root"},
		{"//mapdata//tiles", "mapdata", "mapdata"},
		{"/x/../mapdata", "mapdata", "mapdata"},
		{"/mapdata/../reports", "reports", "reports"},
		{"/mapdata/..", "", "root"},
		{"/MapData/Air/x", "mapairdata", "mapairdata"},
		{"/mapdata/air;v=1/x", "mapairdata", "mapairdata"},
		{"/mapdata;v=1/air", "mapairdata", "mapairdata"},
		{"/mapdata/;x/air", "mapairdata", "mapairdata"},
		{"/A/B/C/D", "deep", "deep"},
		{"*", "", ""},
		{"", "", ""},
	}
	for _, cfg := range []struct {
		name string
		cfg  *config.Config
		root bool
	}{{"without root route", testConfig(routes...), false}, {"with root route", testConfig(rootCfg...), true}} {
		h, err := New(cfg.cfg, testGuard(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			want := tc.want
			if cfg.root {
				want = tc.wantRoot
			}
			t.Run(cfg.name+" "+tc.path, func(t *testing.T) {
				got := ""
				canonical, err := routepath.Canonical(tc.path)
				if err != nil {
					t.Fatal(err)
				}
				if rt := h.table.Load().match(canonical); rt != nil {
					got = rt.cfg.Name
				}
				if got != want {
					t.Errorf("match(%q) = %q, want %q", tc.path, got, want)
				}
			})
		}
	}
}

func TestNotFound(t *testing.T) {
	up := newUpstream(t, nil)
	g := newGateway(t, testConfig(testRoute("mapdata", "/mapdata/", up.URL)), testGuard())
	resp, body := g.get(t, "/mapdataX/tiles?access_token="+tokAlice)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if e := jsonError(t, body); e["error"] != "not_found" || e["error_description"] == "" {
		t.Errorf("body %q", body)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id on a 404")
	}
	if up.count() != 0 {
		t.Error("the upstream was called")
	}
}

func TestGuardRefusals(t *testing.T) {
	up := newUpstream(t, nil)
	r := testRoute("mapdata", "/mapdata/", up.URL)
	r.Scopes = []string{"query_mapdata"}
	r403 := testRoute("nav", "/nav/", up.URL)
	r403.Scopes = []string{"query_mapdata"}
	r403.InsufficientScopeStatus = 403
	g := newGateway(t, testConfig(r, r403), testGuard())

	tests := []struct {
		name      string
		target    string
		hdr       []string
		status    int
		errCode   string
		challenge string // substring of WWW-Authenticate, "" for none expected
	}{
		{"missing token is 401 with a bare challenge", "/mapdata/x", nil, 401, "unauthorized", `Bearer realm="clearance"`},
		{"unknown token is 401 invalid_token", "/mapdata/x", []string{"Authorization", "Bearer nope"}, 401, "invalid_token", `error="invalid_token"`},
		{"token in header and query is 400", "/mapdata/x?access_token=" + tokAlice, []string{"Authorization", "Bearer " + tokAlice}, 400, "invalid_request", ""},
		{"missing scope is 401 by default", "/mapdata/x", []string{"Authorization", "Bearer " + tokRobot}, 401, "insufficient_scope", `scope="query_mapdata"`},
		{"missing scope is 403 when the route says so", "/nav/x", []string{"Authorization", "Bearer " + tokRobot}, 403, "insufficient_scope", `error="insufficient_scope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			resp, body := g.get(t, tc.target, tc.hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			if e := jsonError(t, body); e["error"] != tc.errCode {
				t.Errorf("error %q, want %q", e["error"], tc.errCode)
			}
			if ch := resp.Header.Get("WWW-Authenticate"); tc.challenge != "" && !strings.Contains(ch, tc.challenge) {
				t.Errorf("WWW-Authenticate %q, want it to contain %q", ch, tc.challenge)
			}
			if up.count() != before {
				t.Error("the upstream was called")
			}
		})
	}
}

// deadAddr returns an address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestUpstreamFailures(t *testing.T) {
	release := make(chan struct{})
	slow := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	dead := deadAddr(t)

	down := testRoute("down", "/down/", "http://"+dead)
	down.Public = true
	slowR := testRoute("slow", "/slow/", slow.URL)
	slowR.Timeout = config.Duration(100 * time.Millisecond)
	g := newGateway(t, testConfig(down, slowR, testRoute("mapdata", "/mapdata/", "http://"+dead)), testGuard())

	tests := []struct {
		name    string
		target  string
		hdr     []string
		status  int
		errCode string
	}{
		{"closed listener is 502", "/down/x?api_key=QSECRET", nil, http.StatusBadGateway, "bad_gateway"},
		{"closed listener behind a token is 502", "/mapdata/x?access_token=" + tokAlice, nil, http.StatusBadGateway, "bad_gateway"},
		{"slow upstream past the route timeout is 504", "/slow/x?api_key=QSECRET", []string{"Authorization", "Bearer " + tokAlice}, http.StatusGatewayTimeout, "upstream_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := g.get(t, tc.target, tc.hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			e := jsonError(t, body)
			if e["error"] != tc.errCode || e["error_description"] == "" {
				t.Errorf("body %q", body)
			}
			if strings.Contains(body, "127.0.0.1") || strings.Contains(body, "dial") {
				t.Errorf("body leaks internals: %q", body)
			}
		})
	}

	lines := g.log.lines(t)
	if len(lines) != len(tests) {
		t.Fatalf("%d log lines for %d requests", len(lines), len(tests))
	}
	for _, l := range lines {
		if l["level"] != "ERROR" {
			t.Errorf("5xx logged at %v", l["level"])
		}
		if e, _ := l["error"].(string); e == "" {
			t.Errorf("no upstream error in the log line %v", l)
		}
	}
	logText := g.log.String()
	for _, secret := range []string{"QSECRET", tokAlice, "api_key", "?"} {
		if strings.Contains(logText, secret) {
			t.Errorf("log contains %q:\n%s", secret, logText)
		}
	}
}

func TestClientGoneIsNotAnAlarm(t *testing.T) {
	arrived := make(chan struct{}, 1)
	slow := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	g := newGateway(t, testConfig(testRoute("slow", "/slow/", slow.URL)), testGuard())

	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/slow/x", nil)
	req.Header.Set("Authorization", "Bearer "+tokAlice)
	errc := make(chan error, 1)
	go func() {
		resp, err := g.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("the canceled request succeeded")
	}
	g.waitServed(t, 1)
	lines := g.log.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d log lines", len(lines))
	}
	l := lines[0]
	if l["level"] != "INFO" || l["status"] != float64(statusClientClosed) || l["error"] != "client closed request" {
		t.Errorf("log line %v", l)
	}
	if got := counterValue(t, g.reg, "clearance_http_requests_total", "slow", "5xx"); got != 0 {
		t.Errorf("client disconnect counted as 5xx: %v", got)
	}
}

func TestRequestID(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "upstream-chose-this")
	})
	r := testRoute("pub", "/pub/", up.URL)
	r.Public = true
	g := newGateway(t, testConfig(r), testGuard())
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)

	tests := []struct {
		name string
		sent []string // X-Request-Id values sent; nil for none
		keep bool
	}{
		{"valid client id kept", []string{"abc-123_XYZ:/.="}, true},
		{"id of 128 characters kept", []string{strings.Repeat("a", 128)}, true},
		{"id with inner space kept", []string{"trace 42"}, true},
		{"missing id generated", nil, false},
		{"id of 129 characters replaced", []string{strings.Repeat("a", 129)}, false},
		{"non-ASCII id replaced", []string{"id-é"}, false},
		{"id with a control character replaced", []string{"a\tb"}, false},
		{"first of several ids decides", []string{"first", "second"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, g.URL+"/pub/x", nil)
			if tc.sent != nil {
				req.Header["X-Request-Id"] = tc.sent
			}
			resp, _ := g.do(t, req)
			got := resp.Header.Values("X-Request-Id")
			if len(got) != 1 {
				t.Fatalf("response X-Request-Id %q, want exactly one", got)
			}
			if tc.keep && got[0] != tc.sent[0] {
				t.Errorf("X-Request-Id = %q, want the client's %q", got[0], tc.sent[0])
			}
			if !tc.keep && !generated.MatchString(got[0]) {
				t.Errorf("X-Request-Id = %q, want 32 hex characters", got[0])
			}
			if upGot := up.last(t).Header.Values("X-Request-Id"); len(upGot) != 1 || upGot[0] != got[0] {
				t.Errorf("upstream got X-Request-Id %q, client got %q", upGot, got[0])
			}
			l := g.log.lines(t)
			if last := l[len(l)-1]; last["request_id"] != got[0] {
				t.Errorf("log request_id %v, response %q", last["request_id"], got[0])
			}
		})
	}
	t.Run("generated ids differ", func(t *testing.T) {
		a, _ := g.get(t, "/pub/x")
		b, _ := g.get(t, "/pub/x")
		if a.Header.Get("X-Request-Id") == b.Header.Get("X-Request-Id") {
			t.Error("two generated ids are equal")
		}
	})
}

func TestUpdateRefusesBadConfigs(t *testing.T) {
	up := newUpstream(t, nil)
	good := testConfig(testRoute("mapdata", "/mapdata/", up.URL))
	tests := []struct {
		name  string
		guard Guard
		cfg   *config.Config
	}{
		{"relative upstream", testGuard(), testConfig(testRoute("a", "/a/", "/local"))},
		{"non-http upstream", testGuard(), testConfig(testRoute("a", "/a/", "ftp://host/"))},
		{"upstream with credentials", testGuard(), testConfig(testRoute("a", "/a/", "http://u:p@host/"))},
		{"path without leading slash", testGuard(), testConfig(testRoute("a", "a/", up.URL))},
		{"route without name", testGuard(), testConfig(testRoute("", "/a/", up.URL))},
		{"two routes on one path", testGuard(), testConfig(testRoute("a", "/a/", up.URL), testRoute("b", "/a", up.URL))},
		{"two routes on one canonical path", testGuard(), testConfig(testRoute("a", "/charts", up.URL), testRoute("b", "/Charts/", up.URL))},
		{"path with a backslash", testGuard(), testConfig(testRoute("a", "/a\\b/", up.URL))},
		{"protected route without a guard", nil, testConfig(testRoute("a", "/a/", up.URL))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg, tc.guard, Options{}); err == nil {
				t.Error("New accepted the config")
			}
			h, err := New(good, tc.guard, Options{})
			if tc.guard == nil {
				if err == nil {
					t.Error("New accepted a protected route without a guard")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			before := h.table.Load()
			if err := h.Update(tc.cfg); err == nil {
				t.Error("Update accepted the config")
			}
			if h.table.Load() != before {
				t.Error("a refused config replaced the route table")
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	up := newUpstream(t, nil)
	ep := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Endpoint", name)
			w.Header().Set("X-Seen-Request-Id", RequestID(r.Context()))
			w.Write([]byte(name))
		})
	}
	g := newGateway(t, testConfig(testRoute("mapdata", "/mapdata/", up.URL)), testGuard(), func(o *Options) {
		o.Endpoints = []Endpoint{
			{Name: "token", Pattern: "/token", Handler: ep("token")},
			{Name: "portal", Pattern: "/portal/", Handler: ep("portal")},
			{Name: "special", Pattern: "/mapdata/special/", Handler: ep("special")},
		}
	})
	tests := []struct {
		path string
		want string // endpoint name, "" for the route or 404
		code int
	}{
		{"/token", "token", 200},
		{"/token/x", "", 404},
		{"/tokenX", "", 404},
		{"/portal", "portal", 200},
		{"/portal/", "portal", 200},
		{"/portal/clients/1", "portal", 200},
		{"/portalX", "", 404},
		{"/mapdata/special/x", "special", 200},
		{"/mapdata/other", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, _ := g.get(t, tc.path)
			if resp.StatusCode != tc.code || resp.Header.Get("X-Endpoint") != tc.want {
				t.Fatalf("status %d endpoint %q, want %d %q", resp.StatusCode, resp.Header.Get("X-Endpoint"), tc.code, tc.want)
			}
			if tc.want != "" && resp.Header.Get("X-Seen-Request-Id") != resp.Header.Get("X-Request-Id") {
				t.Errorf("endpoint saw request id %q, response has %q", resp.Header.Get("X-Seen-Request-Id"), resp.Header.Get("X-Request-Id"))
			}
			l := g.log.lines(t)
			wantRoute := tc.want
			if wantRoute == "" {
				wantRoute = map[int]string{404: "none", 401: "mapdata"}[tc.code]
			}
			if got := l[len(l)-1]["route"]; got != wantRoute {
				t.Errorf("log route %v, want %q", got, wantRoute)
			}
		})
	}
	if got := counterValue(t, g.reg, "clearance_http_requests_total", "portal", "2xx"); got != 3 {
		t.Errorf("portal 2xx = %v, want 3", got)
	}

	bad := [][]Endpoint{
		{{Name: "x", Pattern: "token", Handler: ep("x")}},
		{{Name: "x", Pattern: "/a/../b", Handler: ep("x")}},
		{{Name: "", Pattern: "/a", Handler: ep("x")}},
		{{Name: "x", Pattern: "/a"}},
		{{Name: "x", Pattern: "/a", Handler: ep("x")}, {Name: "y", Pattern: "/a", Handler: ep("y")}},
	}
	for _, eps := range bad {
		if err := g.h.SetEndpoints(eps); err == nil {
			t.Errorf("SetEndpoints(%v) accepted", eps)
		}
	}
}

func TestStalledBodyIsAbortedAndLogged(t *testing.T) {
	stall := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	r := testRoute("stall", "/stall/", stall.URL)
	r.Public = true
	r.Timeout = config.Duration(100 * time.Millisecond)
	g := newGateway(t, testConfig(r), nil)

	resp, err := g.Client().Get(g.URL + "/stall/x")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Error("a response cut by the route timeout read as complete")
	}
	g.waitServed(t, 1)
	lines := g.log.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d log lines", len(lines))
	}
	if l := lines[0]; l["level"] != "ERROR" || l["aborted"] != true || l["status"] != float64(200) {
		t.Errorf("log line %v", l)
	}
}

func TestHeadersTooLargeIsJSON(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	open := testRoute("open", "/open/", up.URL)
	open.Public = true
	cfg := testConfig(open)
	cfg.Server.MaxHeaderBytes = 4096
	h, err := New(cfg, nil, Options{Logger: slog.New(slog.DiscardHandler), Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		size int
		want int
	}{{100, http.StatusOK}, {5000, http.StatusRequestHeaderFieldsTooLarge}} {
		r := httptest.NewRequest(http.MethodGet, "/open/x", nil)
		r.Header.Set("X-Big", strings.Repeat("a", tc.size))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("header of %d bytes: status %d, want %d", tc.size, w.Code, tc.want)
		}
		if tc.want != http.StatusOK {
			if e := jsonError(t, w.Body.String()); e["error"] != "invalid_request" {
				t.Errorf("body %q", w.Body.String())
			}
		}
	}
}
