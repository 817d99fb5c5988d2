package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/store/sqlite"
)

func TestUserDeleteCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	db := filepath.Join(dir, "clearance.db")
	cfg := fmt.Sprintf("store: {driver: sqlite, dsn: %q}\ntokens: {a2a_ttl: 8760h}\n", db)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 6, 15, 12, 0, 0, 250_000_000, time.UTC)
	run := func(args ...string) (int, string, string) {
		return runAt(t, now, append(args, "--config", path)...)
	}
	for _, args := range [][]string{
		{"user", "add", "alice"},
		{"user", "add", "bob"},
		{"client", "create", "--id", "alice-app", "--name", "A", "--owner", "alice"},
		{"client", "create", "--id", "bob-app", "--name", "B", "--owner", "bob"},
		{"subscription", "add", "--user", "alice", "--type", "fmsdata", "--from", "2030-01-01", "--until", "2030-12-31"},
	} {
		if code, _, errs := run(args...); code != 0 {
			t.Fatalf("%v: %s", args, errs)
		}
	}

	code, out, errs := run("user", "delete", "alice", "--json")
	var res map[string]any
	if code != 0 || errs != "" || json.Unmarshal([]byte(out), &res) != nil || res["user"] != "alice" || res["deleted"] != true {
		t.Fatalf("user delete --json: exit %d, %q, stderr %q", code, out, errs)
	}
	if code, _, _ := run("client", "show", "alice-app"); code == 0 {
		t.Error("the deleted user's client is still there")
	}
	if code, _, _ := run("client", "show", "bob-app"); code != 0 {
		t.Error("another user's client went too")
	}
	if code, out, _ := run("subscription", "list", "--user", "alice", "--json"); code != 0 || out != "[]\n" {
		t.Errorf("the deleted user's subscriptions: exit %d %q", code, out)
	}

	t.Run("the revocations are recorded for a year and a leeway", func(t *testing.T) {
		st, err := sqlite.Open(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		revs, err := st.RevocationsSince(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		// The cutoff is the deletion time; the row lives from that time
		// rounded up to the second.
		sec := time.Date(2030, 6, 15, 12, 0, 1, 0, time.UTC)
		until := sec.Add(8760*time.Hour + 30*time.Second) // a2a_ttl and the default leeway
		want := []store.Revocation{
			{ClientID: "alice-app", Cutoff: now, ExpiresAt: until},
			{Subject: "alice", Cutoff: now, ExpiresAt: until},
		}
		if len(revs) != len(want) {
			t.Fatalf("revocations = %+v, want %+v", revs, want)
		}
		for i := range revs {
			want[i].Seq = revs[i].Seq
			if revs[i] != want[i] {
				t.Errorf("revocation %d = %+v, want %+v", i, revs[i], want[i])
			}
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		code, out, errs := run("user", "delete", "alice")
		if code == 0 || out != "" || errs != "clearance user delete: no user named \"alice\"\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
	})
	t.Run("text output", func(t *testing.T) {
		if code, out, errs := run("user", "delete", "bob"); code != 0 || out == "" || errs != "" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
	})
}
