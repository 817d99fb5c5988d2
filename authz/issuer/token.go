package issuer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/entitlement"
	"github.com/clearance-gw/clearance/authz/login"
	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// Grant issues tokens for one grant type (one file per grant).
type Grant interface {
	// Public reports whether a public client (no secret) may use it.
	Public() bool
	// FirstParty reports whether only first-party clients may use it.
	FirstParty() bool
	// Issue handles an authenticated request whose client may use the
	// grant. Failures are *Error values; anything else is a server error.
	Issue(ctx context.Context, req *tokenRequest) (*tokenResponse, error)
}

// tokenRequest is one token request after client authentication.
type tokenRequest struct {
	cfg    *config.Config
	grant  string
	client store.Client
	params params
	now    time.Time
	addr   netip.Addr // the client's address, for the login throttle
}

// tokenResponse is the RFC 6749 §5.1 body, plus what the log line names.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`

	subject   string
	sessionID string
	actor     string // the administrator of an admin-grant token
}

// serveToken is the token endpoint.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.writeError(ctx, w, "token request", ErrInvalidRequest.WithStatus(http.StatusMethodNotAllowed).
			WithDescription("the token endpoint accepts only POST"))
		return
	}
	cfg := s.cfg()
	if err := checkBodyFormat(r.Header.Get("Content-Type"), cfg.Tokens.BodyFormats); err != nil {
		s.writeError(ctx, w, "token request", err)
		return
	}
	p, err := readParams(w, r)
	if err != nil {
		s.writeError(ctx, w, "token request", err)
		return
	}
	gt := p.get("grant_type")
	g, known := s.grants[gt]
	client, authenticated, err := s.authenticate(ctx, r, p)
	if err != nil {
		s.writeError(ctx, w, "token request", err, "grant", grantLabel(gt, known))
		return
	}
	attrs := []any{"grant", grantLabel(gt, known), "client_id", client.ID}
	if err := s.admit(gt, g, known, client, authenticated); err != nil {
		s.writeError(ctx, w, "token request", err, attrs...)
		return
	}
	req := &tokenRequest{cfg: cfg, grant: gt, client: client, params: p, now: s.now().UTC().Truncate(time.Second), addr: s.clientIP(r)}
	resp, err := g.Issue(ctx, req)
	if err != nil {
		s.writeError(ctx, w, "token request", err, attrs...)
		return
	}
	resp.TokenType = "Bearer"
	s.metrics.issued(gt)
	// Attributes as values of their kind: none is boxed.
	line := make([]slog.Attr, 0, 10)
	line = append(line, slog.String("grant", grantLabel(gt, known)), slog.String("client_id", client.ID))
	if resp.actor != "" {
		// The administrator who acted, beside the user the token is for.
		line = append(line, slog.String("admin", resp.actor))
	}
	line = append(line, slog.String("sub", resp.subject), slog.String("scope", resp.Scope),
		slog.String("sid", resp.sessionID), slog.Int64("expires_in", resp.ExpiresIn),
		slog.Bool("refresh_token", resp.RefreshToken != ""), slog.String("via", "token_endpoint"))
	s.log.LogAttrs(ctx, slog.LevelInfo, "token issued", line...)
	buf := s.buffer()
	*buf = append(appendTokenResponse((*buf)[:0], resp), '\n')
	s.writeJSONLine(w, http.StatusOK, *buf)
	s.bufs.Put(buf)
}

// appendTokenResponse appends resp as encoding/json encodes a
// tokenResponse (fields in its order, refresh_token omitted when empty):
// reflection cost more than the rest of the answer's encoding.
func appendTokenResponse(b []byte, r *tokenResponse) []byte {
	b = append(b, `{"access_token":`...)
	b = appendJSONString(b, r.AccessToken)
	b = append(b, `,"token_type":`...)
	b = appendJSONString(b, r.TokenType)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, r.ExpiresIn, 10)
	if r.RefreshToken != "" {
		b = append(b, `,"refresh_token":`...)
		b = appendJSONString(b, r.RefreshToken)
	}
	b = append(b, `,"scope":`...)
	b = appendJSONString(b, r.Scope)
	return append(b, '}')
}

// grantLabel names the grant in logs: unknown values are not echoed.
func grantLabel(gt string, known bool) string {
	switch {
	case known:
		return gt
	case gt == "":
		return "none"
	}
	return "unknown"
}

// admit checks that the client may use the grant.
func (s *Server) admit(gt string, g Grant, known bool, c store.Client, authenticated bool) error {
	switch {
	case gt == "":
		return ErrInvalidRequest.WithDescription("grant_type is required")
	case !known:
		return ErrUnsupportedGrantType.WithDescription("grant type " + quoteParam(gt) + " is not supported")
	case !authenticated && !g.Public():
		return ErrUnauthorizedClient.WithDescription("a public client cannot use the " + gt + " grant")
	case !slices.Contains(c.Grants, gt):
		return ErrUnauthorizedClient.WithDescription("the " + gt + " grant is not enabled for this client")
	case g.FirstParty() && !c.FirstParty:
		return ErrUnauthorizedClient.WithDescription("the " + gt + " grant is for first-party clients only")
	}
	return nil
}

// errBadClient is the one answer for an unknown client and a wrong
// secret, so neither can be told from the other.
var errBadClient = ErrInvalidClient.WithDescription("unknown client or wrong client secret")

// authenticate finds the client of a request: HTTP Basic (RFC 6749
// §2.3.1, form-decoded, else raw) or client_id and client_secret in the
// body, never both. authenticated is false for a public client that sent
// only its id; the caller decides whether the grant allows that.
func (s *Server) authenticate(ctx context.Context, r *http.Request, p params) (c store.Client, authenticated bool, err error) {
	bodyID, bodySecret := p.get("client_id"), p.get("client_secret")
	var ids, secrets []string
	switch hdrs := r.Header.Values("Authorization"); {
	case len(hdrs) > 1:
		return c, false, ErrInvalidRequest.WithDescription("more than one Authorization header")
	case len(hdrs) == 1:
		creds, ok := parseBasic(hdrs[0])
		if !ok {
			return c, false, ErrInvalidClient.WithDescription("the Authorization header must carry HTTP Basic client credentials")
		}
		if bodySecret != "" {
			return c, false, ErrInvalidRequest.WithDescription("client credentials are given both in the Authorization header and in the body")
		}
		if bodyID != "" && bodyID != creds.id && bodyID != creds.rawID {
			return c, false, ErrInvalidRequest.WithDescription("client_id in the body differs from the Authorization header")
		}
		ids, secrets = []string{creds.id, creds.rawID}, []string{creds.secret, creds.rawSecret}
	case bodyID != "":
		ids, secrets = []string{bodyID}, []string{bodySecret}
	default:
		return c, false, ErrInvalidClient.WithDescription("client authentication is required")
	}

	c, err = s.st.GetClient(ctx, ids[0])
	if errors.Is(err, store.ErrNotFound) && len(ids) > 1 && ids[1] != ids[0] {
		c, err = s.st.GetClient(ctx, ids[1])
	}
	if errors.Is(err, store.ErrNotFound) {
		return c, false, errBadClient
	}
	if err != nil {
		return c, false, fmt.Errorf("get client: %w", err)
	}
	given := slices.ContainsFunc(secrets, func(s string) bool { return s != "" })
	if len(c.SecretHash) == 0 {
		if given {
			return c, false, errBadClient
		}
		return c, false, nil
	}
	if !given {
		return c, false, ErrInvalidClient.WithDescription("client secret is required")
	}
	if !verifySecret(c.SecretHash, secrets...) {
		return c, false, errBadClient
	}
	return c, true, nil
}

// resolveScope checks the requested scopes against allowed; none requested
// means all of allowed. It returns the granted scope string.
func resolveScope(req *tokenRequest, allowed []string) (string, error) {
	want, given := req.params.scope()
	if !given {
		return strings.Join(allowed, " "), nil
	}
	var out []string
	for _, sc := range want {
		if !slices.Contains(allowed, sc) {
			return "", ErrInvalidScope.WithStatus(invalidScopeStatus(req.cfg)).
				WithDescription("scope " + quoteParam(sc) + " is not allowed for this client")
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return strings.Join(out, " "), nil
}

// allowedScopes returns what the client may be issued now: its scopes,
// limited for a portal client to its owner's current entitlement (read
// from the store at each issuance). limited reports such a client.
func (s *Server) allowedScopes(ctx context.Context, cfg *config.Config, c store.Client) (allowed []string, limited bool, err error) {
	return entitlement.ClientScopes(ctx, cfg, s.st, c)
}

// clientScope resolves the requested scope against what the client may
// be issued now (allowedScopes). A scope asked for outside it is
// invalid_scope; none asked for means all of it, and a portal client left
// with nothing is refused with invalid_scope too.
func (s *Server) clientScope(ctx context.Context, req *tokenRequest) (string, error) {
	allowed, limited, err := s.allowedScopes(ctx, req.cfg, req.client)
	if err != nil {
		return "", err
	}
	return grantScope(req, allowed, limited)
}

// grantScope is resolveScope that refuses an empty result for a limited
// (portal) client: a token carrying none of its scopes.
func grantScope(req *tokenRequest, allowed []string, limited bool) (string, error) {
	scope, err := resolveScope(req, allowed)
	if err != nil {
		return "", err
	}
	if limited && scope == "" {
		return "", errNotEntitled(req.cfg)
	}
	return scope, nil
}

// errNotEntitled refuses a portal client none of whose scopes its owner
// is entitled to any more.
func errNotEntitled(cfg *config.Config) *Error {
	return ErrInvalidScope.WithStatus(invalidScopeStatus(cfg)).
		WithDescription("the client's owner is not entitled to any of its scopes")
}

func invalidScopeStatus(cfg *config.Config) int {
	if cfg.Tokens.InvalidScopeStatus == http.StatusUnauthorized {
		return http.StatusUnauthorized
	}
	return http.StatusBadRequest
}

// session describes a session to create together with its first token.
type session struct {
	id       string // generated when ""
	kind     string
	subject  string
	scope    string
	actor    string
	accessTT time.Duration
	refresh  bool          // issue a first refresh token
	lifetime time.Duration // session lifetime (refresh TTL); at least the access token's
	// userCreated is the CreatedAt of the user subject, as read for this
	// request; zero when the subject is the client itself.
	userCreated time.Time
}

// issueSession mints an access token in a new session and stores the
// session (and its first refresh token) in one transaction: on failure
// nothing is stored and no token is returned.
func (s *Server) issueSession(ctx context.Context, req *tokenRequest, ss session) (*tokenResponse, error) {
	if ss.id == "" {
		ss.id = newID()
	}
	at := &accessToken{clientID: req.client.ID, subject: ss.subject, scope: ss.scope, sessionID: ss.id,
		sessionGen: store.FirstGeneration, actor: ss.actor, issuedAt: req.now, expiresAt: req.now.Add(ss.accessTT),
		clientCreated: req.client.CreatedAt, userCreated: ss.userCreated}
	signed, err := s.mint(req.cfg, at)
	if err != nil {
		return nil, err
	}
	sess := store.Session{ID: ss.id, ClientID: req.client.ID, Subject: ss.subject, Scope: ss.scope, Kind: ss.kind,
		CreatedAt: req.now, ExpiresAt: latest(req.now.Add(ss.lifetime), at.expiresAt), Generation: at.sessionGen}
	resp := &tokenResponse{AccessToken: signed, ExpiresIn: seconds(ss.accessTT), Scope: ss.scope,
		subject: ss.subject, sessionID: ss.id, actor: ss.actor}
	var first *store.RefreshToken
	if ss.refresh {
		rt, err := secret.NewToken()
		if err != nil {
			return nil, err
		}
		first = &store.RefreshToken{Hash: secret.HashSecret(rt), AccessJTI: at.jti, AccessExpiresAt: at.expiresAt,
			CreatedAt: req.now, ExpiresAt: sess.ExpiresAt}
		resp.RefreshToken = rt
	}
	switch err := s.st.CreateSession(ctx, sess, first); {
	case errors.Is(err, store.ErrRevoked):
		return nil, ErrInvalidGrant.WithDescription("the grant was revoked")
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrInvalidClient.WithDescription("the client no longer exists")
	case err != nil:
		return nil, fmt.Errorf("create session: %w", err)
	}
	return resp, nil
}

// plainToken mints an access token outside any session, for the client
// itself (client_credentials).
func (s *Server) plainToken(req *tokenRequest, scope string, ttl time.Duration) (*tokenResponse, error) {
	subject := req.client.ID
	at := &accessToken{clientID: req.client.ID, subject: subject, scope: scope,
		issuedAt: req.now, expiresAt: req.now.Add(ttl), clientCreated: req.client.CreatedAt}
	signed, err := s.mint(req.cfg, at)
	if err != nil {
		return nil, err
	}
	return &tokenResponse{AccessToken: signed, ExpiresIn: seconds(ttl), Scope: scope, subject: subject}, nil
}

// grantUser returns the user an authorization code or a session was
// granted for (name, at since: the code's or session's creation), whose
// creation time the tokens minted from it carry. The user must still exist
// and be no younger than the grant, to the second (as the portal's login
// check: a grant made in the second the user was created is not refused): a
// code or session made concurrently with the user's deletion, and so not
// removed by it, must not serve a later user of the same name.
func (s *Server) grantUser(ctx context.Context, name string, since time.Time) (store.User, error) {
	u, err := s.st.GetUser(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, ErrInvalidGrant.WithDescription("the user of the grant no longer exists")
	case err != nil:
		return store.User{}, fmt.Errorf("get user: %w", err)
	case since.Before(u.CreatedAt.Truncate(time.Second)):
		return store.User{}, ErrInvalidGrant.WithDescription("the grant was made for an earlier user of that name")
	}
	return u, nil
}

// authenticateUser checks the username and password parameters with the
// gateway's one login (authz/login): attempts are counted per user and
// per client address before the password is hashed (the portal's sign-in
// counts against the same limits), so the password-taking grants cannot be
// used to guess passwords.
func (s *Server) authenticateUser(ctx context.Context, req *tokenRequest) (store.User, error) {
	p := req.params
	name, pw := p.get("username"), p.get("password")
	if name == "" || pw == "" {
		return store.User{}, ErrInvalidRequest.WithDescription("username and password are required")
	}
	u, err := s.userAuth.Login(ctx, name, pw, req.addr)
	if err != nil {
		return store.User{}, loginError(err)
	}
	return u, nil
}

// loginError maps a failed login to the token endpoint's answer: the one
// place the token endpoint reads authz/login's errors. A corrupt stored
// hash or a store failure is a server error (500, logged by writeError).
func loginError(err error) error {
	var te *login.ThrottledError
	switch {
	case errors.Is(err, login.ErrInvalidCredentials):
		return ErrInvalidGrant.WithDescription("wrong username or password")
	case errors.As(err, &te):
		e := ErrTooManyAttempts.WithDescription(fmt.Sprintf("too many login attempts: try again in %d seconds", te.Seconds()))
		e.RetryAfter = te.Seconds()
		return e
	case errors.Is(err, login.ErrBusy):
		e := ErrTemporarilyUnavailable.WithDescription("too many logins at once: try again in a moment")
		e.RetryAfter = login.BusyRetryAfter
		return e
	}
	return fmt.Errorf("check password: %w", err)
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
