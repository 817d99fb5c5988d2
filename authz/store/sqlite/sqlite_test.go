package sqlite

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/store/storetest"
)

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	storetest.Run(t, func(t *testing.T, name string) store.Store {
		t.Helper()
		s, err := Open(t.Context(), filepath.Join(dir, name+".db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestOpenCreatesDirectoryAndPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "deeper", "clearance.db")
	s, err := Open(t.Context(), "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Fatalf("database file mode %v is readable by others", perm)
	}
}

func TestOpenSetsDurabilityPragmas(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tt := range []struct {
		name   string
		db     *sql.DB
		pragma string
		want   string
	}{
		{"writer journal mode", s.w, "journal_mode", "wal"},
		{"writer synchronous FULL", s.w, "synchronous", "2"},
		{"writer foreign keys", s.w, "foreign_keys", "1"},
		{"writer busy timeout", s.w, "busy_timeout", "5000"},
		{"reader journal mode", s.r, "journal_mode", "wal"},
		{"reader busy timeout", s.r, "busy_timeout", "5000"},
		{"reader is read-only", s.r, "query_only", "1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			if err := tt.db.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
			}
		})
	}
}

func TestOpenRejectsBadDSN(t *testing.T) {
	for _, tt := range []struct{ name, dsn, want string }{
		{"empty", "", "empty"},
		{"in-memory", ":memory:", "in-memory"},
		{"in-memory URI", "file:x.db?mode=memory", "in-memory"},
		{"bad query", "x.db?%zz", "bad sqlite parameters"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(t.Context(), tt.dsn)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open(%q) = %v, want an error mentioning %q", tt.dsn, err, tt.want)
			}
		})
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	future := len(migrations()) + 1
	if _, err := s.w.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, future); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("version %d", future)) {
		t.Fatalf("Open of a newer schema = %v, want a version error", err)
	}
}

func TestMigrationsApplyOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	for range 3 {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		var n, max int
		if err := s.r.QueryRowContext(t.Context(), `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &max); err != nil {
			t.Fatal(err)
		}
		if n != len(migrations()) || max != len(migrations()) {
			t.Fatalf("schema_migrations has %d rows up to %d, want %d", n, max, len(migrations()))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecondHandleWritesConcurrently opens the same file twice (as the
// CLI does while the server runs) and writes through both at once.
func TestSecondHandleWritesConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	a, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	done := make(chan error, 2)
	for i, s := range []*Store{a, b} {
		go func() {
			for j := range 20 {
				if err := s.RevokeJTI(t.Context(), fmt.Sprintf("h%d-%d", i, j), time.Unix(2e9, 0)); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("concurrent writer failed: %v", err)
		}
	}
	revs, err := a.RevocationsSince(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 40 {
		t.Fatalf("revocations = %d, want 40", len(revs))
	}
}

func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.CreateClient(b.Context(), store.Client{ID: "app", Name: "App", SecretHash: secret.HashSecret("s"),
		Grants: []string{"refresh_token"}, CreatedAt: time.Unix(1.7e9, 0)}); err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkGetClient(b *testing.B) {
	s := benchStore(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.GetClient(b.Context(), "app"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRotateRefresh(b *testing.B) {
	s := benchStore(b)
	now := time.Unix(1.7e9, 0).UTC()
	exp := now.Add(time.Hour)
	first := store.RefreshToken{Hash: secret.HashSecret("0"), AccessJTI: "j0", CreatedAt: now, ExpiresAt: exp}
	if err := s.CreateSession(b.Context(), store.Session{ID: "s", ClientID: "app", Kind: store.KindRefresh,
		CreatedAt: now, ExpiresAt: exp}, &first); err != nil {
		b.Fatal(err)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		next := fmt.Sprint(i + 1)
		if _, err := s.RotateRefresh(b.Context(), "app", secret.HashSecret(fmt.Sprint(i)),
			store.RefreshToken{Hash: secret.HashSecret(next), AccessJTI: "j" + next, CreatedAt: now, ExpiresAt: exp}, now); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestRevocationsSurviveTheCutoffMigration upgrades a database of the first
// schema that holds revocations: they read back as before, without cutoff.
func TestRevocationsSurviveTheCutoffMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`,
		migrations()[0],
		`INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0)`,
		`INSERT INTO revocations (jti, session_id, expires_at) VALUES ('j1', '', 1000000), ('', 's1', 2000000)`,
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	revs, err := s.RevocationsSince(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Revocation{
		{Seq: 1, JTI: "j1", ExpiresAt: time.UnixMicro(1000000).UTC()},
		{Seq: 2, SessionID: "s1", ExpiresAt: time.UnixMicro(2000000).UTC()},
	}
	if !reflect.DeepEqual(revs, want) {
		t.Fatalf("revocations after the migration = %+v, want %+v", revs, want)
	}
}
