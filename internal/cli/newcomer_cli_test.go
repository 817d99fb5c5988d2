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
