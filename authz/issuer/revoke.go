package issuer

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
)

// serveRevoke is RFC 7009 token revocation: a refresh token revokes its
// session; an access token is revoked by its jti. Unknown tokens are
// answered 200 too.
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, client, ok := s.postParams(w, r, "revoke request", true)
	if !ok {
		return
	}
	raw := p.get("token")
	tryRefresh := func() (bool, error) { return s.revokeRefresh(ctx, client, raw) }
	tryAccess := func() (bool, error) { return s.revokeAccess(ctx, client, raw) }
	order := []func() (bool, error){tryAccess, tryRefresh}
	if p.get("token_type_hint") == "refresh_token" {
		order[0], order[1] = tryRefresh, tryAccess
	}
	for _, try := range order {
		done, err := try()
		if err != nil {
			s.writeError(ctx, w, "revoke request", err, "client_id", client.ID)
			return
		}
		if done {
			break
		}
	}
	writeJSON(w, http.StatusOK, []byte("{}"))
}

func (s *Server) revokeRefresh(ctx context.Context, client store.Client, raw string) (bool, error) {
	rt, err := s.st.GetRefreshToken(ctx, secret.HashSecret(raw))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get refresh token: %w", err)
	}
	sess, err := s.st.GetSession(ctx, rt.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("get session: %w", err)
	}
	if sess.ClientID != client.ID {
		return false, ErrUnauthorizedClient.WithDescription("the token was issued to another client")
	}
	if err := s.st.RevokeSession(ctx, sess.ID, s.now().UTC()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("revoke session: %w", err)
	}
	s.revs.Add(store.Revocation{SessionID: sess.ID, ExpiresAt: sess.ExpiresAt})
	s.log.InfoContext(ctx, "session revoked", "client_id", client.ID, "sid", sess.ID, "sub", sess.Subject, "via", "refresh_token")
	return true, nil
}

func (s *Server) revokeAccess(ctx context.Context, client store.Client, raw string) (bool, error) {
	tok, ok := s.ownToken(raw)
	if !ok {
		return false, nil
	}
	if claimString(tok, "client_id") != client.ID {
		return false, ErrUnauthorizedClient.WithDescription("the token was issued to another client")
	}
	if err := s.st.RevokeJTI(ctx, tok.JwtID(), tok.Expiration()); err != nil {
		return false, fmt.Errorf("revoke token: %w", err)
	}
	s.revs.Add(store.Revocation{JTI: tok.JwtID(), ExpiresAt: tok.Expiration()})
	s.log.InfoContext(ctx, "access token revoked", "client_id", client.ID, "jti", tok.JwtID(), "sub", tok.Subject())
	// An a2a or admin session holds this one token: revoke the session too,
	// so it leaves the client's session list.
	if sid := claimString(tok, "sid"); sid != "" {
		sess, err := s.st.GetSession(ctx, sid)
		if err == nil && (sess.Kind == store.KindA2A || sess.Kind == KindAdmin) && sess.RevokedAt.IsZero() {
			if err := s.st.RevokeSession(ctx, sid, s.now().UTC()); err != nil {
				return false, fmt.Errorf("revoke session: %w", err)
			}
			s.revs.Add(store.Revocation{SessionID: sid, ExpiresAt: sess.ExpiresAt})
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, fmt.Errorf("get session: %w", err)
		}
	}
	return true, nil
}
