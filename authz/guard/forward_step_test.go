package guard

import (
	"errors"
	"testing"

	"github.com/clearance-gw/clearance/config"
)

// Claims the proxy forwards as headers must be header values: the guard
// refuses a token carrying a control character in any of them for a
// proxied route, and still authenticates it for a nil route (no headers).
func TestClaimsThatCannotBeForwarded(t *testing.T) {
	f := newFixture(t)
	route := &config.Route{Name: "mapdata", Path: "/mapdata/"}
	for name, edit := range map[string]func(map[string]any){
		"sub with CRLF":     func(c map[string]any) { c["sub"] = "eve\r\nX-Injected: 1" },
		"sub with a NUL":    func(c map[string]any) { c["sub"] = "eve\x00admin" },
		"client_id with LF": func(c map[string]any) { c["client_id"] = "app\nX-Auth-Scope: all" },
		"scope with DEL":    func(c map[string]any) { c["scope"] = "query_mapdata a\x7fb" },
		"act.sub with CR":   func(c map[string]any) { c["act"] = map[string]any{"sub": "root\rX"} },
	} {
		t.Run(name, func(t *testing.T) {
			c := claims(localIssuer)
			c["client_id"] = "demo-app"
			edit(c)
			tok := mint(t, f.local, c)
			_, err := f.guard.Check(bearerRequest(tok), route)
			var e *Error
			if !errors.As(err, &e) || e.Code != "invalid_token" || e.Reason != "claims" {
				t.Fatalf("Check(route) = %v, want invalid_token (claims)", err)
			}
			if _, err := f.guard.Check(bearerRequest(tok), nil); err != nil {
				t.Fatalf("Check(nil route) = %v, want the token authenticated", err)
			}
		})
	}
	c := claims(localIssuer)
	c["client_id"], c["sub"] = "demo-app", "pilot\t7" // a tab is a header value
	if _, err := f.guard.Check(bearerRequest(mint(t, f.local, c)), route); err != nil {
		t.Fatalf("a tab in sub: %v", err)
	}
}
