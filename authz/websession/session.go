// Package websession keeps browser logins for the developer portal and the
// /authorize pages: stateless signed cookies (HMAC-SHA256) that every
// gateway instance sharing the key accepts, CSRF tokens bound to the
// session, one-time sealed flash values, and a login throttle.
//
// A session cookie is not stored anywhere: logging out deletes it from the
// browser, and a copied cookie stays valid until it expires (TTL, 12 h by
// default). Keep the TTL short where that matters.
package websession

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
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
}

// Session is a verified login.
type Session struct {
	ID        string // random, names this login (CSRF tokens are bound to it)
	User      string
	ExpiresAt time.Time
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
	}
	if c.ttl <= 0 {
		c.ttl = DefaultTTL
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
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
	if user == "" {
		return Session{}, errors.New("websession: empty user name")
	}
	id, err := randomID()
	if err != nil {
		return Session{}, err
	}
	s := Session{ID: id, User: user, ExpiresAt: c.now().Add(c.ttl).Truncate(time.Second)}
	payload := "v1." + id + "." + strconv.FormatInt(s.ExpiresAt.Unix(), 10) + "." + b64.EncodeToString([]byte(user))
	value := payload + "." + b64.EncodeToString(mac(c.sessionKey, payload))
	if len(value) > maxCookieLen {
		return Session{}, errors.New("websession: user name too long for a cookie")
	}
	http.SetCookie(w, c.cookie(CookieName, value, "/", s.ExpiresAt))
	return s, nil
}

// Logout deletes the session cookie.
func (c *Codec) Logout(w http.ResponseWriter) {
	http.SetCookie(w, c.expired(CookieName, "/"))
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
	parts := strings.Split(payload, ".")
	if len(parts) != 4 || parts[0] != "v1" || parts[1] == "" {
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
