package issuer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/clearance-gw/clearance/authz"
	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/b64canon"
)

// Fixed paths of the discovery, revocation and introspection endpoints.
const (
	JWKSPath       = "/.well-known/jwks.json"
	MetadataPath   = "/.well-known/oauth-authorization-server"
	RevokePath     = "/revoke"
	IntrospectPath = "/introspect"
)

// serveJWKS publishes the public signing keys.
func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if !getOnly(w, r) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Short: a rotated key signs at once, and verifiers refetch on an
	// unknown kid anyway.
	h.Set("Cache-Control", "public, max-age=60")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(s.keys.JWKS())
	}
}

// metadata is RFC 8414 authorization server metadata.
type metadata struct {
	Issuer                           string   `json:"issuer"`
	AuthorizationEndpoint            string   `json:"authorization_endpoint"`
	TokenEndpoint                    string   `json:"token_endpoint"`
	JWKSURI                          string   `json:"jwks_uri"`
	RevocationEndpoint               string   `json:"revocation_endpoint"`
	IntrospectionEndpoint            string   `json:"introspection_endpoint"`
	ScopesSupported                  []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	GrantTypesSupported              []string `json:"grant_types_supported"`
	TokenEndpointAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported    []string `json:"code_challenge_methods_supported"`
}

func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	s.writeMetadata(w, r, s.cfg())
}

// writeMetadata serves the metadata of cfg.
func (s *Server) writeMetadata(w http.ResponseWriter, r *http.Request, cfg *config.Config) {
	if !getOnly(w, r) {
		return
	}
	base := strings.TrimSuffix(cfg.Issuer, "/")
	authMethods := []string{"client_secret_basic", "client_secret_post", "none"}
	body, err := json.Marshal(metadata{
		Issuer:                           cfg.Issuer,
		AuthorizationEndpoint:            base + cfg.Endpoints.Authorize,
		TokenEndpoint:                    base + cfg.Endpoints.Token,
		JWKSURI:                          base + JWKSPath,
		RevocationEndpoint:               base + RevokePath,
		IntrospectionEndpoint:            base + IntrospectPath,
		ScopesSupported:                  cfg.Scopes,
		ResponseTypesSupported:           []string{"code", "token"},
		GrantTypesSupported:              append(s.GrantTypes(), "implicit"),
		TokenEndpointAuthMethods:         authMethods,
		RevocationEndpointAuthMethods:    authMethods,
		IntrospectionEndpointAuthMethods: authMethods[:2],
		CodeChallengeMethodsSupported:    []string{"S256"},
	})
	if err != nil {
		s.writeError(r.Context(), w, "metadata request", err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
}

// getOnly answers anything but GET and HEAD with a JSON 405.
func getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeJSON(w, http.StatusMethodNotAllowed, []byte(`{"error":"invalid_request","error_description":"use GET"}`))
	return false
}

// postParams checks the method and reads the parameters of a revoke or
// introspect request, authenticating the client. publicOK lets a public
// client identify itself by client_id alone.
func (s *Server) postParams(w http.ResponseWriter, r *http.Request, endpoint string, publicOK bool) (params, store.Client, bool) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.writeError(ctx, w, endpoint, ErrInvalidRequest.WithStatus(http.StatusMethodNotAllowed).
			WithDescription("use POST"))
		return params{}, store.Client{}, false
	}
	p, err := readParams(w, r)
	if err == nil {
		var c store.Client
		var authenticated bool
		c, authenticated, err = s.authenticate(ctx, r, p)
		if err == nil && !authenticated && !publicOK {
			err = ErrInvalidClient.WithDescription("client authentication is required")
		}
		if err == nil {
			if p.get("token") == "" {
				err = ErrInvalidRequest.WithDescription("token is required")
			} else {
				return p, c, true
			}
		}
	}
	s.writeError(ctx, w, endpoint, err)
	return params{}, store.Client{}, false
}

// ownToken parses and validates an access token this gateway minted: our
// keys, our issuer, not expired at now, spelled as minted (canonical
// base64url segments, as the gateway's verifier requires: jwx alone would
// take stray padding bits). ok is false for anything else.
func (s *Server) ownToken(raw string) (jwt.Token, bool) {
	if strings.Count(raw, ".") != 2 {
		return nil, false
	}
	for seg := range strings.SplitSeq(raw, ".") {
		if _, err := b64canon.Decode(base64.RawURLEncoding, seg); err != nil {
			return nil, false
		}
	}
	tok, err := jwt.ParseString(raw,
		jwt.WithKeySet(s.keys.PublicSet()),
		jwt.WithClock(jwt.ClockFunc(s.now)),
		jwt.WithIssuer(s.cfg().Issuer),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.JwtIDKey),
	)
	return tok, err == nil
}

func claimString(tok jwt.Token, name string) string {
	v, _ := tok.Get(name)
	s, _ := v.(string)
	return s
}

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
	clientCreated, err1 := authz.MicrosClaim(tok, authz.ClaimClientCreated)
	userCreated, err2 := authz.MicrosClaim(tok, authz.ClaimUserCreated)
	sessionGen, err3 := authz.MicrosClaim(tok, authz.ClaimSessionGen)
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
