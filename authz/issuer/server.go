// Package issuer is the gateway's OAuth 2.0 authorization server: the token
// endpoint and its grants, token revocation (RFC 7009) and introspection
// (RFC 7662), discovery (RFC 8414, JWKS). It signs with authz/signing's
// keyring.
//
// Each grant is one file implementing Grant, listed in one table; errors are
// RFC 6749 values written by one writer.
package issuer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clearance-gw/clearance/authz/login"
	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/signing"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/clientip"
)

// Store is the part of the store the issuer uses.
type Store interface {
	GetClient(ctx context.Context, id string) (store.Client, error)
	GetUser(ctx context.Context, name string) (store.User, error)
	CreateSession(ctx context.Context, s store.Session, first *store.RefreshToken) error
	GetSession(ctx context.Context, id string) (store.Session, error)
	GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error)
	RotateRefresh(ctx context.Context, clientID string, oldHash []byte, next store.RefreshToken, now time.Time) (store.Session, error)
	ConsumeCode(ctx context.Context, clientID string, hash []byte, now time.Time) (store.AuthCode, error)
	RevokeSession(ctx context.Context, id string, now time.Time) error
	RevokeJTI(ctx context.Context, jti string, exp time.Time) error
	CountActiveSessions(ctx context.Context, now time.Time) (int64, error)
}

// Revocations is the in-memory revocation set the guard reads
// (authz/revocation.Set): the issuer adds what it revokes so the proxy
// refuses it at once, and consults it when introspecting.
type Revocations interface {
	Add(r store.Revocation)
	Revoked(jti, sessionID string) bool
	// RevokedToken also applies the cutoffs of deleted clients and users
	// (see revocation.Set).
	RevokedToken(jti, sessionID string, sessionGen int64, clientID, subject string, issuedAt, clientCreated, userCreated int64) bool
}

// Options are the optional parts of a Server.
type Options struct {
	Now         func() time.Time // time.Now when nil
	Logger      *slog.Logger     // discarded when nil
	Metrics     *Metrics         // none when nil
	Revocations Revocations      // required for revocations to reach the proxy at once
	// UserAuth checks the passwords of the password, a2a and admin
	// grants. The wiring passes the portal's, so both count attempts
	// against the same user and address; a private one (authz/login
	// defaults) when nil.
	UserAuth Authenticator
	// ClientAddr is the client address of a request, for the login
	// throttle (clientip.Resolver.Addr); the connection's peer when nil.
	ClientAddr func(r *http.Request) netip.Addr
}

// Authenticator checks a user's password for a client address
// (authz/login.Authenticator implements it). Its failures are the
// authz/login error values.
type Authenticator interface {
	Login(ctx context.Context, user, password string, addr netip.Addr) (store.User, error)
}

// Server is the authorization server.
type Server struct {
	config   atomic.Pointer[config.Config]
	st       Store
	keys     *signing.Keyring
	now      func() time.Time
	log      *slog.Logger
	metrics  *Metrics
	revs     Revocations
	userAuth Authenticator
	clientIP func(r *http.Request) netip.Addr
	grants   map[string]Grant
	// bufs are the buffers mint encodes claims into and the token
	// endpoint its answers (*[]byte).
	bufs sync.Pool
	// jsonHeader are the header values of a JSON answer of the token
	// endpoint, shared by every answer (net/http only reads them).
	jsonHeader struct{ contentType, noStore, noCache []string }
}

// New returns a Server issuing tokens for cfg, signed by keys.
func New(cfg *config.Config, st Store, keys *signing.Keyring, opts Options) (*Server, error) {
	if cfg == nil || st == nil || keys == nil {
		return nil, errors.New("issuer: config, store and keyring are required")
	}
	s := &Server{st: st, keys: keys, now: opts.Now, log: opts.Logger, metrics: opts.Metrics, revs: opts.Revocations,
		userAuth: opts.UserAuth, clientIP: opts.ClientAddr}
	if s.now == nil {
		s.now = time.Now
	}
	if s.userAuth == nil {
		a, err := login.New(st, login.Options{Now: s.now})
		if err != nil {
			return nil, err
		}
		s.userAuth = a
	}
	if s.clientIP == nil {
		s.clientIP = clientip.Peer
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "issuer")
	if s.revs == nil {
		s.revs = noRevocations{}
	}
	s.grants = map[string]Grant{
		"client_credentials": clientCredentials{s},
		"password":           passwordGrant{s},
		"refresh_token":      refreshGrant{s},
		"authorization_code": codeGrant{s},
		"a2a":                a2aGrant{s},
		"admin":              adminGrant{s},
	}
	s.jsonHeader.contentType = []string{"application/json"}
	s.jsonHeader.noStore = []string{"no-store"}
	s.jsonHeader.noCache = []string{"no-cache"}
	s.config.Store(cfg)
	return s, nil
}

// Update swaps in a reloaded config; requests in flight keep the old one.
func (s *Server) Update(cfg *config.Config) { s.config.Store(cfg) }

// MaxTokenLifetime is MaxTokenLifetime of the config in force: how long the
// revocation of every token of a deleted client or user must be kept.
func (s *Server) MaxTokenLifetime() time.Duration { return signing.MaxTokenLifetime(s.cfg()) }

func (s *Server) cfg() *config.Config { return s.config.Load() }

// GrantTypes lists the grants the token endpoint knows, sorted.
func (s *Server) GrantTypes() []string {
	out := make([]string, 0, len(s.grants))
	for g := range s.grants {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// Route is one endpoint of the authorization server, at an exact path.
type Route struct {
	Name    string
	Pattern string
	Handler http.Handler
}

// Routes returns the endpoints to mount on the public listener for the
// config in force; the metadata follows Update.
func (s *Server) Routes() []Route {
	return s.routes(s.cfg().Endpoints.Token, http.HandlerFunc(s.serveMetadata))
}

// RoutesFor returns the endpoints to mount for cfg, a config about to be
// put in force with Update: the token endpoint at cfg's path, and the
// metadata (RFC 8414) describing cfg. Mounted together with the routes of
// cfg, the metadata never names a path that is not served.
func (s *Server) RoutesFor(cfg *config.Config) []Route {
	return s.routes(cfg.Endpoints.Token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeMetadata(w, r, cfg)
	}))
}

func (s *Server) routes(tokenPath string, metadata http.Handler) []Route {
	return []Route{
		{Name: "token", Pattern: tokenPath, Handler: http.HandlerFunc(s.serveToken)},
		{Name: "jwks", Pattern: JWKSPath, Handler: http.HandlerFunc(s.serveJWKS)},
		{Name: "metadata", Pattern: MetadataPath, Handler: metadata},
		{Name: "revoke", Pattern: RevokePath, Handler: http.HandlerFunc(s.serveRevoke)},
		{Name: "introspect", Pattern: IntrospectPath, Handler: http.HandlerFunc(s.serveIntrospect)},
	}
}

// Handler returns a handler serving every route (for tests and tools).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.Routes() {
		mux.Handle(r.Pattern, r.Handler)
	}
	return mux
}

// Run updates the active-sessions gauge every interval until ctx is done.
func (s *Server) Run(ctx context.Context, interval time.Duration) {
	if s.metrics == nil {
		return
	}
	if interval <= 0 {
		interval = 15 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.countSessions(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) countSessions(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := s.st.CountActiveSessions(ctx, s.now())
	if err != nil {
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "count active sessions", "error", err)
		}
		return
	}
	s.metrics.sessions.Set(float64(n))
}

type noRevocations struct{}

func (noRevocations) Add(store.Revocation)     {}
func (noRevocations) Revoked(_, _ string) bool { return false }

func (noRevocations) RevokedToken(_, _ string, _ int64, _, _ string, _, _, _ int64) bool {
	return false
}

// newID returns 128 random bits, base64url: jti and session ids. A
// session id is typed as a command's argument, so none begins with "-"
// (it would read as a flag) or "_": the first character is a letter or a
// digit, which leaves 126 random bits.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[0] %= 62 << 2 // the first character encodes b[0]>>2: below 62 is [A-Za-z0-9]
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// accessTTL is the lifetime of the client's access tokens.
func accessTTL(cfg *config.Config, c store.Client) time.Duration {
	if c.AccessTTL > 0 {
		return c.AccessTTL
	}
	return cfg.Tokens.AccessTTL.D()
}

// refreshTTL is the lifetime of the client's refresh tokens.
func refreshTTL(cfg *config.Config, c store.Client) time.Duration {
	if c.RefreshTTL > 0 {
		return c.RefreshTTL
	}
	return cfg.Tokens.RefreshTTL.D()
}

// accessToken is what mint needs to know.
type accessToken struct {
	jti       string // generated when ""
	clientID  string
	subject   string
	scope     string
	sessionID string
	actor     string // act.sub, admin grant
	issuedAt  time.Time
	expiresAt time.Time
	// clientCreated is the CreatedAt of the client as read for this
	// request, userCreated that of the user the token is for (zero when
	// the subject is the client itself). They become the client_created
	// and user_created claims, which tell a deleted client or user from a
	// later one of the same name to the microsecond (see
	// revocation.Set.RevokedToken). A token minted concurrently with the
	// deletion (the client or user was read, then the deletion committed,
	// then the token is signed here) carries the deleted incarnation's
	// creation time, which the deletion's cutoff covers: it is refused.
	clientCreated time.Time
	userCreated   time.Time
	// sessionGen is the session's generation the token is minted in (the
	// "sgen" claim); 0 for none.
	sessionGen int64
}

// mint signs an access token as SPEC §3 shapes it.
func (s *Server) mint(cfg *config.Config, a *accessToken) (string, error) {
	if a.jti == "" {
		a.jti = newID()
	}
	buf := s.buffer()
	*buf = appendClaims((*buf)[:0], cfg, a)
	signed, err := s.keys.SignClaims(*buf)
	s.bufs.Put(buf)
	if err != nil {
		return "", err
	}
	return string(signed), nil
}

// buffer returns a buffer of s.bufs; put it back when done.
func (s *Server) buffer() *[]byte {
	if buf, _ := s.bufs.Get().(*[]byte); buf != nil {
		return buf
	}
	return new([]byte)
}

// writeJSONLine is writeJSON for a body that already ends in a newline,
// with the header values made once.
func (s *Server) writeJSONLine(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = s.jsonHeader.contentType
	h["Cache-Control"] = s.jsonHeader.noStore
	h["Pragma"] = s.jsonHeader.noCache
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// verifySecret reports whether one of the candidate secrets hashes to hash,
// in constant time per candidate.
func verifySecret(hash []byte, candidates ...string) bool {
	ok := false
	for i, c := range candidates {
		if c == "" || (i > 0 && c == candidates[i-1]) {
			continue
		}
		if secret.EqualHash(hash, secret.HashSecret(c)) {
			ok = true
		}
	}
	return ok
}
