package cli

import (
	"strings"
	"testing"
	"time"
)

// TestCommandsDoNotMixLogLinesIntoTheirOutput: one-off commands say
// warnings in one human line each and drop info notes; no JSON log line
// reaches their stderr (only serve logs JSON).
func TestCommandsDoNotMixLogLinesIntoTheirOutput(t *testing.T) {
	path := newcomerConfig(t)
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	run := func(args ...string) (string, string) {
		t.Helper()
		code, out, errs := runAt(t, now, append(args, "--config", path)...)
		if code != 0 {
			t.Fatalf("%v: exit %d, %s", args, code, errs)
		}
		return out, errs
	}
	run("client", "create", "--id", "app", "--name", "App", "--grant", "a2a")
	run("user", "add", "bob")
	steps := []struct {
		args   []string
		stderr []string // the prefixes of its stderr lines, in order
	}{
		{[]string{"keys", "list"}, nil},
		{[]string{"token", "a2a", "--client", "app", "--user", "bob"}, []string{
			"clearance token a2a: warning: CLEARANCE_KEY_ENCRYPTION_KEY is not set: created a key file beside the database",
			"a2a token for bob via app, scope",
		}},
		{[]string{"keys", "list"}, nil},
		{[]string{"keys", "rotate"}, nil},
		{[]string{"token", "a2a", "--client", "app", "--user", "bob", "--json"}, nil},
		{[]string{"sessions", "list", "--client", "app"}, nil},
	}
	for _, st := range steps {
		out, errs := run(st.args...)
		lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
		if errs == "" {
			lines = nil
		}
		if len(lines) != len(st.stderr) {
			t.Errorf("%v: stderr %q, want %d lines", st.args, errs, len(st.stderr))
			continue
		}
		for i, l := range lines {
			if !strings.HasPrefix(l, st.stderr[i]) {
				t.Errorf("%v: stderr line %q, want it to start %q", st.args, l, st.stderr[i])
			}
		}
		if strings.Contains(out, `"level"`) || strings.Contains(out, `"msg"`) {
			t.Errorf("%v: a log line on stdout: %q", st.args, out)
		}
	}
}
