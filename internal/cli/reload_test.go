package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/clearance-gw/clearance/config"
)

// reloadOutcome sends one reload and waits for its log line: true when
// the config was reloaded, false when it was refused.
func (g *runningGateway) reloadOutcome(t *testing.T) bool {
	t.Helper()
	count := func() (ok, refused int) {
		logs := g.logs.String()
		return strings.Count(logs, `"msg":"config reloaded"`), strings.Count(logs, `"msg":"config reload refused`)
	}
	ok0, refused0 := count()
	g.reload <- struct{}{}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ok, refused := count()
		switch {
		case ok > ok0:
			return true
		case refused > refused0:
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no reload outcome in the log:\n%s", g.logs.String())
	return false
}

// checkExit runs "clearance check" on path and returns its exit code and
// its output.
func checkExit(t *testing.T, path string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(t.Context(), []string{"check", "--config", path}, Env{Stdout: &out, Stderr: &errb,
		LookupEnv: func(string) (string, bool) { return "", false }})
	return code, errb.String()
}

// serveStarts runs "clearance serve" on a copy of the file src (in a
// directory of its own, so on a store of its own) and reports whether it
// started; it is stopped at once.
func serveStarts(t *testing.T, src string) (bool, string) {
	t.Helper()
	dir := t.TempDir()
	src = strings.ReplaceAll(src, "@DIR@", dir)
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errb bytes.Buffer
	started := make(chan struct{}, 1)
	done := make(chan int, 1)
	env := Env{Stdout: io.Discard, Stderr: &errb, Now: time.Now, Reload: make(chan struct{}),
		LookupEnv: func(string) (string, bool) { return "", false },
		Started:   func(Addrs) { started <- struct{}{} }}
	go func() { done <- Run(ctx, []string{"serve", "--config", path}, env) }()
	select {
	case <-started:
		cancel()
		<-done
		return true, ""
	case <-done:
		return false, errb.String()
	case <-time.After(30 * time.Second):
		t.Fatal("serve neither started nor exited")
		return false, ""
	}
}

// TestCheckServeAndReloadAgree: "clearance check" accepts a file exactly
// when serve starts with it and a reload puts it in force. The cases are
// files that only a component used to refuse (check said ok), besides a
// good file and plain mistakes.
func TestCheckServeAndReloadAgree(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	defer up.Close()
	ti := newTestIssuer(t)
	pub, err := jwk.PublicKeyOf(ti.Key)
	if err != nil {
		t.Fatal(err)
	}
	pubJSON, _ := json.Marshal(pub)
	edSet := `{"keys":[` + string(pubJSON) + `]}`

	// file is a complete gateway.yaml; @DIR@ is the directory of its store.
	file := func(endpoints, routes, trusted string) string {
		return fmt.Sprintf(`listen: "127.0.0.1:0"
admin_listen: "127.0.0.1:0"
issuer: "http://gateway.test"
store: {driver: sqlite, dsn: "@DIR@/clearance.db"}
%sscopes: [charts, airports]
routes:
  - name: charts
    path: /v1/charts/
    upstream: %s
    scopes: [charts]
%strusted_issuers:
  - issuer: %s
    jwks_url: %s/jwks.json
    audience: http://gateway.test
    algorithms: [EdDSA]
%sserver: {shutdown_grace: 5s}
`, endpoints, up.URL, routes, ti.URL, ti.JWKSURL, trusted)
	}
	route := func(name, path string) string {
		return fmt.Sprintf("  - name: %s\n    path: %s\n    upstream: %s\n", name, path, up.URL)
	}
	inline := func(algs string) string {
		return "  - issuer: https://inline.example\n    jwks: '" + edSet + "'\n    audience: http://gateway.test\n    algorithms: [" + algs + "]\n"
	}
	cases := []struct {
		name string
		src  string
		ok   bool
	}{
		{"a good file", file("", route("airports", "/v1/airports/"), inline("EdDSA")), true},
		{"endpoints moved", file("endpoints: {token: /oauth/token, authorize: /oauth/authorize}\n", "", ""), true},
		{"a syntax error", "listen: [oops\n", false},
		{"two routes on one canonical path", file("", route("a", "/v1/maps")+route("b", "/V1/Maps/"), ""), false},
		// Each of these passed check, and then serve or a reload refused it
		// (or a reload took it half).
		{"an inline key set with no key usable under its algorithms", file("", route("extra", "/v1/extra/"), inline("RS256")), false},
		{"issuers sharing a jwks_url with other algorithms", file("", "",
			fmt.Sprintf("  - issuer: https://twin.example\n    jwks_url: %s/jwks.json\n    audience: http://gateway.test\n    algorithms: [RS256]\n", ti.JWKSURL)), false},
		{"an endpoint path the proxy cannot mount", file("endpoints: {token: /oauth//token}\n", "", ""), false},
		{"the token endpoint on the subscriptions path", file("endpoints: {token: /v1/subscriptions/valid}\n",
			route("fms", "/v1/fms/")+"    subscription: fmsdata\n", ""), false},
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	write := func(src string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(src, "@DIR@", dir)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(file("", "", ""))
	g := startGateway(t, path)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.src)
			code, out := checkExit(t, path)
			if (code == 0) != tc.ok {
				t.Errorf("check exit %d, want ok=%v: %s", code, tc.ok, out)
			}
			if got := g.reloadOutcome(t); got != tc.ok {
				t.Errorf("reload in force = %v, want %v (check exit %d)", got, tc.ok, code)
			}
			if started, out := serveStarts(t, tc.src); started != tc.ok {
				t.Errorf("serve started = %v, want %v (check exit %d): %s", started, tc.ok, code, out)
			}
			// Back to the start file, so that each case is a change from it.
			write(file("", "", ""))
			if !g.reloadOutcome(t) {
				t.Fatalf("the start file is refused:\n%s", g.logs.String())
			}
		})
	}
}

// TestRestartOnlyKeysRefuseAReload: what is set up once at start cannot
// change on a reload; the refusal names the key.
func TestRestartOnlyKeysRefuseAReload(t *testing.T) {
	running, err := config.Parse("gateway.yaml", []byte("listen: ':8080'\n"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	for key, change := range map[string]func(c *config.Config){
		"listen":                     func(c *config.Config) { c.Listen = ":8081" },
		"admin_listen":               func(c *config.Config) { c.AdminListen = "127.0.0.1:9091" },
		"store.driver":               func(c *config.Config) { c.Store.Driver = "postgres" },
		"store.dsn":                  func(c *config.Config) { c.Store.DSN = "other.db" },
		"subscriptions":              func(c *config.Config) { c.Subscriptions.URL = "https://subs.example" },
		"tokens.alg":                 func(c *config.Config) { c.Tokens.Alg = "EdDSA" },
		"log.format":                 func(c *config.Config) { c.Log.Format = "text" },
		"server.read_header_timeout": func(c *config.Config) { c.Server.ReadHeaderTimeout *= 2 },
		"server.idle_timeout":        func(c *config.Config) { c.Server.IdleTimeout *= 2 },
		"server.max_header_bytes":    func(c *config.Config) { c.Server.MaxHeaderBytes = 1 << 20 },
	} {
		next := *running
		change(&next)
		err := restartOnly(running, &next)
		if err == nil || !strings.HasPrefix(err.Error(), key+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s changed: %v, want one line naming it", key, err)
		}
	}
	next := *running
	next.Log.Level = "debug"
	next.Server.MaxHeaderBytes = 128 << 10 // under the listener's limit
	next.Server.ShutdownGrace *= 2
	next.Endpoints.Token = "/oauth/token"
	next.Issuer = "https://gateway.example"
	if err := restartOnly(running, &next); err != nil {
		t.Errorf("live changes refused: %v", err)
	}
}
