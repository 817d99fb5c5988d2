// Package websession keeps browser logins for the developer portal and the
// /authorize pages: stateless signed cookies (HMAC-SHA256) that every
// gateway instance sharing the key accepts, CSRF tokens bound to the
// session, one-time sealed flash values, and a login throttle.
//
// A session cookie is not stored anywhere: logging out deletes it from the
// browser, and a copied cookie stays valid until it expires (TTL, 12 h by
// default). Keep the TTL short where that matters.
//
// No cookie is ever set with Path=/: the browser would send it to every
// route of the gateway and so to every upstream, which could then act as
// the user. The session and pre-login CSRF cookies are set once per path
// of the codec (WithPaths: the portal and the authorization endpoint), and
// a flash only on a path under one of them.
package websession

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/internal/b64canon"
)

// Names of the cookies, the CSRF form field and the CSRF request header.
const (
	CookieName     = "clearance_session"
	AnonCookieName = "clearance_csrf" // pre-login CSRF binding (login form)
	FlashCookie    = "clearance_flash"
	CSRFField      = "csrf_token"
	CSRFHeader     = "X-CSRF-Token"
)

// DefaultPath is where the session and CSRF cookies are sent when no
// other paths are given (WithPaths): the developer portal.
const DefaultPath = "/portal"

// DefaultTTL is the lifetime of a login when Options.TTL is zero.
const DefaultTTL = 12 * time.Hour

// MinKeyLen is the shortest key New accepts.
const MinKeyLen = 32

// maxCookieLen bounds what is parsed from a cookie.
const maxCookieLen = 4096

// Options configure a Codec.
type Options struct {
	TTL    time.Duration    // lifetime of a login; DefaultTTL when zero
	Secure bool             // set the Secure attribute (issuer is https)
	Now    func() time.Time // time.Now when nil
}

// Codec signs and reads session cookies. It holds no mutable state and is
// safe for concurrent use.
type Codec struct {
	sessionKey []byte
	csrfKey    []byte
	anonKey    []byte
	flashKey   []byte
	ttl        time.Duration
	secure     bool
	now        func() time.Time
	paths      []string // cookie paths of the session and CSRF cookies
}

// Session is a verified login.
type Session struct {
	ID        string // random, names this login (CSRF tokens are bound to it)
	User      string
	IssuedAt  time.Time // the login, to the second (ExpiresAt less the TTL)
	ExpiresAt time.Time
	// UserCreated is the creation time (to the microsecond) of the user
	// who signed in, as LoginUser was given it: it tells that user from a
	// later one of the same name exactly. Zero when not given (Login, and
	// cookies set before it existed).
	UserCreated time.Time
}

// New returns a Codec keyed by key (at least 32 random bytes; every
// instance that must accept the same logins uses the same key).
func New(key []byte, opts Options) (*Codec, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("websession: key is %d bytes, want at least %d", len(key), MinKeyLen)
	}
	c := &Codec{
		sessionKey: derive(key, "clearance session v1"),
		csrfKey:    derive(key, "clearance csrf v1"),
		anonKey:    derive(key, "clearance anonymous csrf v1"),
		flashKey:   derive(key, "clearance flash v1"),
		ttl:        opts.TTL,
		secure:     opts.Secure,
		now:        opts.Now,
		paths:      []string{DefaultPath},
	}
	if c.ttl <= 0 {
		c.ttl = DefaultTTL
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// WithPaths returns a copy of c that sets the session and pre-login CSRF
// cookies on each of paths (one cookie per path, same value) and deletes
// them there on logout. A path must start with "/", must not be "/" and
// must not end in "/" (so "/portal" covers "/portal" and "/portal/...").
func (c *Codec) WithPaths(paths ...string) (*Codec, error) {
	if len(paths) == 0 {
		return nil, errors.New("websession: no cookie path")
	}
	var ps []string
	for _, p := range paths {
		if !validPath(p) {
			return nil, fmt.Errorf("websession: cookie path %q must start with / and name a path below the root", p)
		}
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	cp := *c
	cp.paths = ps
	return &cp, nil
}

// Paths returns the paths the session and CSRF cookies are set on.
func (c *Codec) Paths() []string { return slices.Clone(c.paths) }

func validPath(p string) bool {
	return len(p) > 1 && p[0] == '/' && !strings.HasSuffix(p, "/") &&
		!strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == ';' || r == 0x7f })
}

// under reports whether a cookie set on path is sent only below one of
// c's paths (RFC 6265 §5.1.4 path-match).
func (c *Codec) under(path string) bool {
	for _, p := range c.paths {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// setAll sets the cookie name on every path of c.
func (c *Codec) setAll(w http.ResponseWriter, name, value string, expires time.Time) {
	for _, p := range c.paths {
		http.SetCookie(w, c.cookie(name, value, p, expires))
	}
}

// derive returns a sub-key for one purpose, so one key never signs two
// kinds of value.
func derive(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

func randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate session id: %w", err)
	}
	return b64.EncodeToString(b), nil
}

// Login starts a session for user and sets its cookie on w.
func (c *Codec) Login(w http.ResponseWriter, user string) (Session, error) {
	return c.LoginUser(w, user, time.Time{})
}

// LoginUser starts a session for user, created at created (the store's
// CreatedAt of that user, zero when unknown), and sets its cookie on w.
// The cookie carries created, so that whoever reads the user back can tell
// a later user of the same name (Session.UserCreated).
func (c *Codec) LoginUser(w http.ResponseWriter, user string, created time.Time) (Session, error) {
	if user == "" {
		return Session{}, errors.New("websession: empty user name")
	}
	id, err := randomID()
	if err != nil {
		return Session{}, err
	}
	s := Session{ID: id, User: user, ExpiresAt: c.now().Add(c.ttl).Truncate(time.Second)}
	s.IssuedAt = s.ExpiresAt.Add(-c.ttl)
	made := "0"
	if !created.IsZero() {
		s.UserCreated = created.UTC().Truncate(time.Microsecond)
		made = strconv.FormatInt(s.UserCreated.UnixMicro(), 10)
	}
	payload := "v2." + id + "." + strconv.FormatInt(s.ExpiresAt.Unix(), 10) + "." + made + "." + b64.EncodeToString([]byte(user))
	value := payload + "." + b64.EncodeToString(mac(c.sessionKey, payload))
	if len(value) > maxCookieLen {
		return Session{}, errors.New("websession: user name too long for a cookie")
	}
	c.setAll(w, CookieName, value, s.ExpiresAt)
	return s, nil
}

// Logout deletes the session cookie on every path it was set on.
func (c *Codec) Logout(w http.ResponseWriter) {
	for _, p := range c.paths {
		http.SetCookie(w, c.expired(CookieName, p))
	}
}

// User returns the logged-in user of r.
func (c *Codec) User(r *http.Request) (string, bool) {
	s, ok := c.Session(r)
	return s.User, ok
}

// Session returns r's verified, unexpired session.
func (c *Codec) Session(r *http.Request) (Session, bool) {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return Session{}, false
	}
	return c.parse(ck.Value)
}

func (c *Codec) parse(value string) (Session, bool) {
	if len(value) > maxCookieLen {
		return Session{}, false
	}
	i := strings.LastIndexByte(value, '.')
	if i < 0 {
		return Session{}, false
	}
	payload, sig := value[:i], value[i+1:]
	got, err := b64canon.Decode(b64, sig)
	if err != nil || !hmac.Equal(got, mac(c.sessionKey, payload)) {
		return Session{}, false
	}
	// v1.<id>.<exp>.<user>, or v2.<id>.<exp>.<user created, µs or 0>.<user>
	parts := strings.Split(payload, ".")
	var made int64
	switch {
	case len(parts) == 4 && parts[0] == "v1":
	case len(parts) == 5 && parts[0] == "v2":
		m, err := strconv.ParseInt(parts[3], 10, 64)
		if err != nil || m < 0 {
			return Session{}, false
		}
		made, parts = m, append(parts[:3], parts[4])
	default:
		return Session{}, false
	}
	if parts[1] == "" {
		return Session{}, false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return Session{}, false
	}
	user, err := b64canon.Decode(b64, parts[3])
	if err != nil || len(user) == 0 {
		return Session{}, false
	}
	s := Session{ID: parts[1], User: string(user), ExpiresAt: time.Unix(exp, 0)}
	if made != 0 {
		s.UserCreated = time.UnixMicro(made).UTC()
	}
	s.IssuedAt = s.ExpiresAt.Add(-c.ttl)
	if !c.now().Before(s.ExpiresAt) {
		return Session{}, false
	}
	return s, true
}

func (c *Codec) cookie(name, value, path string, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     path,
		Expires:  expires.UTC(),
		MaxAge:   max(1, int(expires.Sub(c.now())/time.Second)),
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

func (c *Codec) expired(name, path string) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    "",
		Path:     path,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteLaxMode,
	}
}
