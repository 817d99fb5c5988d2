package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTokenA2ANeedsTheGrant: an a2a token is only ever made for a client
// that has the a2a grant enabled. "token a2a" refuses another client in
// one line that names the command enabling the grant, and that command
// works as printed.
func TestTokenA2ANeedsTheGrant(t *testing.T) {
	path := newcomerConfig(t)
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runAt(t, now, append(args, "--config", path)...)
	}
	if code, _, errs := run("client", "create", "--id", "app", "--name", "App"); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := run("user", "add", "bob"); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := run("token", "a2a", "--client", "app", "--user", "bob")
	hint := "clearance client update app --grant client_credentials --grant a2a --config " + path
	want := `clearance token a2a: client "app" does not have the a2a grant: enable it with "` + hint + "\"\n"
	// The first command to need the signing keys warns once about the
	// key file; nothing else is said but the error.
	warn := "clearance token a2a: warning: CLEARANCE_KEY_ENCRYPTION_KEY is not set: created a key file beside the database; " +
		"set the variable in production (key_file=" + filepath.Join(filepath.Dir(path), "clearance.kek") + ")\n"
	if code != 1 || out != "" || errs != warn+want {
		t.Fatalf("exit %d, stdout %q, stderr %q; want stderr %q", code, out, errs, want)
	}
	if _, out, _ := run("sessions", "list", "--client", "app", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("a refused token made a session: %s", out)
	}

	// The command the error names, pasted.
	args := strings.Fields(hint)[1:]
	code, out, errs = runAt(t, now, args...)
	if code != 0 || !strings.Contains(out, "grants: client_credentials a2a") {
		t.Fatalf("%s: exit %d, %q, %s", hint, code, out, errs)
	}
	code, out, errs = run("token", "a2a", "--client", "app", "--user", "bob", "--json")
	var tok map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &tok) != nil || tok["access_token"] == "" {
		t.Fatalf("after enabling the grant: exit %d, %q, %s", code, out, errs)
	}
}

// TestA2AGrantWithoutFirstParty: a client that is not first-party may
// have the a2a grant (the portal turns it on with Create token); password
// and admin still need --first-party.
func TestA2AGrantWithoutFirstParty(t *testing.T) {
	path := newcomerConfig(t)
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	code, out, errs := runAt(t, now, "client", "create", "--id", "partner", "--name", "Partner", "--grant", "a2a", "--json", "--config", path)
	if code != 0 || !strings.Contains(out, `"client_secret"`) {
		t.Fatalf("client create --grant a2a: exit %d, %q, %s", code, out, errs)
	}
	for _, g := range []string{"password", "admin"} {
		code, _, errs := runAt(t, now, "client", "create", "--id", "p-"+g, "--name", "P", "--grant", g, "--config", path)
		if code != 1 || !strings.Contains(errs, "grant "+g+" is for first-party clients only: add --first-party") {
			t.Errorf("--grant %s without --first-party: exit %d, %s", g, code, errs)
		}
	}
	code, _, errs = runAt(t, now, "client", "create", "--id", "spa", "--name", "SPA", "--grant", "a2a", "--public", "--config", path)
	if code != 1 || !strings.Contains(errs, "required for the a2a grant") {
		t.Errorf("a public client with a2a: exit %d, %s", code, errs)
	}
}

// TestClientUpdate: a flag given replaces its value, one not given leaves
// it, and nothing given is an error.
func TestClientUpdate(t *testing.T) {
	path := newcomerConfig(t)
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runAt(t, now, append(args, "--config", path)...)
	}
	if code, _, errs := run("client", "create", "--id", "app", "--name", "App", "--origin", "https://a.example"); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := run("client", "update", "app", "--name", "New name", "--grant", "client_credentials", "--grant", "a2a", "--json")
	var cl clientJSON
	if code != 0 || json.Unmarshal([]byte(out), &cl) != nil {
		t.Fatalf("exit %d, %q, %s", code, out, errs)
	}
	if cl.Name != "New name" || strings.Join(cl.Grants, " ") != "client_credentials a2a" ||
		strings.Join(cl.AllowedOrigins, " ") != "https://a.example" || cl.FirstParty {
		t.Errorf("updated client %+v", cl)
	}
	if code, _, errs := run("client", "update", "app", "--origin", ""); code != 0 {
		t.Fatal(errs)
	}
	if _, out, _ := run("client", "show", "app", "--json"); !strings.Contains(out, `"allowed_origins": []`) {
		t.Errorf("--origin \"\" did not empty the list: %s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"client", "update", "app"}, "clearance client update: nothing to change"},
		{[]string{"client", "update", "nope", "--name", "x"}, "clearance client update: no client with id \"nope\"\n"},
		{[]string{"client", "update", "app", "--grant", "password"}, "clearance client update: --grant: grant password is for first-party clients only: add --first-party\n"},
	} {
		code, out, errs := run(tc.args...)
		if code != 1 || out != "" || !strings.HasPrefix(errs, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", tc.args, code, out, errs, tc.want)
		}
	}
	if code, _, errs := run("client", "update", "app", "--grant", "password", "--first-party"); code != 0 {
		t.Errorf("--first-party with --grant password: %s", errs)
	}
}
