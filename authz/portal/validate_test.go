package portal

import (
	"slices"
	"strings"
	"testing"

	"github.com/clearance-gw/clearance/config"
)

func FuzzNormalizeOrigin(f *testing.F) {
	f.Add("https://app.example")       // already normal
	f.Add("HTTPS://App.Example:443/")  // case, default port, trailing slash
	f.Add("http://localhost:3000")     // a port
	f.Add("http://[::1]:8080")         // IPv6
	f.Add("https://app.example/x?y#z") // path, query, fragment
	f.Add("https://u@app.example")     // user info
	f.Fuzz(func(t *testing.T, s string) {
		o, err := normalizeOrigin(s)
		if err != nil {
			return
		}
		if err := config.CheckOrigin(o); err != nil {
			t.Fatalf("normalizeOrigin(%q) = %q, which the config refuses: %v", s, o, err)
		}
		if again, err := normalizeOrigin(o); err != nil || again != o {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", s, o, again, err)
		}
	})
}

// FuzzRedirectURIList checks the portal's redirect URI field: an accepted
// list holds only URIs the config accepts, each matching itself exactly,
// without duplicates, and saving it again (one per line, as the form shows
// it) gives the same list.
func FuzzRedirectURIList(f *testing.F) {
	f.Add("https://app.example/cb\ncom.example:/cb\n")
	f.Add("https://app.example/cb#frag\n/relative")
	f.Add("\r\n\r\n javascript:alert(1) \n")
	f.Fuzz(func(t *testing.T, s string) {
		uris, problems := parseRedirectURIs(s)
		if len(problems) > 0 {
			return
		}
		seen := map[string]bool{}
		for _, u := range uris {
			if err := config.CheckRedirectURI(u); err != nil {
				t.Fatalf("accepted %q: %v", u, err)
			}
			if !matchRedirectURI(uris, u) {
				t.Fatalf("accepted %q does not match itself", u)
			}
			if seen[u] {
				t.Fatalf("%q accepted twice", u)
			}
			seen[u] = true
		}
		again, problems := parseRedirectURIs(strings.Join(uris, "\n"))
		if len(problems) > 0 || !slices.Equal(again, uris) {
			t.Fatalf("saving %q again gave %q, %q", uris, again, problems)
		}
	})
}
