package testgateway

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a gateway.yaml with one public route to up and
// returns its path.
func writeConfig(t *testing.T, upstream string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
admin_listen: "127.0.0.1:0"
issuer: "http://gateway.test"
store: {driver: sqlite, dsn: %q}
scopes: [charts]
routes:
  - name: open
    path: /v1/open/
    upstream: ${UPSTREAM}
    public: true
server: {shutdown_grace: 2s}
`, filepath.Join(dir, "clearance.db"))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestStartServesReloadsAndStops(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream "+r.URL.Path)
	}))
	t.Cleanup(up.Close)
	path := writeConfig(t, up.URL)
	g := Start(t, path, Options{LookupEnv: func(k string) (string, bool) {
		if k == "UPSTREAM" {
			return up.URL, true
		}
		return "", false
	}})

	if code, body := get(t, g.Public()+"/v1/open/x"); code != http.StatusOK || body != "upstream /v1/open/x" {
		t.Fatalf("public route: %d %q", code, body)
	}
	if code, body := get(t, g.Admin()+"/healthz"); code != http.StatusOK {
		t.Fatalf("admin /healthz: %d %q", code, body)
	}

	g.Reload <- struct{}{}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(g.Logs.String(), "config reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload in the log:\n%s", g.Logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	g.Stop()
	g.Stop() // a second Stop does nothing
	c := &http.Client{Timeout: 2 * time.Second}
	if res, err := c.Get(g.Public() + "/v1/open/x"); err == nil {
		res.Body.Close()
		t.Fatalf("the gateway still answers after Stop: %d", res.StatusCode)
	}
}
