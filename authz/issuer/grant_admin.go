package issuer

import (
	"context"
	"errors"
	"fmt"

	"github.com/clearance-gw/clearance/authz/store"
)

// adminGrant is the custom "admin" grant, for first-party clients: an
// administrator (username and password of an admin user) obtains a token
// for another user (subject). The token carries act {"sub": admin}, and
// every issuance is logged. It lives in a session of kind "admin" (listed
// and revocable) and gets no refresh token: a refreshed token could not
// carry the act claim forward.
type adminGrant struct{ s *Server }

// KindAdmin is the session kind of admin-grant tokens.
const KindAdmin = "admin"

func (adminGrant) Public() bool     { return false }
func (adminGrant) FirstParty() bool { return true }

func (g adminGrant) Issue(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	subject := req.params.get("subject")
	if subject == "" {
		return nil, ErrInvalidRequest.WithDescription("subject is required: the user the token is for")
	}
	admin, err := g.s.authenticateUser(ctx, req)
	if err != nil {
		return nil, err
	}
	if !admin.Admin {
		return nil, ErrInvalidGrant.WithDescription("the user is not an administrator")
	}
	user, err := g.s.st.GetUser(ctx, subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidGrant.WithDescription("unknown subject")
	} else if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	scope, err := g.s.clientScope(ctx, req)
	if err != nil {
		return nil, err
	}
	ttl := accessTTL(req.cfg, req.client)
	resp, err := g.s.issueSession(ctx, req, session{kind: KindAdmin, subject: subject, scope: scope,
		actor: admin.Name, accessTT: ttl, lifetime: ttl, userCreated: user.CreatedAt})
	if err != nil {
		return nil, err
	}
	g.s.log.InfoContext(ctx, "admin token issued", "admin", admin.Name, "subject", subject,
		"client_id", req.client.ID, "scope", scope, "sid", resp.sessionID)
	return resp, nil
}
