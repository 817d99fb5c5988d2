package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/store/sqlite"
)

// userTestConfig writes a config with the scopes the user commands check
// against, plus extra YAML, and returns its path.
func userTestConfig(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	cfg := fmt.Sprintf("listen: \"127.0.0.1:0\"\nadmin_listen: \"127.0.0.1:0\"\nstore: {driver: sqlite, dsn: %q}\n"+
		"scopes: [charts, airports, manage_users]\nportal: {scopes: [charts]}\n%s", filepath.Join(dir, "clearance.db"), extra)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// oneLineError checks a failed command: exit 1, one line on stderr naming
// each fragment.
func oneLineError(t *testing.T, code int, errs string, fragments ...string) {
	t.Helper()
	if code != 1 || strings.Count(errs, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q; want exit 1 and one line", code, errs)
	}
	for _, f := range fragments {
		if !strings.Contains(errs, f) {
			t.Errorf("stderr %q lacks %q", errs, f)
		}
	}
}

func TestUserEntitlementCommands(t *testing.T) {
	path := userTestConfig(t, "")
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	run := func(args ...string) (int, string, string) {
		return runAt(t, now, append(args, "--config", path)...)
	}
	users := func() []userJSON {
		t.Helper()
		code, out, errs := run("user", "list", "--json")
		if code != 0 {
			t.Fatalf("user list: %s", errs)
		}
		if strings.Contains(out, "argon2") || strings.Contains(strings.ToLower(out), "password") {
			t.Fatalf("user list prints password hashes:\n%s", out)
		}
		var us []userJSON
		if err := json.Unmarshal([]byte(out), &us); err != nil {
			t.Fatalf("user list --json: %v\n%s", err, out)
		}
		return us
	}
	scopesOf := func(name string) []string {
		t.Helper()
		for _, u := range users() {
			if u.Name == name {
				return u.Scopes
			}
		}
		t.Fatalf("no user %q", name)
		return nil
	}

	code, out, errs := run("user", "add", "alice", "--admin", "--scope", "manage_users", "--scope", "airports", "--scope", "airports", "--json")
	if code != 0 {
		t.Fatalf("user add: %s", errs)
	}
	var added map[string]any
	if err := json.Unmarshal([]byte(out), &added); err != nil || added["user"] != "alice" || added["admin"] != true ||
		fmt.Sprint(added["scopes"]) != "[manage_users airports]" {
		t.Fatalf("user add --json = %s (%v)", out, err)
	}
	if code, _, errs := run("user", "add", "bob"); code != 0 {
		t.Fatalf("user add bob: %s", errs)
	}
	code, _, errs = run("user", "add", "carol", "--scope", "nope")
	oneLineError(t, code, errs, `unknown scope "nope"`)

	want := []userJSON{
		{Name: "alice", Admin: true, Scopes: []string{"manage_users", "airports"}, CreatedAt: "2030-06-15T12:00:00Z"},
		{Name: "bob", Scopes: []string{}, CreatedAt: "2030-06-15T12:00:00Z"},
	}
	if got := users(); len(got) != 2 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("user list = %+v, want %+v", got, want)
	}
	if code, out, _ := run("user", "list"); code != 0 || !strings.Contains(out, "NAME") || !strings.Contains(out, "manage_users airports") {
		t.Fatalf("user list table:\n%s", out)
	}

	t.Run("update replaces the scopes", func(t *testing.T) {
		code, out, errs := run("user", "update", "alice", "--scope", "charts", "--json")
		if code != 0 {
			t.Fatalf("user update: %s", errs)
		}
		var u userJSON
		if err := json.Unmarshal([]byte(out), &u); err != nil || !slices.Equal(u.Scopes, []string{"charts"}) || !u.Admin {
			t.Fatalf("user update --json = %s", out)
		}
		if got := scopesOf("alice"); !slices.Equal(got, []string{"charts"}) {
			t.Fatalf("scopes = %q", got)
		}
	})
	t.Run("clear-scopes empties them", func(t *testing.T) {
		if code, out, errs := run("user", "update", "alice", "--clear-scopes"); code != 0 || !strings.Contains(out, "none beyond portal.scopes") {
			t.Fatalf("user update --clear-scopes: %s %s", out, errs)
		}
		if got := scopesOf("alice"); len(got) != 0 {
			t.Fatalf("scopes = %q", got)
		}
	})
	t.Run("refused updates change nothing", func(t *testing.T) {
		run("user", "update", "bob", "--scope", "airports")
		for _, tt := range []struct {
			args []string
			msg  string
		}{
			{[]string{"bob", "--scope", "charts", "--clear-scopes"}, "cannot be given together"},
			{[]string{"bob"}, "nothing to change"},
			{[]string{"bob", "--scope", "nope"}, `unknown scope "nope"`},
			{[]string{"nobody", "--scope", "charts"}, `no user named "nobody"`},
		} {
			code, _, errs := run(append([]string{"user", "update"}, tt.args...)...)
			oneLineError(t, code, errs, tt.msg)
		}
		if got := scopesOf("bob"); !slices.Equal(got, []string{"airports"}) {
			t.Fatalf("bob's scopes = %q, want airports", got)
		}
	})
}

func TestClientIDsAndUserNamesAreOneNamespace(t *testing.T) {
	path := userTestConfig(t, "")
	run := func(args ...string) (int, string, string) {
		return runAt(t, time.Now(), append(args, "--config", path)...)
	}
	if code, _, errs := run("user", "add", "Alice"); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := run("client", "create", "--id", "charts-app", "--name", "Charts"); code != 0 {
		t.Fatal(errs)
	}
	code, _, errs := run("client", "create", "--id", "alice", "--name", "Not Alice")
	oneLineError(t, code, errs, `"alice" is taken by the user "Alice"`, "case-insensitively")
	code, _, errs = run("user", "add", "Charts-App")
	oneLineError(t, code, errs, `"Charts-App" is taken by the client "charts-app"`, "case-insensitively")
	code, out, _ := run("client", "list", "--json")
	if code != 0 || strings.Contains(out, `"alice"`) {
		t.Fatalf("client list after the refusal:\n%s", out)
	}
}

func TestServeRefusesADeclaredClientNamedLikeAUser(t *testing.T) {
	path := userTestConfig(t, "clients:\n  - {id: carol, name: Carol's app}\n")
	if code, _, errs := runAt(t, time.Now(), "user", "add", "CAROL", "--config", path); code != 0 {
		t.Fatal(errs)
	}
	code, _, errs := runAt(t, time.Now(), "serve", "--config", path)
	oneLineError(t, code, errs, `"carol" is taken by the user "CAROL"`, "case-insensitively")
}

func TestTokenA2AFollowsTheEntitlement(t *testing.T) {
	path := userTestConfig(t, "")
	run := func(args ...string) (int, string, string) {
		return runAt(t, time.Now(), append(args, "--config", path)...)
	}
	if code, _, errs := run("user", "add", "alice"); code != 0 {
		t.Fatal(errs)
	}
	// A client alice made in the portal, holding a scope she is not
	// entitled to (made before entitlements, or entitled then).
	st, err := sqlite.Open(t.Context(), filepath.Join(filepath.Dir(path), "clearance.db"))
	if err != nil {
		t.Fatal(err)
	}
	err = st.CreateClient(t.Context(), store.Client{ID: "alice-app", Name: "A", Owner: "alice", PortalMade: true,
		SecretHash: secret.HashSecret("s"), Grants: []string{"a2a"}, Scopes: []string{"manage_users", "charts"}, CreatedAt: time.Now()})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	a2a := func() map[string]any {
		t.Helper()
		code, out, errs := run("token", "a2a", "--client", "alice-app", "--user", "alice", "--json")
		if code != 0 {
			t.Fatalf("token a2a: %s", errs)
		}
		var tok map[string]any
		if err := json.Unmarshal([]byte(out), &tok); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if tok := a2a(); tok["scope"] != "charts" {
		t.Fatalf("a2a scope %v, want charts (portal.scopes)", tok["scope"])
	}
	run("user", "update", "alice", "--scope", "manage_users")
	if tok := a2a(); tok["scope"] != "manage_users charts" {
		t.Fatalf("a2a scope %v after entitling manage_users", tok["scope"])
	}
}
