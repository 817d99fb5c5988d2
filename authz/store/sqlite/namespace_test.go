package sqlite

import (
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMigrationMarksOwnedClientsPortalMade upgrades a database of the first
// schema: clients with an owner become portal-made (limited to the owner's
// entitlement), operator clients do not, and users get an empty scope list.
func TestMigrationMarksOwnedClientsPortalMade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`,
		migrations()[0],
		`INSERT INTO schema_migrations VALUES (1, 0)`,
		`INSERT INTO users VALUES ('alice', 'hash', 0, 1)`,
		`INSERT INTO clients VALUES ('alice-app', 'A', NULL, '[]', '["charts","manage_users"]', '[]', '[]', 0, 'alice', 0, 0, 1)`,
		`INSERT INTO clients VALUES ('operator', 'O', NULL, '[]', '["charts"]', '[]', '[]', 0, '', 0, 0, 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
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
	owned, err := s.GetClient(t.Context(), "alice-app")
	if err != nil {
		t.Fatal(err)
	}
	operator, err := s.GetClient(t.Context(), "operator")
	if err != nil {
		t.Fatal(err)
	}
	if !owned.PortalMade || operator.PortalMade {
		t.Errorf("portal_made after migration: owned %v, operator's %v; want true, false", owned.PortalMade, operator.PortalMade)
	}
	if !slices.Equal(owned.Scopes, []string{"charts", "manage_users"}) {
		t.Errorf("owned client's scopes changed to %q", owned.Scopes)
	}
	u, err := s.GetUser(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.Scopes == nil || len(u.Scopes) != 0 {
		t.Errorf("migrated user's scopes = %#v, want an empty list", u.Scopes)
	}
}

// TestNamespaceCheckUsesTheFoldIndexes: the one-namespace check looks names
// up through an index, so creating clients and users stays cheap with many
// of them.
func TestNamespaceCheckUsesTheFoldIndexes(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range []struct{ query, index string }{
		{`SELECT name FROM users WHERE ` + foldExpr("name") + ` = ? LIMIT 1`, "users_name_fold"},
		{`SELECT id FROM clients WHERE ` + foldExpr("id") + ` = ? LIMIT 1`, "clients_id_fold"},
	} {
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q.query, "x")
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if !strings.Contains(strings.Join(plan, "\n"), q.index) {
			t.Errorf("%s: plan %q does not use %s", q.query, plan, q.index)
		}
	}
}
