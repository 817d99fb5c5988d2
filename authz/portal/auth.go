package portal

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/clearance-gw/clearance/authz/login"
	"github.com/clearance-gw/clearance/authz/store"
)

const loginPath = "/portal/login"

type loginPage struct {
	Next    string
	User    string
	Error   string
	Context string // why the login is asked for (an authorize request)
}

// safeNext returns next when it is a local page the login may lead to (a
// portal page or the authorize endpoint), else the portal home.
func (p *Portal) safeNext(next string) string {
	if next == "" || len(next) > 8192 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n\t") {
		return "/portal/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/portal/"
	}
	if strings.HasPrefix(u.Path, "/portal/") || u.Path == p.authPath {
		return next
	}
	return "/portal/"
}

func (p *Portal) loginContext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Path != p.authPath {
		return ""
	}
	return "Sign in to continue to the application that sent you here."
}

func (p *Portal) serveLoginForm(w http.ResponseWriter, r *http.Request) {
	next := p.safeNext(r.URL.Query().Get("next"))
	p.render(w, r, http.StatusOK, "login", view{Title: "Sign in",
		Page: loginPage{Next: next, Context: p.loginContext(next)}}, "")
}

func (p *Portal) serveLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if !p.cookies.CheckCSRF(r) {
		p.forbidden(w, r, "")
		return
	}
	user := strings.TrimSpace(r.PostFormValue("username"))
	pw := r.PostFormValue("password")
	next := p.safeNext(r.PostFormValue("next"))
	page := loginPage{Next: next, User: user, Context: p.loginContext(next)}
	addr := p.addr(r)
	u, err := p.userAuth.Login(r.Context(), user, pw, addr)
	if err != nil {
		p.loginFailed(w, r, page, addr, err)
		return
	}
	if _, err := p.cookies.LoginUser(w, u.Name, u.CreatedAt); err != nil {
		p.serverError(w, r, err)
		return
	}
	p.log.InfoContext(r.Context(), "login", "user", u.Name, "addr", addr.String())
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// loginFailed answers a sign-in that failed: the one place the portal (and
// so the authorization endpoint, whose users sign in here) reads
// authz/login's errors.
func (p *Portal) loginFailed(w http.ResponseWriter, r *http.Request, page loginPage, addr netip.Addr, err error) {
	var te *login.ThrottledError
	switch {
	case errors.Is(err, login.ErrInvalidCredentials):
		p.log.InfoContext(r.Context(), "login failed", "user", page.User, "addr", addr.String())
		page.Error = "Wrong user name or password."
		p.render(w, r, http.StatusUnauthorized, "login", view{Title: "Sign in", Page: page}, "")
	case errors.As(err, &te):
		p.log.InfoContext(r.Context(), "login throttled", "user", page.User, "addr", addr.String())
		w.Header().Set("Retry-After", strconv.Itoa(te.Seconds()))
		page.Error = "Too many failed sign-in attempts. Wait a few minutes and try again."
		p.render(w, r, http.StatusTooManyRequests, "login", view{Title: "Sign in", Page: page}, "")
	case errors.Is(err, login.ErrBusy):
		p.log.WarnContext(r.Context(), "login refused: no password check could start in time", "user", page.User, "addr", addr.String())
		w.Header().Set("Retry-After", strconv.Itoa(login.BusyRetryAfter))
		p.message(w, r, http.StatusServiceUnavailable, "", "Busy",
			"Too many people are signing in right now. Please try again in a moment.")
	default: // a corrupt stored hash, a store failure: logged as a server error
		p.serverError(w, r, fmt.Errorf("login of %q: %w", page.User, err))
	}
}

func (p *Portal) serveLogout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if !p.cookies.CheckCSRF(r) {
		p.forbidden(w, r, p.currentUser(r))
		return
	}
	p.cookies.Logout(w)
	http.Redirect(w, r, loginPath, http.StatusSeeOther)
}

// toLogin sends a visitor who is not logged in to the login page, to come
// back to r (or, for a POST, to the page it came from).
func (p *Portal) toLogin(w http.ResponseWriter, r *http.Request, next string) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not signed in"})
		return
	}
	setSecurityHeaders(w.Header(), cspFor(""))
	http.Redirect(w, r, loginPath+"?next="+url.QueryEscape(next), http.StatusSeeOther)
}

// withUser wraps a POST handler: it limits the body, requires a login and
// a valid CSRF token (403 otherwise).
func (p *Portal) withUser(h func(w http.ResponseWriter, r *http.Request, user string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		user, ok, err := p.signedIn(r)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		if !ok {
			p.toLogin(w, r, "/portal/")
			return
		}
		if err := r.ParseForm(); err != nil {
			if wantsJSON(r) {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the form could not be read"})
				return
			}
			p.message(w, r, http.StatusBadRequest, user, "Bad request", "The form could not be read.")
			return
		}
		if !p.cookies.CheckCSRF(r) {
			if wantsJSON(r) {
				writeJSON(w, http.StatusForbidden, map[string]string{"error": "invalid CSRF token"})
				return
			}
			p.forbidden(w, r, user)
			return
		}
		h(w, r, user)
	}
}

// withClient is withUser plus the client named by {id}, which must be the
// user's own: anything else is 404, whether it exists or not.
func (p *Portal) withClient(h func(w http.ResponseWriter, r *http.Request, user string, c store.Client)) http.HandlerFunc {
	return p.withUser(func(w http.ResponseWriter, r *http.Request, user string) {
		c, ok, err := p.ownClient(r, user)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		if !ok {
			if wantsJSON(r) {
				writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such client"})
				return
			}
			p.notFound(w, r, user)
			return
		}
		h(w, r, user, c)
	})
}

func (p *Portal) ownClient(r *http.Request, user string) (store.Client, bool, error) {
	c, err := p.st.GetClient(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, false, nil
	}
	if err != nil {
		return store.Client{}, false, err
	}
	if c.Owner == "" || c.Owner != user {
		return store.Client{}, false, nil
	}
	return c, true, nil
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
