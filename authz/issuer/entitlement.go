package issuer

import (
	"context"
	"errors"
	"fmt"

	"github.com/clearance-gw/clearance/authz/entitlement"
	"github.com/clearance-gw/clearance/authz/store"
)

// Entitled returns the scopes user's portal clients may be given under the
// config in force (entitlement.Of), for the portal's forms. An unknown user
// is entitled to portal.scopes only.
func (s *Server) Entitled(ctx context.Context, user string) ([]string, error) {
	u, err := s.st.GetUser(ctx, user)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("entitlement of %q: %w", user, err)
	}
	if err != nil {
		u = store.User{}
	}
	return entitlement.Of(s.cfg(), u), nil
}

// ClientScopes returns the scopes c may be issued now under the config in
// force (entitlement.ClientScopes), for the authorization page; limited
// reports a portal client, which is refused when that is empty.
func (s *Server) ClientScopes(ctx context.Context, c store.Client) (scopes []string, limited bool, err error) {
	return s.allowedScopes(ctx, s.cfg(), c)
}
