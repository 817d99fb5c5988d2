package guard

import (
	"net/http"
	"slices"

	"github.com/clearance-gw/clearance/config"
)

// OriginPolicy answers whether a client allows requests from a browser
// origin (ClientOrigins implements it).
type OriginPolicy interface {
	ClientAllows(clientID, origin string) bool
}

// errOrigin is the 401 of SPEC §6 step 5.
var errOrigin = ErrInvalidToken.WithDescription("origin", "this origin is not allowed for the token's client")

// checkOrigin is SPEC §6 step 5: a request that carries Origin must come
// from one of the token's client's allowed origins. Tokens of trusted
// issuers have no client here: the route's allowed_origins and the
// issuer's allowed_origins stand in for it.
func (g *Guard) checkOrigin(r *http.Request, route *config.Route, p Principal, _ string) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	if p.Local {
		if g.origins != nil && g.origins.ClientAllows(p.ClientID, origin) {
			return nil
		}
		return errOrigin
	}
	if route != nil && slices.Contains(route.AllowedOrigins, origin) {
		return nil
	}
	if ti := g.state.Load().cfg.TrustedIssuerFor(p.Issuer); ti != nil && slices.Contains(ti.AllowedOrigins, origin) {
		return nil
	}
	return errOrigin
}
