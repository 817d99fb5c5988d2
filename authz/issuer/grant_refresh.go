package issuer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/signing"
	"github.com/clearance-gw/clearance/authz/store"
)

// refreshGrant is RFC 6749 §6 with rotation: every refresh returns a new
// refresh token, and the old one and the access token issued with it stop
// working at once. Presenting a used refresh token revokes the session.
type refreshGrant struct{ s *Server }

func (refreshGrant) Public() bool     { return true }
func (refreshGrant) FirstParty() bool { return false }

func (g refreshGrant) Issue(ctx context.Context, req *tokenRequest) (*tokenResponse, error) {
	s := g.s
	presented := req.params.get("refresh_token")
	if presented == "" {
		return nil, ErrInvalidRequest.WithDescription("refresh_token is required")
	}
	hash := secret.HashSecret(presented)
	old, err := s.st.GetRefreshToken(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidGrant.WithDescription("unknown refresh token")
	}
	if err != nil {
		return nil, fmt.Errorf("get refresh token: %w", err)
	}
	sess, err := s.st.GetSession(ctx, old.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidGrant.WithDescription("unknown refresh token")
	}
	if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	if sess.ClientID != req.client.ID {
		return nil, ErrInvalidGrant.WithDescription("the refresh token was issued to another client")
	}
	// The user the session is for, unless it is the client's own
	// (client_credentials with a refresh token).
	var user store.User
	if sess.Subject != sess.ClientID {
		if user, err = s.grantUser(ctx, sess.Subject, sess.CreatedAt); err != nil {
			return nil, err
		}
	}
	// The session's scope, less any scope the client has lost since (for
	// a portal client: that its owner is no longer entitled to).
	current, limited, err := s.allowedScopes(ctx, req.cfg, req.client)
	if err != nil {
		return nil, err
	}
	allowed := slices.DeleteFunc(strings.Fields(sess.Scope), func(sc string) bool {
		return !slices.Contains(current, sc)
	})
	scope, err := grantScope(req, allowed, limited)
	if err != nil {
		return nil, err
	}

	rt, err := secret.NewToken()
	if err != nil {
		return nil, err
	}
	ttl := accessTTL(req.cfg, req.client)
	at := &accessToken{jti: newID(), clientID: req.client.ID, scope: scope, sessionID: sess.ID,
		issuedAt: req.now, expiresAt: req.now.Add(ttl), clientCreated: req.client.CreatedAt, userCreated: user.CreatedAt}
	next := store.RefreshToken{Hash: secret.HashSecret(rt), AccessJTI: at.jti, AccessExpiresAt: at.expiresAt,
		CreatedAt: req.now, ExpiresAt: req.now.Add(refreshTTL(req.cfg, req.client))}
	rotated, err := s.st.RotateRefresh(ctx, req.client.ID, hash, next, req.now)
	if reused, ok := errors.AsType[*store.RefreshReusedError](err); ok {
		s.revokedSession(ctx, reused.SessionID, sess.ExpiresAt)
		s.log.WarnContext(ctx, "refresh token reused: session revoked",
			"client_id", req.client.ID, "sid", reused.SessionID, "sub", sess.Subject)
		return nil, ErrInvalidGrant.WithDescription("the refresh token was already used; its session is revoked")
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrInvalidGrant.WithDescription("unknown refresh token")
	case errors.Is(err, store.ErrRevoked):
		return nil, ErrInvalidGrant.WithDescription("the session is revoked")
	case errors.Is(err, store.ErrExpired):
		return nil, ErrInvalidGrant.WithDescription("the refresh token has expired")
	case err != nil:
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	}
	// The store has revoked the access token issued with the old refresh
	// token: by the session's generation (one entry per session), or by
	// jti for a session whose tokens carry no generation.
	switch {
	case rotated.Generation > 0:
		s.revs.Add(store.Revocation{SessionID: rotated.ID, Generation: rotated.Generation,
			ExpiresAt: latest(old.AccessExpiresAt, req.now)})
	case old.AccessJTI != "":
		s.revs.Add(store.Revocation{JTI: old.AccessJTI, ExpiresAt: old.AccessExpiresAt})
	}
	at.subject, at.sessionGen = rotated.Subject, rotated.Generation
	signed, err := s.mint(req.cfg, at)
	if err != nil {
		return nil, err
	}
	return &tokenResponse{AccessToken: signed, ExpiresIn: seconds(ttl), RefreshToken: rt, Scope: scope,
		subject: rotated.Subject, sessionID: rotated.ID}, nil
}

// revokedSession tells the revocation set about a session the store has
// revoked. exp is when its tokens expire (the session's ExpiresAt, or a
// bound when unknown).
func (s *Server) revokedSession(ctx context.Context, sid string, exp time.Time) {
	if exp.IsZero() {
		if sess, err := s.st.GetSession(ctx, sid); err == nil {
			exp = sess.ExpiresAt
		} else {
			exp = s.now().Add(signing.MaxTokenLifetime(s.cfg()))
		}
	}
	s.revs.Add(store.Revocation{SessionID: sid, ExpiresAt: exp})
}
