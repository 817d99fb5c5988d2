package proxy

import (
	"net/http"
	"testing"

	"github.com/clearance-gw/clearance/config"
)

func TestCORS(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
	})
	prot := testRoute("mapdata", "/mapdata/", up.URL)
	prot.AllowedOrigins = []string{"https://charts.example"}
	pub := testRoute("pub", "/pub/", up.URL)
	pub.Public = true
	pub.AllowedOrigins = []string{"https://charts.example"}
	g := newGateway(t, testConfig(prot, pub), testGuard(), func(o *Options) {
		o.OriginAllowed = func(_ *config.Route, origin string) bool { return origin == "https://client.example" }
	})

	preflightHdr := func(origin string) []string {
		return []string{"Origin", origin, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization"}
	}
	tests := []struct {
		name      string
		method    string
		target    string
		hdr       []string
		status    int
		acao      string // "" for none... or the upstream's "*"
		forwarded bool
	}{
		{"preflight for a route origin answered here", http.MethodOptions, "/mapdata/x", preflightHdr("https://charts.example"), 204, "https://charts.example", false},
		{"preflight for a client origin answered here", http.MethodOptions, "/mapdata/x", preflightHdr("https://client.example"), 204, "https://client.example", false},
		{"preflight for an unknown origin on a protected route meets the guard", http.MethodOptions, "/mapdata/x", preflightHdr("https://evil.example"), 401, "", false},
		{"preflight for an unknown origin on a public route is forwarded", http.MethodOptions, "/pub/x", preflightHdr("https://evil.example"), 200, "*", true},
		{"authorized request gets its origin allowed over the upstream's", http.MethodGet, "/mapdata/x", []string{"Origin", "https://client.example", "Authorization", "Bearer " + tokAlice}, 200, "https://client.example", true},
		{"public route allows its own origins", http.MethodGet, "/pub/x", []string{"Origin", "https://charts.example"}, 200, "https://charts.example", true},
		{"public route leaves other origins to the upstream", http.MethodGet, "/pub/x", []string{"Origin", "https://evil.example"}, 200, "*", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			req, _ := http.NewRequest(tc.method, g.URL+tc.target, nil)
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Add(tc.hdr[i], tc.hdr[i+1])
			}
			resp, body := g.do(t, req)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			if got := resp.Header.Values("Access-Control-Allow-Origin"); (tc.acao == "" && len(got) != 0) || (tc.acao != "" && (len(got) != 1 || got[0] != tc.acao)) {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tc.acao)
			}
			if (up.count() > before) != tc.forwarded {
				t.Errorf("forwarded %v, want %v", up.count() > before, tc.forwarded)
			}
			if tc.status == 204 {
				if got := resp.Header.Get("Access-Control-Allow-Headers"); got != "authorization" {
					t.Errorf("Access-Control-Allow-Headers %q", got)
				}
				if resp.Header.Get("Access-Control-Allow-Methods") == "" || resp.Header.Get("X-Request-Id") == "" {
					t.Errorf("preflight headers %v", resp.Header)
				}
			}
			if tc.acao != "" && tc.acao != "*" {
				if vary := resp.Header.Values("Vary"); len(vary) == 0 || vary[0] != "Origin" {
					t.Errorf("Vary %q", vary)
				}
			}
		})
	}
}
