package issuer_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/clearance-gw/clearance/authz/issuer"
)

// RoutesFor mounts the token endpoint and describes it in the metadata for
// the config about to be put in force, so a reload can swap both with the
// proxy's routes; Routes follows the config in force.
func TestRoutesForDescribeTheirOwnConfig(t *testing.T) {
	fx := newFixture(t)
	next := *fx.cfg
	next.Endpoints.Token = "/oauth/token"
	next.Endpoints.Authorize = "/oauth/authorize"
	next.Scopes = append(slices.Clone(fx.cfg.Scopes), "airports")

	metadata := func(routes []issuer.Route) map[string]any {
		t.Helper()
		for _, r := range routes {
			if r.Name != "metadata" {
				continue
			}
			rec := httptest.NewRecorder()
			r.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, r.Pattern, nil))
			var m map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatalf("metadata: %v: %s", err, rec.Body)
			}
			return m
		}
		t.Fatal("no metadata route")
		return nil
	}
	pattern := func(routes []issuer.Route, name string) string {
		for _, r := range routes {
			if r.Name == name {
				return r.Pattern
			}
		}
		return ""
	}
	base := fx.cfg.Issuer

	prepared := fx.srv.RoutesFor(&next)
	if p := pattern(prepared, "token"); p != "/oauth/token" {
		t.Errorf("token pattern %q", p)
	}
	m := metadata(prepared)
	if m["token_endpoint"] != base+"/oauth/token" || m["authorization_endpoint"] != base+"/oauth/authorize" {
		t.Errorf("prepared metadata %v", m)
	}
	if sc, _ := m["scopes_supported"].([]any); !slices.Contains(sc, any("airports")) {
		t.Errorf("prepared scopes %v", sc)
	}
	// Not in force yet: the running routes describe the running config.
	running := fx.srv.Routes()
	if m := metadata(running); m["token_endpoint"] != base+"/token" || pattern(running, "token") != "/token" {
		t.Errorf("running metadata %v", m)
	}
	fx.srv.Update(&next)
	if m := metadata(running); m["token_endpoint"] != base+"/oauth/token" {
		t.Errorf("Routes after Update: metadata %v", m)
	}
	// Routes prepared for a config keep describing it.
	if m := metadata(prepared); m["token_endpoint"] != base+"/oauth/token" {
		t.Errorf("prepared metadata after Update %v", m)
	}
}
