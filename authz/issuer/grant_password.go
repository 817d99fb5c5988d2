package issuer

import (
	"context"

	"github.com/clearance-gw/clearance/authz/store"
)

// passwordGrant is RFC 6749 §4.3, for first-party clients only: the user's
// name and password buy a session with a refresh token.
type passwordGrant struct{ s *Server }

func (passwordGrant) Public() bool     { return false }
func (passwordGrant) FirstParty() bool { return true }

func (g passwordGrant) Issue(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	u, err := g.s.authenticateUser(ctx, req)
	if err != nil {
		return nil, err
	}
	scope, err := g.s.clientScope(ctx, req)
	if err != nil {
		return nil, err
	}
	return g.s.issueSession(ctx, req, session{kind: store.KindRefresh, subject: u.Name, scope: scope,
		accessTT: accessTTL(req.cfg, req.client), refresh: true, lifetime: refreshTTL(req.cfg, req.client),
		userCreated: u.CreatedAt})
}
