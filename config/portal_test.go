package config

import (
	"slices"
	"strings"
	"testing"
)

func TestPortalScopes(t *testing.T) {
	t.Parallel()
	t.Run("default is none", func(t *testing.T) {
		c := mustParse(t, "scopes: [charts]\n")
		if len(c.Portal.Scopes) != 0 {
			t.Fatalf("portal.scopes = %q, want none", c.Portal.Scopes)
		}
	})
	t.Run("known scopes are kept in order", func(t *testing.T) {
		c := mustParse(t, "scopes: [charts, airports, manage_users]\nportal: {scopes: [airports, charts]}\n")
		if !slices.Equal(c.Portal.Scopes, []string{"airports", "charts"}) {
			t.Fatalf("portal.scopes = %q", c.Portal.Scopes)
		}
	})
	for _, tt := range []struct {
		name, src, pos, msg string
	}{
		{"unknown scope", "scopes: [charts]\nportal:\n  scopes: [charts, manage_users]\n", "3:20",
			`portal.scopes[1]: unknown scope "manage_users": declare it under scopes:`},
		{"duplicate scope", "scopes: [charts]\nportal:\n  scopes:\n    - charts\n    - charts\n", "5:7",
			`portal.scopes[1]: duplicate scope "charts"`},
		{"not a list", "scopes: [charts]\nportal: {scopes: charts}\n", "2:18", "portal.scopes: expected a list"},
		{"unknown key", "portal: {scope: [charts]}\n", "1:10", `unknown key "scope" in portal`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := parseString(t, tt.src)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want exactly 1:\n%v", len(ps), ps)
			}
			got := ps[0].String()
			prefix := "t.yaml:" + tt.pos + ": "
			if !strings.HasPrefix(got, prefix) || !strings.Contains(got, tt.msg) {
				t.Errorf("got  %s\nwant %s...%s", got, prefix, tt.msg)
			}
		})
	}
}
