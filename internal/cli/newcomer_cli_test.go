package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newcomerConfig writes a minimal configuration with a SQLite store.
func newcomerConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	cfg := fmt.Sprintf("store: {driver: sqlite, dsn: %q}\n", filepath.Join(dir, "clearance.db"))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKeysRotateNamesTheNewKey: the rotate message and its JSON name the
// new key and when it starts signing, not the old key twice.
func TestKeysRotateNamesTheNewKey(t *testing.T) {
	path := newcomerConfig(t)
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	listKIDs := func() []keyJSON {
		code, out, errs := runAt(t, now, "keys", "list", "--json", "--config", path)
		var keys []keyJSON
		if code != 0 || json.Unmarshal([]byte(out), &keys) != nil {
			t.Fatalf("keys list: exit %d %q %s", code, out, errs)
		}
		return keys
	}
	code, out, errs := runAt(t, now, "keys", "rotate", "--json", "--config", path)
	var res map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("keys rotate --json: exit %d %q %s", code, out, errs)
	}
	oldKID := res["retired_kid"]
	if oldKID == "" {
		t.Fatalf("no retired_kid: %q", out)
	}
	if res["signing_kid"] == "" || res["signing_kid"] == oldKID {
		t.Errorf("signing_kid = %q: not the new key (old %q)", res["signing_kid"], oldKID)
	}
	from, err := time.Parse(time.RFC3339, res["signs_from"])
	if err != nil || from.Before(now) {
		t.Errorf("signs_from = %q: not a time at or after the rotation", res["signs_from"])
	}
	var found bool
	for _, k := range listKIDs() {
		if k.KID == res["signing_kid"] {
			found = true
		}
	}
	if !found {
		t.Errorf("signing_kid %q is not among the listed keys", res["signing_kid"])
	}

	// Without --json the message names the new key first and the old one once.
	// An hour later, once the first rotation's key signs.
	code, out, errs = runAt(t, now.Add(time.Hour), "keys", "rotate", "--config", path)
	if code != 0 {
		t.Fatalf("keys rotate: exit %d %s", code, errs)
	}
	prev := res["signing_kid"]
	if strings.Count(out, prev) != 1 {
		t.Errorf("the outgoing key %q should be named once: %q", prev, out)
	}
	if !strings.HasPrefix(out, "New signing key ") || strings.HasPrefix(out, "New signing key "+prev) {
		t.Errorf("the message does not name the new key: %q", out)
	}
}

// TestHelpForGroupsAndCommands: a command group lists its commands, "help
// CMD" is CMD's help, and the version is printed by "version" and
// "--version".
func TestHelpForGroupsAndCommands(t *testing.T) {
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	for _, args := range [][]string{{"client", "--help"}, {"help", "client"}} {
		code, out, errs := runAt(t, now, args...)
		if code != 0 || errs != "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
		for _, sub := range []string{"client create", "client list", "client show", "client delete"} {
			if !strings.Contains(out, sub) {
				t.Errorf("%v does not list %q:\n%s", args, sub, out)
			}
		}
		if strings.Contains(out, "user add") {
			t.Errorf("%v lists another group's commands:\n%s", args, out)
		}
	}
	code, _, errs := runAt(t, now, "client")
	if code != 2 || !strings.Contains(errs, "client show") || strings.Contains(errs, "unknown command") {
		t.Errorf("clearance client: exit %d, stderr %q", code, errs)
	}
	code, _, errs = runAt(t, now, "client", "frob")
	if code != 2 || !strings.Contains(errs, `unknown command "client frob"`) || !strings.Contains(errs, "client create") {
		t.Errorf("clearance client frob: exit %d, stderr %q", code, errs)
	}

	code, out, _ := runAt(t, now, "help", "serve")
	if code != 0 || !strings.HasPrefix(out, "Usage: clearance serve") {
		t.Errorf("help serve: exit %d, %q", code, out)
	}
	code, out, _ = runAt(t, now, "help", "client", "create")
	if code != 0 || !strings.HasPrefix(out, "Usage: clearance client create") {
		t.Errorf("help client create: exit %d, %q", code, out)
	}

	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errs := runAt(t, now, args...)
		if code != 0 || errs != "" || !strings.HasPrefix(out, "clearance ") || strings.Count(out, "\n") != 1 {
			t.Errorf("%v: exit %d, %q, stderr %q", args, code, out, errs)
		}
	}
}

// TestFirstPartyErrorInFlagWords: the CLI says which flag to pass, not
// which configuration key to set.
func TestFirstPartyErrorInFlagWords(t *testing.T) {
	path := newcomerConfig(t)
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	code, _, errs := runAt(t, now, "client", "create", "--id", "app", "--name", "App", "--grant", "password", "--config", path)
	if code != 1 || !strings.Contains(errs, "--grant: grant password is for first-party clients only: add --first-party") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	if strings.Contains(errs, "first_party") || strings.Contains(errs, "grants[") {
		t.Errorf("configuration words in a CLI error: %q", errs)
	}
	if code, _, errs := runAt(t, now, "client", "create", "--id", "app", "--name", "App", "--grant", "password", "--first-party", "--config", path); code != 0 {
		t.Errorf("with --first-party: exit %d, %s", code, errs)
	}
}

// TestNotFoundSaidOnce: a missing client, user or session is named once,
// in one phrase, not wrapped in the store's own context.
func TestNotFoundSaidOnce(t *testing.T) {
	path := newcomerConfig(t)
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	if code, _, errs := runAt(t, now, "client", "create", "--id", "app", "--name", "App", "--config", path); code != 0 {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"client", "show", "nope"}, "clearance client show: no client with id \"nope\"\n"},
		{[]string{"sessions", "list", "--client", "nope"}, "clearance sessions list: no client with id \"nope\"\n"},
		{[]string{"sessions", "revoke", "nope"}, "clearance sessions revoke: no session with id \"nope\"\n"},
		{[]string{"token", "a2a", "--client", "nope", "--user", "bob"}, "clearance token a2a: no client with id \"nope\"\n"},
		{[]string{"token", "a2a", "--client", "app", "--user", "bob"}, "clearance token a2a: no user named \"bob\"\n"},
	} {
		code, out, errs := runAt(t, now, append(tc.args, "--config", path)...)
		if code != 1 || out != "" || errs != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want stderr %q", tc.args, code, out, errs, tc.want)
		}
	}
}
