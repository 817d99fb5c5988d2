package attack

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/internal/cli"
)

// cliRun runs one clearance command against the gateway's config and
// returns its exit code, stdout and stderr, whatever the code.
func (g *gateway) cliRun(stdin string, args ...string) (int, string, string) {
	g.t.Helper()
	var out, errb bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Now: time.Now,
		LookupEnv: func(string) (string, bool) { return "", false }}
	code := cli.Run(g.t.Context(), append(args, "--config", g.cfg), env)
	return code, out.String(), errb.String()
}

// TestA2AOnlyForClientsWithTheGrant: an a2a token is only ever made for a
// client that has the a2a grant enabled. The command line refuses a client
// without it; the portal's Create token turns it on (the owner's click)
// and then mints; the token endpoint still serves the a2a grant to
// first-party clients only, whatever the client's grants.
func TestA2AOnlyForClientsWithTheGrant(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	const alicePassword = "alice password 1"
	g.addUser("alice", alicePassword, "--scope", "charts")
	g.createClient("backend", "--grant", "client_credentials", "--scope", "charts")

	t.Run("command line, client without the grant", func(t *testing.T) {
		code, out, errs := g.cliRun("", "token", "a2a", "--client", "backend", "--user", "alice")
		if code != 1 || out != "" || !strings.Contains(errs, `client "backend" does not have the a2a grant: enable it with "clearance client update backend --grant client_credentials --grant a2a`) {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
		if out := g.cli("", "sessions", "list", "--client", "backend", "--json"); strings.TrimSpace(out) != "[]" {
			t.Fatalf("sessions after a refused token: %s", out)
		}
	})

	alice := g.portalLogin("alice", alicePassword)
	secret := alice.newClient("alice-app", []string{"charts"}, "client_credentials")
	t.Run("portal, Create token turns the grant on", func(t *testing.T) {
		page := g.page(alice.b, http.MethodGet, "/portal/clients/alice-app", nil).body
		if !strings.Contains(page, "creating a token turns it on") {
			t.Fatal("the Create token form does not say that it turns the a2a grant on")
		}
		r, tok := alice.createToken("alice-app")
		if tok == "" {
			t.Fatalf("Create token: %d %s", r.status, r.body)
		}
		var cl struct {
			Grants []string `json:"grants"`
		}
		json.Unmarshal([]byte(g.cli("", "client", "show", "alice-app", "--json")), &cl)
		if !slices.Equal(cl.Grants, []string{"client_credentials", "a2a"}) {
			t.Fatalf("grants after Create token %v", cl.Grants)
		}
		if r := g.bearer("/v1/charts/x", tok); r.status != http.StatusOK {
			t.Fatalf("the portal's a2a token at the proxy: %d %s", r.status, r.body)
		}
		if logs := g.logs.String(); !strings.Contains(logs, `"msg":"token issued","component":"issuer","grant":"a2a","client_id":"alice-app","sub":"alice"`) ||
			!strings.Contains(logs, `"via":"portal"`) {
			t.Errorf("the portal's a2a token is not logged as the portal's:\n%s", logs)
		}
	})

	t.Run("token endpoint, a2a grant on a client that is not first-party", func(t *testing.T) {
		status, code := g.tokenError("alice-app", secret, url.Values{"grant_type": {"a2a"}, "username": {"alice"}, "password": {alicePassword}})
		if status != http.StatusBadRequest || code != "unauthorized_client" {
			t.Fatalf("a2a at the token endpoint for a third-party client: %d %s", status, code)
		}
		// The command line now mints for it, as the grant is on.
		if tok := strings.TrimSpace(g.cli("", "token", "a2a", "--client", "alice-app", "--user", "alice")); g.bearer("/v1/charts/x", tok).status != http.StatusOK {
			t.Fatal("the command line's a2a token is refused")
		}
	})
}
