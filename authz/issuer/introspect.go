package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/clearance-gw/clearance/authz/claims"
	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
)

// introspection is an RFC 7662 response.
type introspection struct {
	Active    bool              `json:"active"`
	Scope     string            `json:"scope,omitempty"`
	ClientID  string            `json:"client_id,omitempty"`
	Username  string            `json:"username,omitempty"`
	TokenType string            `json:"token_type,omitempty"`
	Exp       int64             `json:"exp,omitempty"`
	Iat       int64             `json:"iat,omitempty"`
	Sub       string            `json:"sub,omitempty"`
	Aud       []string          `json:"aud,omitempty"`
	Iss       string            `json:"iss,omitempty"`
	JTI       string            `json:"jti,omitempty"`
	SID       string            `json:"sid,omitempty"`
	Act       map[string]string `json:"act,omitempty"`
}

// serveIntrospect is RFC 7662 token introspection for authenticated
// (confidential) clients, of the access and refresh tokens issued to them;
// revoked, expired, unknown and other clients' tokens are {"active":false}.
func (s *Server) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, client, ok := s.postParams(w, r, "introspect request", false)
	if !ok {
		return
	}
	raw := p.get("token")
	now := s.now()
	tryAccess := func() (introspection, error) { return s.introspectAccess(ctx, raw, now) }
	tryRefresh := func() (introspection, error) { return s.introspectRefresh(ctx, raw, now) }
	order := []func() (introspection, error){tryAccess, tryRefresh}
	if p.get("token_type_hint") == "refresh_token" {
		order[0], order[1] = tryRefresh, tryAccess
	}
	var res introspection
	for _, try := range order {
		var err error
		if res, err = try(); err != nil {
			s.writeError(ctx, w, "introspect request", err, "client_id", client.ID)
			return
		}
		if res.Active {
			break
		}
	}
	if res.Active && res.ClientID != client.ID {
		// Any developer can register a client in the portal: what a token
		// carries (user, scopes, session) is told only to the client it
		// was issued to (RFC 7662 §2.2 lets the server answer inactive).
		s.log.InfoContext(ctx, "introspection of another client's token refused", "client_id", client.ID)
		res = introspection{}
	}
	body, _ := json.Marshal(res)
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) introspectAccess(ctx context.Context, raw string, now time.Time) (introspection, error) {
	tok, ok := s.ownToken(raw)
	if !ok {
		return introspection{}, nil
	}
	sid := claimString(tok, "sid")
	// The cutoffs matter here too: a new client registered under a
	// deleted client's id must not learn that its predecessor's tokens
	// are active (and its own are, at once).
	clientCreated, err1 := claims.Micros(tok, claims.ClientCreated)
	userCreated, err2 := claims.Micros(tok, claims.UserCreated)
	sessionGen, err3 := claims.Micros(tok, claims.SessionGen)
	if err1 != nil || err2 != nil || err3 != nil {
		return introspection{}, nil
	}
	if s.revs.RevokedToken(tok.JwtID(), sid, sessionGen, claimString(tok, "client_id"), tok.Subject(), tok.IssuedAt().Unix(),
		clientCreated, userCreated) {
		return introspection{}, nil
	}
	if sid != "" {
		sess, err := s.st.GetSession(ctx, sid)
		if errors.Is(err, store.ErrNotFound) {
			return introspection{}, nil
		}
		if err != nil {
			return introspection{}, fmt.Errorf("get session: %w", err)
		}
		if !sess.RevokedAt.IsZero() {
			return introspection{}, nil
		}
	}
	res := introspection{
		Active: true, Scope: claimString(tok, "scope"), ClientID: claimString(tok, "client_id"),
		TokenType: "Bearer", Exp: tok.Expiration().Unix(), Iat: tok.IssuedAt().Unix(), Sub: tok.Subject(),
		Aud: tok.Audience(), Iss: tok.Issuer(), JTI: tok.JwtID(), SID: sid,
	}
	if res.Sub != res.ClientID {
		res.Username = res.Sub
	}
	if act, ok := tok.Get("act"); ok {
		if m, ok := act.(map[string]any); ok {
			if sub, ok := m["sub"].(string); ok {
				res.Act = map[string]string{"sub": sub}
			}
		}
	}
	return res, nil
}

func (s *Server) introspectRefresh(ctx context.Context, raw string, now time.Time) (introspection, error) {
	rt, err := s.st.GetRefreshToken(ctx, secret.HashSecret(raw))
	if errors.Is(err, store.ErrNotFound) {
		return introspection{}, nil
	}
	if err != nil {
		return introspection{}, fmt.Errorf("get refresh token: %w", err)
	}
	if !rt.UsedAt.IsZero() || !now.Before(rt.ExpiresAt) {
		return introspection{}, nil
	}
	sess, err := s.st.GetSession(ctx, rt.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		return introspection{}, nil
	}
	if err != nil {
		return introspection{}, fmt.Errorf("get session: %w", err)
	}
	if !sess.Active(now) || s.revs.Revoked("", sess.ID) {
		return introspection{}, nil
	}
	res := introspection{
		Active: true, Scope: sess.Scope, ClientID: sess.ClientID, TokenType: "refresh_token",
		Exp: rt.ExpiresAt.Unix(), Iat: rt.CreatedAt.Unix(), Sub: sess.Subject, Iss: s.cfg().Issuer, SID: sess.ID,
	}
	if res.Sub != res.ClientID {
		res.Username = res.Sub
	}
	return res, nil
}
