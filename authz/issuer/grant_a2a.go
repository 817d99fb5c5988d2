package issuer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// a2aGrant is the custom "a2a" grant (application to application), for
// first-party clients: the user's name and password buy a token that lasts
// tokens.a2a_ttl (a year) with no refresh token. It lives in a session of
// kind a2a so it can be listed and revoked.
type a2aGrant struct{ s *Server }

func (a2aGrant) Public() bool     { return false }
func (a2aGrant) FirstParty() bool { return true }

func (g a2aGrant) Issue(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	u, err := g.s.authenticateUser(ctx, req)
	if err != nil {
		return nil, err
	}
	scope, err := g.s.clientScope(ctx, req)
	if err != nil {
		return nil, err
	}
	return g.s.issueA2A(ctx, req, u, scope)
}

func (s *Server) issueA2A(ctx context.Context, req *tokenRequest, u store.User, scope string) (*tokenResponse, error) {
	ttl := req.cfg.Tokens.A2ATTL.D()
	return s.issueSession(ctx, req, session{kind: store.KindA2A, subject: u.Name, scope: scope,
		accessTT: ttl, lifetime: ttl, userCreated: u.CreatedAt})
}

// A2AToken is an application-to-application token minted by MintA2A.
type A2AToken struct {
	AccessToken string
	Scope       string
	SessionID   string
	ExpiresAt   time.Time
}

// A2ANotEnabledError is MintA2A's refusal of a client that does not have
// the a2a grant enabled. The rule is one for the token endpoint, the
// command line and the portal: an a2a token is only ever made for a client
// that has the a2a grant enabled (the token endpoint, where the app sends
// the user's password, also requires a first-party client). Each caller
// says in its own words how to enable the grant.
type A2ANotEnabledError struct {
	ClientID string
	Grants   []string // the client's grants now
}

func (e *A2ANotEnabledError) Error() string {
	return fmt.Sprintf("client %q does not have the a2a grant", e.ClientID)
}

// MintA2A mints an application-to-application token for user through the
// client clientID, with the client's scopes (a portal client's limited to
// its owner's current entitlement, refused when that leaves none), for the
// CLI and the portal (trusted callers: no client secret or password). The
// client must have the a2a grant enabled (*A2ANotEnabledError otherwise);
// unlike the token endpoint it need not be first-party. via names the
// caller in the log line ("cli", "portal"). The token lasts
// tokens.a2a_ttl and is listed among the client's sessions.
func (s *Server) MintA2A(ctx context.Context, clientID, user, via string) (A2AToken, error) {
	c, err := s.st.GetClient(ctx, clientID)
	if err != nil {
		return A2AToken{}, fmt.Errorf("client %q: %w", clientID, err)
	}
	if !slices.Contains(c.Grants, config.GrantA2A) {
		return A2AToken{}, &A2ANotEnabledError{ClientID: c.ID, Grants: slices.Clone(c.Grants)}
	}
	u, err := s.st.GetUser(ctx, user)
	if err != nil {
		return A2AToken{}, fmt.Errorf("user %q: %w", user, err)
	}
	req := &tokenRequest{cfg: s.cfg(), grant: "a2a", client: c, now: s.now().UTC().Truncate(time.Second)}
	scope, err := s.clientScope(ctx, req)
	if err != nil {
		if e, ok := errors.AsType[*Error](err); ok {
			return A2AToken{}, fmt.Errorf("mint a2a token: %s", e.Description)
		}
		return A2AToken{}, fmt.Errorf("mint a2a token: %w", err)
	}
	resp, err := s.issueA2A(ctx, req, u, scope)
	if err != nil {
		if e, ok := errors.AsType[*Error](err); ok {
			return A2AToken{}, fmt.Errorf("mint a2a token: %s", e.Description)
		}
		return A2AToken{}, fmt.Errorf("mint a2a token: %w", err)
	}
	s.metrics.issued("a2a")
	s.log.InfoContext(ctx, "token issued", "grant", "a2a", "client_id", c.ID, "sub", user,
		"scope", resp.Scope, "sid", resp.sessionID, "via", via)
	return A2AToken{AccessToken: resp.AccessToken, Scope: resp.Scope, SessionID: resp.sessionID,
		ExpiresAt: req.now.Add(req.cfg.Tokens.A2ATTL.D())}, nil
}
