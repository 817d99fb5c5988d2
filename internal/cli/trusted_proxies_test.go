package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTrustedProxiesApplyOnReload: server.trusted_proxies decides the
// client address in the access log, and a reload changes it like the rest
// of the config; a bad entry is refused and the running list stays.
func TestTrustedProxiesApplyOnReload(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeConfig(t, path, up.URL, nil, "")
	g := startGateway(t, path)

	setTrusted := func(list string) {
		t.Helper()
		writeConfig(t, path, up.URL, nil, "")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg := strings.Replace(string(b), "server: {shutdown_grace: 5s}",
			"server: {shutdown_grace: 5s, trusted_proxies: "+list+"}", 1)
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		want := strings.Count(g.logs.String(), `"msg":"config reload`) + 1
		g.reload <- struct{}{}
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(g.logs.String(), `"msg":"config reload`) < want {
			if time.Now().After(deadline) {
				t.Fatalf("no reload logged:\n%s", g.logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// client sends a request as a client 198.51.100.7 behind the local
	// peer and returns the access log's client field for it.
	client := func(id string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+g.addrs.Public+"/v1/charts/EDDF", nil)
		req.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.7")
		req.Header.Set("X-Request-Id", id)
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		deadline := time.Now().Add(10 * time.Second)
		for {
			for _, line := range strings.Split(g.logs.String(), "\n") {
				if strings.Contains(line, `"request_id":"`+id+`"`) {
					_, rest, _ := strings.Cut(line, `"client":"`)
					v, _, _ := strings.Cut(rest, `"`)
					return v
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no access log line for %s", id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	if got := client("before"); got != "127.0.0.1" {
		t.Fatalf("nobody trusted: client %q, want the peer", got)
	}
	setTrusted("[127.0.0.0/8]")
	if got := client("trusted"); got != "198.51.100.7" {
		t.Fatalf("after reloading trusted_proxies: client %q, want 198.51.100.7", got)
	}
	setTrusted("[127.0.0.0/8, not-an-address]")
	if !strings.Contains(g.logs.String(), "server.trusted_proxies[1]") {
		t.Errorf("the bad entry is not reported:\n%s", g.logs.String())
	}
	if got := client("refused"); got != "198.51.100.7" {
		t.Fatalf("after a refused reload: client %q, want the running list in force", got)
	}
}
