package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStoreDSNIsRelativeToTheConfigFile: a relative sqlite store.dsn lands
// beside the config file, whatever the current directory, for every
// command that opens the store (the test runs from the package directory,
// the config lives elsewhere).
func TestStoreDSNIsRelativeToTheConfigFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conf")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte("store: {driver: sqlite, dsn: state/clearance.db}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	if code, out, errs := runAt(t, now, "check", "--config", path); code != 0 || !strings.Contains(out, ": ok") {
		t.Fatalf("check: exit %d, %q %s", code, out, errs)
	}
	if code, _, errs := runAt(t, now, "client", "create", "--id", "app", "--name", "App", "--grant", "a2a", "--config", path); code != 0 {
		t.Fatal(errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "clearance.db")); err != nil {
		t.Fatalf("the database is not beside the config file: %v", err)
	}
	if _, err := os.Stat("state"); err == nil {
		os.RemoveAll("state")
		t.Fatal("the database was made in the current directory")
	}
	// Another command finds the same database, and the key file lands
	// beside it.
	if code, out, errs := runAt(t, now, "client", "list", "--config", path); code != 0 || !strings.Contains(out, "app") {
		t.Fatalf("client list: exit %d, %q %s", code, out, errs)
	}
	if code, _, errs := runAt(t, now, "user", "add", "bob", "--config", path); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := runAt(t, now, "token", "a2a", "--client", "app", "--user", "bob", "--config", path); code != 0 ||
		!strings.Contains(errs, "key_file="+filepath.Join(dir, "state", "clearance.kek")) {
		t.Fatalf("token a2a: exit %d, %s", code, errs)
	}
}
