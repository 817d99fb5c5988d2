package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// The bare proxy forwards to the upstream and adds X-Forwarded-For.
func TestBareProxyForwards(t *testing.T) {
	var xff string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		xff = r.Header.Get("X-Forwarded-For")
		Upstream().ServeHTTP(w, r)
	}))
	defer up.Close()
	target, _ := url.Parse(up.URL)
	px := httptest.NewServer(BareProxy(target))
	defer px.Close()

	for range 3 { // buffers come back from the pool
		res, err := http.Get(px.URL + "/v1/charts/EDDF")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(body) != string(upstreamBody) {
			t.Fatalf("status %d body %q", res.StatusCode, body)
		}
		if xff != "127.0.0.1" {
			t.Fatalf("X-Forwarded-For %q", xff)
		}
	}
}
