package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// The running gateway serves the profiles on its admin listener to a
// loopback peer, next to /metrics.
func TestPprofOnAdminListener(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	defer up.Close()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeConfig(t, path, up.URL, nil, "")
	g := startGateway(t, path)

	for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/goroutine?debug=1", "/metrics"} {
		res, err := http.Get("http://" + g.addrs.Admin + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || len(body) == 0 {
			t.Fatalf("GET %s: %d", p, res.StatusCode)
		}
	}
	// Not on the public listener.
	res, err := http.Get("http://" + g.addrs.Public + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("public listener /debug/pprof/: %d", res.StatusCode)
	}
}

func TestPprofModes(t *testing.T) {
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "admin") })
	get := func(t *testing.T, h http.Handler, peer, path string) (int, string) {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = peer
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	for _, c := range []struct {
		mode, peer string
		want       int
	}{
		{"", "127.0.0.1:4000", 200},
		{"", "[::1]:4000", 200},
		{"", "[::ffff:127.0.0.1]:4000", 200},
		{"", "192.0.2.7:4000", 404},
		{"loopback", "[2001:db8::1]:4000", 404},
		{"on", "192.0.2.7:4000", 200},
		{"off", "127.0.0.1:4000", 200}, // the admin handler's own answer
	} {
		t.Run(c.mode+" "+c.peer, func(t *testing.T) {
			h, err := withPprof(admin, c.mode)
			if err != nil {
				t.Fatal(err)
			}
			code, body := get(t, h, c.peer, "/debug/pprof/")
			if code != c.want {
				t.Fatalf("status %d, want %d", code, c.want)
			}
			if c.mode == "off" && body != "admin" {
				t.Fatalf("off: profiles served: %.40q", body)
			}
			if c.want == 200 && c.mode != "off" && !strings.Contains(body, "goroutine") {
				t.Fatalf("no profile index: %.80q", body)
			}
			// The rest of the admin listener is unchanged.
			if code, body := get(t, h, c.peer, "/metrics"); code != 200 || body != "admin" {
				t.Fatalf("/metrics: %d %q", code, body)
			}
		})
	}
	if _, err := withPprof(admin, "yes"); err == nil || !strings.Contains(err.Error(), pprofEnv) {
		t.Fatalf("unknown mode: %v", err)
	}
}
