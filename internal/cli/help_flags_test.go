package cli

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHelpListsFlagsWithTwoDashes: every command's help lists its flags as
// its usage line writes them, "--config PATH", never Go's "-config string".
func TestHelpListsFlagsWithTwoDashes(t *testing.T) {
	now := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	flagLine := regexp.MustCompile(`^  (-+)([a-z0-9-]+)(?: (\S+))?$`)
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			code, out, errs := runAt(t, now, append(strings.Fields(c.name), "--help")...)
			if code != 0 || errs != "" {
				t.Fatalf("exit %d, stderr %q", code, errs)
			}
			usage, _, _ := strings.Cut(out, "\n")
			_, list, ok := strings.Cut(out, "\nFlags:\n")
			if !ok {
				t.Fatalf("no flag list:\n%s", out)
			}
			listed := map[string]bool{}
			for _, line := range strings.Split(list, "\n") {
				m := flagLine.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				listed[m[2]] = true
				if m[1] != "--" {
					t.Errorf("flag listed as %q: want --%s", line, m[2])
				}
				if m[3] != "" && m[3] != strings.ToUpper(m[3]) {
					t.Errorf("flag %q: its value is named %q, not as in a usage line", line, m[3])
				}
				// A value's word is the usage line's, where it names one.
				if m[3] != "" && strings.Contains(usage, "--"+m[2]+" ") && !strings.Contains(usage, "--"+m[2]+" "+m[3]) {
					t.Errorf("flag %q: the usage line %q names its value otherwise", line, usage)
				}
			}
			if !strings.Contains(list, "  --config PATH\n") {
				t.Errorf("no \"--config PATH\" in the flag list:\n%s", list)
			}
			for _, f := range regexp.MustCompile(`--([a-z0-9-]+)`).FindAllStringSubmatch(usage, -1) {
				if !listed[f[1]] {
					t.Errorf("the usage line names --%s, the flag list does not", f[1])
				}
			}
		})
	}
	// The exact lines of one command.
	_, out, _ := runAt(t, now, "client", "create", "--help")
	for _, want := range []string{
		"\n  --config PATH\n    \tpath of the gateway configuration file (default \"gateway.yaml\")\n",
		"\n  --grant G\n    \tgrant the client may use (repeatable)\n",
		"\n  --first-party\n    \t",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("client create --help lacks %q:\n%s", want, out)
		}
	}
}

// TestKeysListHelpNamesTheStates: every state "keys list" can print is
// explained in its help.
func TestKeysListHelpNamesTheStates(t *testing.T) {
	_, out, _ := runAt(t, time.Now(), "keys", "list", "--help")
	for _, state := range []string{"signing", "retiring", "retired", "dropped"} {
		if !regexp.MustCompile(`(?m)^  ` + state + ` +\S`).MatchString(out) {
			t.Errorf("keys list --help does not explain the state %q:\n%s", state, out)
		}
	}
}
