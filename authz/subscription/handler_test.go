package subscription

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// getValid calls the endpoint with an Authorization header (if any).
func getValid(t *testing.T, srv *httptest.Server, method, auth string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+ValidPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestHandler(t *testing.T) {
	c := newClock()
	gw := newGateway(t, c)
	srv := httptest.NewServer(NewHandler(gw.guard, NewLocal(openStore(t), c.Now), HandlerOptions{Realm: "navigraph"}))
	t.Cleanup(srv.Close)

	const aliceSubs = `[{"date_active":"2030-01-01T00:00:00Z","date_expiry":"2030-12-31T23:59:59Z","subscription_name":"Navigation Data","type":"fmsdata"}]` + "\n"
	tests := []struct {
		name   string
		method string
		auth   string
		status int
		body   string
		www    string
	}{
		{"a user's token lists the user's active subscriptions", "GET", "Bearer " + gw.token(t, "alice", "navtool"), 200, aliceSubs, ""},
		{"a client's own token lists its owner's", "GET", "Bearer " + gw.token(t, "navtool", "navtool"), 200, aliceSubs, ""},
		{"a user without active subscriptions gets an empty array", "GET", "Bearer " + gw.token(t, "bob", "navtool"), 200, "[]\n", ""},
		{"a trusted issuer's alice is not the local alice", "GET", "Bearer " + gw.foreignToken(t, "alice", "navtool"), 200, "[]\n", ""},
		{"a trusted issuer's navtool client is not the local one", "GET", "Bearer " + gw.foreignToken(t, "navtool", "navtool"), 200, "[]\n", ""},
		{"HEAD has no body", "HEAD", "Bearer " + gw.token(t, "alice", "navtool"), 200, "", ""},
		{"no token is a 401 with a challenge", "GET", "", 401,
			`{"error":"unauthorized","error_description":"a bearer token is required"}` + "\n", `Bearer realm="navigraph"`},
		{"a bad token is a 401 invalid_token", "GET", "Bearer a.b.c", 401, "", `Bearer realm="navigraph", error="invalid_token"`},
		{"POST is not allowed", "POST", "Bearer " + gw.token(t, "alice", "navtool"), 405,
			`{"error":"invalid_request","error_description":"use GET"}` + "\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := getValid(t, srv, tt.method, tt.auth)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, body %s; want %d", res.StatusCode, body, tt.status)
			}
			if tt.body != "" && body != tt.body {
				t.Errorf("body\n %s\nwant\n %s", body, tt.body)
			}
			if www := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(www, tt.www) || (tt.www == "") != (www == "") {
				t.Errorf("WWW-Authenticate = %q, want prefix %q", www, tt.www)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if res.StatusCode == 200 && res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", res.Header.Get("Cache-Control"))
			}
			if tt.status == 405 && res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", res.Header.Get("Allow"))
			}
		})
	}

	t.Run("the list follows the clock", func(t *testing.T) {
		c.Set(day(2031, 1, 1))
		defer c.Set(t0)
		// A token minted at the new time, so it is not expired itself.
		_, body := getValid(t, srv, "GET", "Bearer "+gw.token(t, "alice", "navtool"))
		if body != "[]\n" {
			t.Fatalf("body %s, want []", body)
		}
	})
	t.Run("a store failure is a 503", func(t *testing.T) {
		srv := httptest.NewServer(NewHandler(gw.guard, NewLocal(failingStore{}, c.Now), HandlerOptions{}))
		defer srv.Close()
		res, body := getValid(t, srv, "GET", "Bearer "+gw.token(t, "alice", "navtool"))
		if res.StatusCode != 503 || !strings.Contains(body, `"temporarily_unavailable"`) || strings.Contains(body, "locked") {
			t.Fatalf("got %d %s, want 503 temporarily_unavailable without the store's message", res.StatusCode, body)
		}
	})
}
