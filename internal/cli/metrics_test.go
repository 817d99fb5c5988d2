package cli

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"golang.org/x/oauth2/clientcredentials"
)

// TestAdminListener scrapes a running gateway's /metrics after some traffic:
// every SPEC §7 family is there, and the exposition passes promlint (what
// "promtool check metrics" runs). /healthz and /readyz answer.
func TestAdminListener(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	ti := newTestIssuer(t)
	cfgPath := filepath.Join(t.TempDir(), "gateway.yaml")
	writeConfig(t, cfgPath, up.URL, ti, "")
	out := cliRun(t, "", "client", "create", "--config", cfgPath, "--id", "m", "--name", "M", "--scope", "charts", "--json")
	secret := out[strings.Index(out, `"client_secret": "`)+len(`"client_secret": "`):]
	secret = secret[:strings.IndexByte(secret, '"')]
	g := startGateway(t, cfgPath)
	base := "http://" + g.addrs.Public

	cc := clientcredentials.Config{ClientID: "m", ClientSecret: secret, TokenURL: base + "/token"}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	callAPI(t, base+"/v1/charts/x", tok.AccessToken)
	callAPI(t, base+"/v1/charts/x", tok.AccessToken)
	callAPI(t, base+"/v1/charts/x", "")
	callAPI(t, base+"/v1/charts/x", ti.token(t, "charts"))
	cc.ClientSecret = "wrong"
	cc.Token(t.Context())

	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
		if got := callAPI(t, "http://"+g.addrs.Admin+path, ""); got != want {
			t.Errorf("%s: %d, want %d", path, got, want)
		}
	}
	res, err := http.Get("http://" + g.addrs.Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body strings.Builder
	problems, err := promlint.New(teeReader{res.Body, &body}).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	text := body.String()
	for _, want := range []string{
		`clearance_http_requests_total{code="2xx",route="charts"} 3`,
		`clearance_http_requests_total{code="4xx",route="charts"} 1`,
		`clearance_http_request_duration_seconds_count{route="charts"}`,
		`clearance_upstream_duration_seconds_count{route="charts"}`,
		`clearance_auth_failures_total{reason="missing"} 1`,
		`clearance_tokens_issued_total{grant="client_credentials"} 1`,
		`clearance_token_errors_total{error="invalid_client"}`,
		`clearance_cache_hits_total{cache="token"} 1`,
		`clearance_cache_misses_total{cache="token"}`,
		`clearance_jwks_refresh_total{issuer=`,
		`clearance_active_sessions`,
		"\nclearance_revocation_entries ",
		`clearance_config_reloads_total`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, tok.AccessToken) || strings.Contains(text, secret) {
		t.Error("a token or secret reached /metrics")
	}
}

type teeReader struct {
	r interface{ Read([]byte) (int, error) }
	w *strings.Builder
}

func (t teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.w.Write(p[:n])
	return n, err
}
