package issuer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
)

// MintImplicit mints the access token of an implicit-grant authorization
// (response_type=token at /authorize) for user through clientID with scope.
// The caller (the authorization page) has checked the client, its grant,
// the redirect URI, the scope and the user's consent; the scope is checked
// again here against what the client may be issued now (ClientScopes). The
// token has the client's access lifetime and no refresh token; it lives in
// a session of kind implicit so it is listed and revocable.
func (s *Server) MintImplicit(ctx context.Context, clientID, user, scope string) (string, int64, error) {
	c, err := s.st.GetClient(ctx, clientID)
	if err != nil {
		return "", 0, fmt.Errorf("client %q: %w", clientID, err)
	}
	u, err := s.st.GetUser(ctx, user)
	if err != nil {
		return "", 0, fmt.Errorf("user %q: %w", user, err)
	}
	cfg := s.cfg()
	req := &tokenRequest{cfg: cfg, grant: "implicit", client: c, now: s.now().UTC().Truncate(time.Second),
		params: params{values: map[string]string{"scope": scope}}}
	if scope, err = s.clientScope(ctx, req); err != nil {
		if e, ok := errors.AsType[*Error](err); ok {
			return "", 0, fmt.Errorf("mint implicit token: %s", e.Description)
		}
		return "", 0, fmt.Errorf("mint implicit token: %w", err)
	}
	ttl := accessTTL(cfg, c)
	resp, err := s.issueSession(ctx, req, session{kind: store.KindImplicit, subject: user, scope: scope,
		accessTT: ttl, lifetime: ttl, userCreated: u.CreatedAt})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return "", 0, fmt.Errorf("mint implicit token: %s", e.Description)
		}
		return "", 0, fmt.Errorf("mint implicit token: %w", err)
	}
	s.metrics.issued("implicit")
	s.log.InfoContext(ctx, "token issued", "grant", "implicit", "client_id", c.ID, "sub", user,
		"scope", resp.Scope, "sid", resp.sessionID)
	return resp.AccessToken, resp.ExpiresIn, nil
}
