package issuer

import (
	"context"

	"github.com/clearance-gw/clearance/authz/store"
)

// clientCredentials is RFC 6749 §4.4: the client acts for itself. No
// refresh token, unless tokens.refresh_on_every_grant asks for one (then a
// session is created for it).
type clientCredentials struct{ s *Server }

func (clientCredentials) Public() bool     { return false }
func (clientCredentials) FirstParty() bool { return false }

func (g clientCredentials) Issue(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	scope, err := g.s.clientScope(ctx, req)
	if err != nil {
		return nil, err
	}
	ttl := accessTTL(req.cfg, req.client)
	if !req.cfg.Tokens.RefreshOnEveryGrant {
		return g.s.plainToken(req, scope, ttl)
	}
	return g.s.issueSession(ctx, req, session{kind: store.KindRefresh, subject: req.client.ID, scope: scope,
		accessTT: ttl, refresh: true, lifetime: refreshTTL(req.cfg, req.client)})
}
