package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolveSQLiteDSN(t *testing.T) {
	t.Parallel()
	tests := []struct{ dsn, dir, want string }{
		{"data/clearance.db", "/etc/clearance", "/etc/clearance/data/clearance.db"},
		{"clearance.db", "conf", "conf/clearance.db"},
		{"./x.db", "conf", "conf/x.db"},
		{"../state/x.db", "/etc/clearance", "/etc/state/x.db"},
		{"file:data/x.db?_pragma=cache_size(2000)", "/etc/c", "file:/etc/c/data/x.db?_pragma=cache_size(2000)"},
		{"file:x.db", "conf", "file:conf/x.db"},
		{"data/x.db?_txlock=deferred", "/etc/c", "/etc/c/data/x.db?_txlock=deferred"},
		// Left alone.
		{"data/clearance.db", ".", "data/clearance.db"},
		{"data/clearance.db", "", "data/clearance.db"},
		{"/var/lib/clearance/x.db", "/etc/c", "/var/lib/clearance/x.db"},
		{"file:/var/lib/x.db?mode=rwc", "/etc/c", "file:/var/lib/x.db?mode=rwc"},
		{"file:///var/lib/x.db", "/etc/c", "file:///var/lib/x.db"},
		{":memory:", "/etc/c", ":memory:"},
		{"file::memory:?cache=shared", "/etc/c", "file::memory:?cache=shared"},
		{"", "/etc/c", ""},
	}
	for _, tt := range tests {
		if got := ResolveSQLiteDSN(tt.dsn, tt.dir); got != tt.want {
			t.Errorf("ResolveSQLiteDSN(%q, %q) = %q, want %q", tt.dsn, tt.dir, got, tt.want)
		}
	}
}

// TestStoreDSNBesideTheConfigFile: loading resolves a relative sqlite DSN
// against the config file's directory (written, defaulted or from the
// environment), never a postgres DSN.
func TestStoreDSNBesideTheConfigFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "conf")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	env := func(name string) (string, bool) {
		if name == "DB" {
			return "state/from-env.db", true
		}
		return "", false
	}
	for _, tt := range []struct{ src, want string }{
		{"store: {driver: sqlite, dsn: clearance.db}\n", filepath.Join(dir, "clearance.db")},
		{"listen: ':8080'\n", filepath.Join(dir, "data", "clearance.db")},
		{"store: {dsn: '${DB}'}\n", filepath.Join(dir, "state", "from-env.db")},
		{"store: {driver: postgres, dsn: 'postgres://db/gw'}\n", "postgres://db/gw"},
	} {
		path := filepath.Join(dir, "gateway.yaml")
		if err := os.WriteFile(path, []byte(tt.src), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, env)
		if err != nil {
			t.Fatalf("%q: %v", tt.src, err)
		}
		if got := c.Store.DSN.Reveal(); got != tt.want {
			t.Errorf("%q: store.dsn = %q, want %q", tt.src, got, tt.want)
		}
	}
}
