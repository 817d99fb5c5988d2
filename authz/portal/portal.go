// Package portal is the browser-facing side of the gateway: the developer
// portal under /portal/ (a user's own API clients, their grants, redirect
// URIs, allowed origins, tokens and sessions) and the OAuth 2.0
// authorization endpoint (login and consent pages, RFC 6749 §4.1 and §4.2
// with PKCE, RFC 7636).
//
// Pages are rendered on the server with html/template from embedded files
// and work without JavaScript; one small embedded script saves grant
// selects as soon as they change. Logins are stateless signed cookies
// (authz/websession), so several gateway instances share them.
package portal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/entitlement"
	"github.com/clearance-gw/clearance/authz/login"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/websession"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/clientip"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Store is the part of the store the portal uses.
type Store interface {
	GetClient(ctx context.Context, id string) (store.Client, error)
	ListClients(ctx context.Context, owner string) ([]store.Client, error)
	CreateClient(ctx context.Context, c store.Client) error
	UpdateClient(ctx context.Context, c store.Client) error
	GetUser(ctx context.Context, name string) (store.User, error)
	GetSession(ctx context.Context, id string) (store.Session, error)
	ListSessions(ctx context.Context, clientID string, now time.Time) ([]store.Session, error)
	RevokeSession(ctx context.Context, id string, now time.Time) error
	CreateCode(ctx context.Context, c store.AuthCode) error
}

// Minter mints tokens for the portal and the implicit grant. The issuer
// implements it (the wiring adapts issuer.Server.MintA2A).
type Minter interface {
	// MintA2A mints an application-to-application token for user through
	// the client, listed among the client's sessions. A client without
	// the a2a grant enabled gets no token: the error is ErrA2ANotEnabled.
	MintA2A(ctx context.Context, clientID, user string) (token string, expiresAt time.Time, err error)
	// MintImplicit mints an access token (no refresh token) for the
	// implicit grant with the given space-delimited scope.
	MintImplicit(ctx context.Context, clientID, user, scope string) (token string, expiresIn int64, err error)
}

// Entitlements is the entitlement rule (authz/entitlement) under the
// config in force; the issuer implements it.
type Entitlements interface {
	// Entitled returns the scopes user may give their portal clients.
	Entitled(ctx context.Context, user string) ([]string, error)
	// ClientScopes returns the scopes c may be issued now; limited reports
	// a portal client (limited to its owner's entitlement).
	ClientScopes(ctx context.Context, c store.Client) (scopes []string, limited bool, err error)
}

// Revoker revokes in the store and in the in-memory revocation set, so the
// proxy refuses the tokens at once.
type Revoker interface {
	// RevokeSession revokes one session.
	RevokeSession(ctx context.Context, id string) error
	// DeleteClient deletes a client and revokes every token issued to it
	// or through it (store.Clients.DeleteClient); store.ErrNotFound if it
	// is gone already.
	DeleteClient(ctx context.Context, id string) error
}

// ErrA2ANotEnabled is the Minter's refusal of a client that does not have
// the a2a grant enabled: an a2a token is only ever made for a client that
// has it. "Create token" turns the grant on before it mints.
var ErrA2ANotEnabled = errors.New("the a2a grant is not enabled for this client")

// DefaultGrants are the grants a portal user may enable when
// Options.Grants is nil.
func DefaultGrants() []string {
	return []string{config.GrantClientCredentials, config.GrantAuthorizationCode, config.GrantRefreshToken, config.GrantImplicit,
		config.GrantA2A}
}

// DefaultCodeTTL is the life of an authorization code when Options.CodeTTL
// is zero.
const DefaultCodeTTL = 5 * time.Minute

// portalPath is where the portal lives (its pages are below it).
const portalPath = "/portal"

// maxBody bounds every form the portal accepts.
const maxBody = 64 << 10

// Options configure a Portal. Cookies is required.
type Options struct {
	Now      func() time.Time  // time.Now when nil
	Logger   *slog.Logger      // discarded when nil
	Cookies  *websession.Codec // session cookies and CSRF tokens
	UserAuth Authenticator     // checks sign-ins; authz/login with its defaults when nil
	Minter   Minter            // a2a tokens and the implicit grant; without it both are off
	Revoker  Revoker           // revokes sessions and deletes clients, everywhere at once; required
	Grants   []string          // grants a portal user may enable; DefaultGrants() when nil
	// Entitlements says which scopes a user may give their portal clients
	// and which a client may be issued; when nil, no one is entitled to any
	// scope (portal clients get none) and operator clients are not limited.
	Entitlements Entitlements
	// AuthorizePath is the authorization endpoint (config endpoints.authorize),
	// "/authorize" when empty.
	AuthorizePath string
	Issuer        string        // the issuer URL, shown on pages
	CodeTTL       time.Duration // life of an authorization code; DefaultCodeTTL when zero
	// Usage reports a client's plan and usage for its page; nil shows
	// none.
	Usage UsageReporter
	// ClientAddr is the client address of a request, for the login
	// throttle (clientip.Resolver.Addr, which knows the trusted proxies);
	// the connection's peer when nil.
	ClientAddr func(r *http.Request) netip.Addr
}

// Authenticator checks a user's password for a client address
// (authz/login.Authenticator implements it). Its failures are the
// authz/login error values.
type Authenticator interface {
	Login(ctx context.Context, user, password string, addr netip.Addr) (store.User, error)
}

// Portal serves the developer portal and the authorization endpoint.
type Portal struct {
	st       Store
	now      func() time.Time
	log      *slog.Logger
	cookies  *websession.Codec
	userAuth Authenticator
	minter   Minter
	revoker  Revoker
	grants   []string
	ents     Entitlements
	usage    UsageReporter
	authPath string
	issuer   string
	codeTTL  time.Duration
	addr     func(r *http.Request) netip.Addr

	pages  map[string]*template.Template
	assets map[string]asset
	mux    *http.ServeMux
}

type asset struct {
	body  []byte
	ctype string
	url   string // with a content hash for caching
}

// Route is one handler to mount on the public listener.
type Route struct {
	Name    string
	Pattern string
	Handler http.Handler
}

// New returns a Portal.
func New(st Store, opts Options) (*Portal, error) {
	if st == nil || opts.Cookies == nil || opts.Revoker == nil {
		return nil, errors.New("portal: store, cookie codec and revoker are required")
	}
	p := &Portal{
		st: st, now: opts.Now, log: opts.Logger, cookies: opts.Cookies, userAuth: opts.UserAuth,
		minter: opts.Minter, revoker: opts.Revoker, grants: opts.Grants, ents: opts.Entitlements, usage: opts.Usage,
		authPath: opts.AuthorizePath, issuer: opts.Issuer, codeTTL: opts.CodeTTL, addr: opts.ClientAddr,
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("component", "portal")
	if p.userAuth == nil {
		a, err := login.New(st, login.Options{Now: p.now})
		if err != nil {
			return nil, err
		}
		p.userAuth = a
	}
	if p.grants == nil {
		p.grants = DefaultGrants()
	}
	if p.ents == nil {
		p.ents = noEntitlements{st: st, cfg: &config.Config{}}
	}
	p.grants = slices.Clone(p.grants)
	for _, g := range p.grants {
		if !config.KnownGrant(g) {
			return nil, fmt.Errorf("portal: unknown grant %q", g)
		}
		if config.FirstPartyGrant(g) {
			return nil, fmt.Errorf("portal: grant %q is first-party only and cannot be enabled in the portal", g)
		}
	}
	if p.authPath == "" {
		p.authPath = "/authorize"
	}
	if !strings.HasPrefix(p.authPath, "/") || strings.HasPrefix(p.authPath, "/portal/") {
		return nil, fmt.Errorf("portal: authorize path %q must start with / and lie outside /portal/", p.authPath)
	}
	// The login is needed by the portal and by the authorization endpoint
	// only: its cookies go to those two paths, never to API routes.
	// (A cookie path of "/x" covers "/x/" too.)
	cookies, err := p.cookies.WithPaths(portalPath, strings.TrimSuffix(p.authPath, "/"))
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	p.cookies = cookies
	if p.codeTTL <= 0 {
		p.codeTTL = DefaultCodeTTL
	}
	if p.addr == nil {
		p.addr = clientip.Peer
	}
	if err := p.loadAssets(); err != nil {
		return nil, err
	}
	if err := p.loadTemplates(); err != nil {
		return nil, err
	}
	p.mux = p.routes()
	return p, nil
}

// Routes returns the handlers to mount: the portal (a /portal/ prefix) and
// the authorization endpoint (an exact path).
func (p *Portal) Routes() []Route {
	return []Route{
		{Name: "portal", Pattern: "/portal/", Handler: p.mux},
		{Name: "portal-root", Pattern: "/portal", Handler: http.RedirectHandler("/portal/", http.StatusMovedPermanently)},
		{Name: "authorize", Pattern: p.authPath, Handler: http.HandlerFunc(p.serveAuthorize)},
	}
}

// Handler returns one handler serving every route (for tests and tools).
func (p *Portal) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range p.Routes() {
		mux.Handle(r.Pattern, r.Handler)
	}
	return mux
}

func (p *Portal) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /portal/{$}", p.serveList)
	m.HandleFunc("GET /portal/login", p.serveLoginForm)
	m.HandleFunc("POST /portal/login", p.serveLogin)
	m.HandleFunc("POST /portal/logout", p.serveLogout)
	m.HandleFunc("POST /portal/clients", p.withUser(p.serveCreate))
	m.HandleFunc("GET /portal/clients/{id}", p.serveClient)
	m.HandleFunc("POST /portal/clients/{id}/grants", p.withClient(p.serveGrants))
	m.HandleFunc("POST /portal/clients/{id}/uris", p.withClient(p.serveURIs))
	m.HandleFunc("POST /portal/clients/{id}/scopes", p.withClient(p.serveScopes))
	m.HandleFunc("POST /portal/clients/{id}/delete", p.withClient(p.serveDelete))
	m.HandleFunc("POST /portal/clients/{id}/tokens", p.withClient(p.serveCreateToken))
	m.HandleFunc("POST /portal/clients/{id}/sessions/{sid}/revoke", p.withClient(p.serveRevoke))
	m.HandleFunc("GET /portal/assets/{file}", p.serveAsset)
	m.HandleFunc("/portal/", func(w http.ResponseWriter, r *http.Request) {
		p.notFound(w, r, p.currentUser(r))
	})
	return m
}

func (p *Portal) loadAssets() error {
	p.assets = map[string]asset{}
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
	return fs.WalkDir(assetFS, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assetFS.ReadFile(path)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path, "assets/")
		ext := name[strings.LastIndexByte(name, '.'):]
		sum := sha256.Sum256(body)
		p.assets[name] = asset{body: body, ctype: types[ext],
			url: "/portal/assets/" + name + "?v=" + hex.EncodeToString(sum[:6])}
		return nil
	})
}

func (p *Portal) loadTemplates() error {
	funcs := template.FuncMap{
		"path":  url.PathEscape,
		"time":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"join":  strings.Join,
		"lines": func(s []string) string { return strings.Join(s, "\n") },
		"asset": func(name string) string { return p.assets[name].url },
		"short": func(s string) string {
			if len(s) > 10 {
				return s[:10] + "…"
			}
			return s
		},
	}
	pages, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	p.pages = map[string]*template.Template{}
	for _, page := range pages {
		name := strings.TrimSuffix(strings.TrimPrefix(page, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", page)
		if err != nil {
			return fmt.Errorf("portal: parse %s: %w", page, err)
		}
		p.pages[name] = t
	}
	return nil
}

// view is what every page template receives.
type view struct {
	Title   string
	User    string
	CSRF    string
	Script  bool // include the grant-select script
	Product string
	Page    any
}

// cspFor returns the Content-Security-Policy of a page; extraForm lists
// where its forms may lead besides the gateway (the consent page's
// redirect URI).
func cspFor(extraForm string) string {
	fa := "'self'"
	if extraForm != "" {
		fa += " " + extraForm
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; form-action " + fa + "; frame-ancestors 'none'; base-uri 'none'"
}

func setSecurityHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// render writes a page: every page is no-store (pages may carry secrets,
// CSRF tokens and the authorize request).
func (p *Portal) render(w http.ResponseWriter, r *http.Request, status int, page string, v view, csp string) {
	t, ok := p.pages[page]
	if !ok {
		p.log.ErrorContext(r.Context(), "no such page template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if v.CSRF == "" {
		tok, err := p.cookies.CSRF(w, r)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		v.CSRF = tok
	}
	v.Product = "Clearance developer portal"
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		p.log.ErrorContext(r.Context(), "render page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if csp == "" {
		csp = cspFor("")
	}
	setSecurityHeaders(w.Header(), csp)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type messagePage struct {
	Heading string
	Message string
	Back    string
}

func (p *Portal) message(w http.ResponseWriter, r *http.Request, status int, user, heading, msg string) {
	back := "/portal/"
	if user == "" {
		back = "/portal/login"
	}
	p.render(w, r, status, "message", view{Title: heading, User: user, Page: messagePage{Heading: heading, Message: msg, Back: back}}, "")
}

func (p *Portal) notFound(w http.ResponseWriter, r *http.Request, user string) {
	p.message(w, r, http.StatusNotFound, user, "Not found", "There is nothing here, or it is not yours.")
}

func (p *Portal) forbidden(w http.ResponseWriter, r *http.Request, user string) {
	p.message(w, r, http.StatusForbidden, user, "Form expired",
		"This form was not accepted: it is out of date or came from another site. Go back, reload the page and try again.")
}

func (p *Portal) serverError(w http.ResponseWriter, r *http.Request, err error) {
	p.log.ErrorContext(r.Context(), "portal request failed", "path", r.URL.Path, "err", err)
	if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Retry-After", "1")
		if wantsJSON(r) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
			return
		}
		p.message(w, r, http.StatusServiceUnavailable, "", "Temporarily unavailable",
			"The gateway cannot reach its database right now. Please try again in a moment.")
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
		return
	}
	p.message(w, r, http.StatusInternalServerError, "", "Something went wrong", "The request could not be completed. Please try again.")
}

func (p *Portal) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := p.assets[r.PathValue("file")]
	if !ok {
		p.notFound(w, r, p.currentUser(r))
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(a.body)
}

// currentUser is the signed-in user named on a page, "" when there is none
// (or the store cannot tell).
func (p *Portal) currentUser(r *http.Request) string {
	u, _, _ := p.signedIn(r)
	return u
}

// signedIn returns the user of r's login cookie while that user exists.
// Logins are stateless cookies: without this check a deleted user's cookie
// would keep working until it expires, and one of an earlier user of the
// same name would sign in the new one. The cookie names the creation time
// of the user who signed in, and signs in only that user (the store gives a
// later user of the name a later creation time, to the microsecond); a
// cookie that does not name it (set before it did) signs nobody in when
// older, to the second, than the user.
func (p *Portal) signedIn(r *http.Request) (string, bool, error) {
	s, ok := p.cookies.Session(r)
	if !ok {
		return "", false, nil
	}
	u, err := p.st.GetUser(r.Context(), s.User)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if !s.UserCreated.IsZero() && !s.UserCreated.Equal(u.CreatedAt) ||
		s.UserCreated.IsZero() && s.IssuedAt.Before(u.CreatedAt.Truncate(time.Second)) {
		return "", false, nil
	}
	return s.User, true, nil
}

// noEntitlements is the rule under a config that entitles no one: portal
// clients get no scope, operator clients keep theirs.
type noEntitlements struct {
	st  entitlement.Users
	cfg *config.Config
}

func (n noEntitlements) Entitled(context.Context, string) ([]string, error) {
	return entitlement.Of(n.cfg, store.User{}), nil
}

func (n noEntitlements) ClientScopes(ctx context.Context, c store.Client) ([]string, bool, error) {
	return entitlement.ClientScopes(ctx, n.cfg, n.st, c)
}
