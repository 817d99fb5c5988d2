package guard

import (
	"net/http"

	"github.com/clearance-gw/clearance/config"
)

// errClaims is the 401 of a token whose identity claims cannot be sent
// upstream as header values.
var errClaims = ErrInvalidToken.WithDescription("claims", "the token's claims cannot be forwarded")

// checkForwardable is the last step for a proxied route: the claims the
// proxy forwards as identity headers (subject, client, scopes, issuer,
// actor) must be valid header values, so a signed token cannot inject a
// header. It does not apply when only authenticating (nil route).
func checkForwardable(_ *http.Request, route *config.Route, p Principal, _ string) error {
	if route == nil {
		return nil
	}
	for _, v := range [...]string{p.Subject, p.ClientID, p.Issuer, p.Actor} {
		if !headerValue(v) {
			return errClaims
		}
	}
	for _, v := range p.Scopes {
		if !headerValue(v) {
			return errClaims
		}
	}
	return nil
}

// headerValue reports whether v can be sent as a header value: no control
// characters other than tab.
func headerValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
