package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store/sqlite"
)

// TestUserUpdatePasswordStdin: "user update NAME --password-stdin" sets
// the password read from one line of standard input, and leaves the
// user's entitlements as they are.
func TestUserUpdatePasswordStdin(t *testing.T) {
	path := newcomerConfig(t)
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	run := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		env := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Now: func() time.Time { return now },
			LookupEnv: func(string) (string, bool) { return "", false }}
		code := Run(t.Context(), append(args, "--config", path), env)
		return code, out.String(), errb.String()
	}
	if code, _, errs := run("old password 1\n", "user", "add", "alice", "--plan", ""); code != 0 {
		t.Fatal(errs)
	}
	passwordIs := func(pw string) bool {
		t.Helper()
		st, err := sqlite.Open(t.Context(), filepath.Join(filepath.Dir(path), "clearance.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		u, err := st.GetUser(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		ok, err := secret.VerifyPassword(u.PasswordHash, pw)
		return ok && err == nil
	}

	code, out, errs := run("new password 2\r\n", "user", "update", "alice", "--password-stdin")
	if code != 0 || out != "User \"alice\" updated; new password set.\n" || errs != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if !passwordIs("new password 2") || passwordIs("old password 1") {
		t.Fatal("the stored password is not the new one")
	}

	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"short\n", []string{"user", "update", "alice", "--password-stdin"}, "clearance user update: password: must have at least 8 characters\n"},
		{"", []string{"user", "update", "alice", "--password-stdin"}, "clearance user update: password: must have at least 8 characters\n"},
		{"", []string{"user", "update", "alice"}, "clearance user update: nothing to change: give --scope, --clear-scopes, --plan or --password-stdin\n"},
		{"another password\n", []string{"user", "update", "nobody", "--password-stdin"}, "clearance user update: no user named \"nobody\"\n"},
	} {
		code, out, errs := run(tc.stdin, tc.args...)
		if code != 1 || out != "" || errs != tc.want {
			t.Errorf("%v < %q: exit %d, stdout %q, stderr %q; want %q", tc.args, tc.stdin, code, out, errs, tc.want)
		}
	}
	if !passwordIs("new password 2") {
		t.Fatal("a refused update changed the password")
	}
}
