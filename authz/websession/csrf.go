package websession

import (
	"crypto/hmac"
	"net/http"
	"time"
)

// anonTTL is the lifetime of the pre-login CSRF cookie.
const anonTTL = 24 * time.Hour

// CSRF returns the CSRF token to put in the forms of the page answering r:
// for a logged-in user the token bound to the session; for a visitor who
// has not logged in yet (the login form) a token bound to a random
// pre-session cookie, which it sets on w when r does not carry one.
func (c *Codec) CSRF(w http.ResponseWriter, r *http.Request) (string, error) {
	if s, ok := c.Session(r); ok {
		return c.SessionCSRF(s), nil
	}
	if id, ok := anonID(r); ok {
		return c.anonToken(id), nil
	}
	id, err := randomID()
	if err != nil {
		return "", err
	}
	c.setAll(w, AnonCookieName, id, c.now().Add(anonTTL))
	return c.anonToken(id), nil
}

// SessionCSRF returns the CSRF token bound to s.
func (c *Codec) SessionCSRF(s Session) string {
	return b64.EncodeToString(mac(c.csrfKey, "session", s.ID))
}

func (c *Codec) anonToken(id string) string {
	return b64.EncodeToString(mac(c.csrfKey, "anonymous", id))
}

func anonID(r *http.Request) (string, bool) {
	ck, err := r.Cookie(AnonCookieName)
	if err != nil || ck.Value == "" || len(ck.Value) > 64 {
		return "", false
	}
	return ck.Value, true
}

// CheckCSRF reports whether r carries the CSRF token of its session (or, for
// a visitor not logged in, of its pre-session cookie) in the csrf_token form
// field or the X-CSRF-Token header. The comparison is constant-time. It
// parses the form; limit the body (http.MaxBytesReader) before calling it.
func (c *Codec) CheckCSRF(r *http.Request) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		got = r.PostFormValue(CSRFField)
	}
	if got == "" {
		return false
	}
	var want string
	if s, ok := c.Session(r); ok {
		want = c.SessionCSRF(s)
	} else if id, ok := anonID(r); ok {
		want = c.anonToken(id)
	} else {
		return false
	}
	return hmac.Equal([]byte(got), []byte(want))
}
