package proxy

import (
	"io"
	"net/http"
	"testing"

	"github.com/clearance-gw/clearance/config"
)

// Prepare builds routes and endpoints without putting them in force;
// commit swaps both together.
func TestPrepareSwapsRoutesAndEndpointsTogether(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up") })
	ep := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
	}
	pub := func(name, path string) config.Route {
		r := testRoute(name, path, up.URL)
		r.Public = true
		return r
	}
	g := newGateway(t, testConfig(pub("a", "/a/")), testGuard(), func(o *Options) {
		o.Endpoints = []Endpoint{{Name: "token", Pattern: "/token", Handler: ep("old token")}}
	})
	status := func(path string) (int, string) {
		t.Helper()
		resp, body := g.get(t, path)
		return resp.StatusCode, body
	}
	want := func(path string, code int, body string) {
		t.Helper()
		if c, b := status(path); c != code || body != "" && b != body {
			t.Errorf("%s: %d %q, want %d %q", path, c, b, code, body)
		}
	}

	commit, err := g.h.Prepare(testConfig(pub("a", "/a/"), pub("b", "/b/")),
		[]Endpoint{{Name: "token", Pattern: "/oauth/token", Handler: ep("new token")}})
	if err != nil {
		t.Fatal(err)
	}
	// Prepared, not in force.
	want("/token", 200, "old token")
	want("/oauth/token", 404, "")
	want("/b/x", 404, "")
	commit()
	want("/token", 404, "")
	want("/oauth/token", 200, "new token")
	want("/b/x", 200, "up")
	want("/a/x", 200, "up")

	// A refused preparation changes nothing.
	if _, err := g.h.Prepare(testConfig(pub("c", "/c/")), []Endpoint{{Name: "x", Pattern: "/x//y", Handler: ep("x")}}); err == nil {
		t.Fatal("Prepare accepted an endpoint pattern that is not clean")
	}
	want("/oauth/token", 200, "new token")
	want("/c/x", 404, "")

	// Update and SetEndpoints each keep the other half.
	if err := g.h.Update(testConfig(pub("c", "/c/"))); err != nil {
		t.Fatal(err)
	}
	want("/oauth/token", 200, "new token")
	want("/c/x", 200, "up")
	if err := g.h.SetEndpoints([]Endpoint{{Name: "token", Pattern: "/t", Handler: ep("t")}}); err != nil {
		t.Fatal(err)
	}
	want("/t", 200, "t")
	want("/c/x", 200, "up")
}

// Every config the proxy refuses, config validation ("clearance check",
// and so serve and a reload) refuses too: the cases of
// TestUpdateRefusesBadConfigs and TestEndpoints, on a valid config.
func TestProxyRefusalsAreConfigProblems(t *testing.T) {
	base := func(t *testing.T) *config.Config {
		t.Helper()
		c, err := config.Parse("t.yaml", []byte("routes:\n  - {name: mapdata, path: /mapdata/, upstream: 'http://127.0.0.1:9000'}\n"),
			func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	route := func(name, path, upstream string) func(*config.Config) {
		return func(c *config.Config) {
			r := c.Routes[0]
			r.Name, r.Path, r.Upstream = name, path, upstream
			c.Routes = append(c.Routes, r)
		}
	}
	tests := map[string]func(*config.Config){
		"relative upstream":                route("a", "/a/", "/local"),
		"non-http upstream":                route("a", "/a/", "ftp://host/"),
		"upstream with credentials":        route("a", "/a/", "http://u:p@host/"),
		"path without leading slash":       route("a", "a/", "http://host/"),
		"route without name":               route("", "/a/", "http://host/"),
		"two routes on one path":           route("a", "/mapdata", "http://host/"),
		"two routes on one canonical path": route("a", "/MapData/", "http://host/"),
		"path with a backslash":            route("a", "/a\\b/", "http://host/"),
		"endpoint without leading slash":   func(c *config.Config) { c.Endpoints.Token = "token" },
		"endpoint with ..":                 func(c *config.Config) { c.Endpoints.Token = "/a/../b" },
		"endpoint with an empty segment":   func(c *config.Config) { c.Endpoints.Token = "/oauth//token" },
		"two endpoints on one path":        func(c *config.Config) { c.Endpoints.Authorize = c.Endpoints.Token },
	}
	for name, mod := range tests {
		t.Run(name, func(t *testing.T) {
			c := base(t)
			if err := c.Revalidate(); err != nil {
				t.Fatalf("base config: %v", err)
			}
			mod(c)
			if err := c.Revalidate(); err == nil {
				t.Error("config validation accepts what the proxy refuses")
			}
		})
	}
}
