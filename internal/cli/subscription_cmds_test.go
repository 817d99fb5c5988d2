package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/subscription"
)

// runAt runs one command with the clock at now and returns exit code,
// stdout and stderr.
func runAt(t *testing.T, now time.Time, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader("correct horse battery\n"), Stdout: &out, Stderr: &errb,
		Now: func() time.Time { return now }, LookupEnv: func(string) (string, bool) { return "", false }}
	code := Run(t.Context(), args, env)
	return code, out.String(), errb.String()
}

func TestSubscriptionCommands(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	cfg := fmt.Sprintf("store: {driver: sqlite, dsn: %q}\n", filepath.Join(dir, "clearance.db")) +
		"routes:\n  - {name: nav, path: /v1/nav/, upstream: 'http://127.0.0.1:9000', subscription: fmsdata}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	run := func(args ...string) (int, string, string) {
		return runAt(t, now, append(args, "--config", path)...)
	}
	if code, _, errs := run("user", "add", "alice"); code != 0 {
		t.Fatalf("user add: %s", errs)
	}

	code, out, errs := run("subscription", "add", "--user", "alice", "--type", "fmsdata", "--name", "Navigation Data",
		"--from", "2030-01-01", "--until", "2030-12-31", "--json")
	if code != 0 || errs != "" {
		t.Fatalf("add: exit %d: %s", code, errs)
	}
	var added subscription.View
	if err := json.Unmarshal([]byte(out), &added); err != nil {
		t.Fatalf("add --json: %v\n%s", err, out)
	}
	want := subscription.View{ID: added.ID, User: "alice", Type: "fmsdata", Name: "Navigation Data",
		DateActive: "2030-01-01T00:00:00Z", DateExpiry: "2030-12-31T23:59:59Z", Active: true}
	if added != want || added.ID <= 0 {
		t.Fatalf("added %+v, want %+v", added, want)
	}

	// A type no route requires is added, with a warning.
	code, out, errs = run("subscription", "add", "--user", "alice", "--type", "charts",
		"--from", "2029-01-01T00:00:00Z", "--until", "2029-06-30T12:00:00+02:00")
	if code != 0 || !strings.Contains(out, "alice has charts") {
		t.Fatalf("add: exit %d: %s %s", code, out, errs)
	}
	if want := `warning: no route requires subscription type "charts"; the routes of ` + path + " require fmsdata"; !strings.HasPrefix(errs, want) || strings.Count(errs, "\n") != 1 {
		t.Errorf("add of a type no route requires: stderr %q, want a line starting %q", errs, want)
	}

	code, out, _ = run("subscription", "list", "--user", "alice", "--json")
	var list []subscription.View
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil {
		t.Fatalf("list: exit %d, %v\n%s", code, err, out)
	}
	if len(list) != 2 || list[0] != added ||
		list[1] != (subscription.View{ID: list[1].ID, User: "alice", Type: "charts", Name: "charts",
			DateActive: "2029-01-01T00:00:00Z", DateExpiry: "2029-06-30T10:00:00Z", Active: false}) {
		t.Fatalf("list = %+v", list)
	}
	if code, out, _ := run("subscription", "list", "--user", "alice"); code != 0 ||
		!strings.Contains(out, "ID") || !strings.Contains(out, "Navigation Data") || !strings.Contains(out, "false") {
		t.Errorf("table: %s", out)
	}
	if code, out, _ := run("subscription", "list", "--user", "nobody", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("empty list: exit %d %q", code, out)
	}

	code, out, _ = run("subscription", "remove", fmt.Sprint(added.ID), "--json")
	if code != 0 || !strings.Contains(out, `"removed": true`) {
		t.Fatalf("remove: exit %d %s", code, out)
	}
	if _, out, _ := run("subscription", "list", "--user", "alice", "--json"); strings.Contains(out, "fmsdata") {
		t.Errorf("still listed after remove: %s", out)
	}

	t.Run("a subject that is not a login user gets a note", func(t *testing.T) {
		code, _, errs := run("subscription", "add", "--user", "partner-app", "--type", "fmsdata", "--from", "2030-01-01", "--until", "2030-02-01")
		if code != 0 || !strings.Contains(errs, "not a login user") {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})

	for _, tt := range []struct {
		name string
		args []string
		msg  string
	}{
		{"missing flags", []string{"subscription", "add", "--user", "alice"}, "are required"},
		{"bad date", []string{"subscription", "add", "--user", "alice", "--type", "x", "--from", "01/01/2030", "--until", "2030-02-01"}, "--from"},
		{"until before from", []string{"subscription", "add", "--user", "alice", "--type", "x", "--from", "2030-02-01", "--until", "2030-01-01"}, "before"},
		{"type with a space", []string{"subscription", "add", "--user", "alice", "--type", "fms data", "--from", "2030-01-01", "--until", "2030-02-01"}, "--type"},
		{"list without user", []string{"subscription", "list"}, "--user is required"},
		{"remove a bad id", []string{"subscription", "remove", "abc"}, "not a subscription id"},
		{"remove an unknown id", []string{"subscription", "remove", "999"}, "not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := run(tt.args...)
			if code != 1 || !strings.Contains(errs, tt.msg) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q; want 1 and one line mentioning %q", code, errs, tt.msg)
			}
		})
	}
}
