package portal

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// authParams are the authorization request parameters the endpoint reads
// (RFC 6749 §4.1.1, §4.2.1; RFC 7636 §4.3).
func authParams() []string {
	return []string{"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method"}
}

// authRequest is a validated authorization request.
type authRequest struct {
	ResponseType        string
	ClientID            string
	RedirectURIParam    string // as sent ("" when the only registered URI was implied)
	Scope               string // as sent
	State               string
	CodeChallenge       string
	CodeChallengeMethod string

	client   store.Client
	redirect string   // the registered URI the response goes to
	scopes   []string // granted scopes
}

// pageError is a failure shown on a page, never redirected: the client or
// its redirect URI cannot be trusted (RFC 6749 §4.1.2.1 first paragraph).
type pageError struct {
	status int
	msg    string
}

// redirectError is an RFC 6749 §4.1.2.1 error sent back to the client,
// once the user has signed in; before that it is shown as a pageError.
type redirectError struct {
	code, desc string
}

func (e *redirectError) Error() string { return e.code + ": " + e.desc }

// page is the error as shown on the error page, for a request that may not
// be redirected yet.
func (e *redirectError) page() *pageError {
	return &pageError{http.StatusBadRequest, "The application sent an authorization request this gateway cannot accept: " +
		e.desc + " (" + e.code + ")."}
}

// parseAuthorize validates an authorization request. A *pageError means no
// redirect may be made; a *redirectError goes back to req.redirect (after
// sign-in only, see serveAuthorize).
func (p *Portal) parseAuthorize(r *http.Request, q url.Values) (*authRequest, *pageError, *redirectError) {
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) > 1 {
			return nil, &pageError{http.StatusBadRequest, "The request names more than one " + k + "."}, nil
		}
	}
	req := &authRequest{
		ResponseType: q.Get("response_type"), ClientID: q.Get("client_id"), RedirectURIParam: q.Get("redirect_uri"),
		Scope: q.Get("scope"), State: q.Get("state"), CodeChallenge: q.Get("code_challenge"),
		CodeChallengeMethod: q.Get("code_challenge_method"),
	}
	if req.ClientID == "" {
		return nil, &pageError{http.StatusBadRequest, "The request does not name a client (client_id is missing)."}, nil
	}
	c, err := p.st.GetClient(r.Context(), req.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &pageError{http.StatusBadRequest, "The application that sent you here is not registered with this gateway."}, nil
	}
	if errors.Is(err, store.ErrUnavailable) {
		return nil, &pageError{http.StatusServiceUnavailable, "The gateway cannot reach its database right now. Please try again in a moment."}, nil
	}
	if err != nil {
		return nil, &pageError{http.StatusInternalServerError, "The request could not be checked. Please try again."}, nil
	}
	req.client = c
	switch {
	case req.RedirectURIParam != "":
		if !matchRedirectURI(c.RedirectURIs, req.RedirectURIParam) {
			return nil, &pageError{http.StatusBadRequest, "The redirect URI of this request is not registered for the application, so you cannot be sent back to it."}, nil
		}
		req.redirect = req.RedirectURIParam
	case len(c.RedirectURIs) == 1:
		req.redirect = c.RedirectURIs[0]
	default:
		return nil, &pageError{http.StatusBadRequest, "The request has no redirect URI (redirect_uri is missing)."}, nil
	}

	// From here on errors go back to the client.
	for _, k := range authParams() {
		if len(q[k]) > 1 {
			return req, nil, &redirectError{"invalid_request", k + " is repeated"}
		}
	}
	switch req.ResponseType {
	case "":
		return req, nil, &redirectError{"invalid_request", "response_type is required"}
	case "code":
		if !slices.Contains(c.Grants, config.GrantAuthorizationCode) {
			return req, nil, &redirectError{"unauthorized_client", "the client may not use the authorization code grant"}
		}
	case "token":
		if !slices.Contains(c.Grants, config.GrantImplicit) {
			return req, nil, &redirectError{"unauthorized_client", "the client may not use the implicit grant"}
		}
		if p.minter == nil {
			return req, nil, &redirectError{"unsupported_response_type", "the implicit grant is not available"}
		}
	default:
		return req, nil, &redirectError{"unsupported_response_type", "response_type must be code or token"}
	}
	if req.ResponseType == "code" {
		if e := checkPKCEParams(req, len(c.SecretHash) == 0); e != nil {
			return req, nil, e
		}
	}
	// What the client may be issued now: a portal client only what its
	// owner is entitled to.
	allowed, limited, err := p.ents.ClientScopes(r.Context(), c)
	if err != nil {
		p.log.ErrorContext(r.Context(), "client scopes", "client_id", c.ID, "err", err)
		return req, nil, &redirectError{"server_error", "the authorization server could not check the request"}
	}
	scopes, e := grantScopes(req.Scope, allowed)
	if e != nil {
		return req, nil, e
	}
	if limited && len(scopes) == 0 {
		return req, nil, &redirectError{"invalid_scope", "the client's owner is not entitled to any of its scopes"}
	}
	req.scopes = scopes
	return req, nil, nil
}

// matchRedirectURI is RFC 6749 §3.1.2.3 simple string comparison: the
// given URI must equal a registered one byte for byte.
func matchRedirectURI(registered []string, given string) bool {
	return given != "" && slices.Contains(registered, given)
}

// checkPKCEParams accepts S256 only (RFC 7636 §4.2; plain is refused) and
// requires a challenge from public clients.
func checkPKCEParams(req *authRequest, public bool) *redirectError {
	if req.CodeChallenge == "" {
		if req.CodeChallengeMethod != "" {
			return &redirectError{"invalid_request", "code_challenge_method without code_challenge"}
		}
		if public {
			return &redirectError{"invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256"}
		}
		return nil
	}
	if req.CodeChallengeMethod != "S256" {
		return &redirectError{"invalid_request", "code_challenge_method must be S256 (plain is not supported)"}
	}
	if !validChallenge(req.CodeChallenge) {
		return &redirectError{"invalid_request", "code_challenge must be the base64url SHA-256 of the code verifier"}
	}
	return nil
}

// validChallenge reports whether s is an S256 challenge: the unpadded
// base64url encoding of 32 bytes.
func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// grantScopes resolves the requested scope against the client's: none
// requested means all of the client's.
func grantScopes(requested string, allowed []string) ([]string, *redirectError) {
	if strings.TrimSpace(requested) == "" {
		return slices.Clone(allowed), nil
	}
	var out []string
	for s := range strings.SplitSeq(requested, " ") {
		if s == "" || slices.Contains(out, s) {
			continue
		}
		if !slices.Contains(allowed, s) {
			return nil, &redirectError{"invalid_scope", "the client may not request scope " + strconv.Quote(s)}
		}
		out = append(out, s)
	}
	return out, nil
}

// responseURL builds the redirect back to the client: parameters in the
// query for the code flow (keeping the registered URI's own query), in the
// fragment for the implicit flow (RFC 6749 §4.2.2).
func (req *authRequest) responseURL(params url.Values) string {
	if req.State != "" {
		params.Set("state", req.State)
	}
	base := req.redirect
	if req.ResponseType == "token" {
		if i := strings.IndexByte(base, '#'); i >= 0 {
			base = base[:i]
		}
		return base + "#" + params.Encode()
	}
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Fragment, u.RawFragment = "", ""
	if u.RawQuery != "" {
		u.RawQuery += "&" + params.Encode()
	} else {
		u.RawQuery = params.Encode()
	}
	return u.String()
}

func (req *authRequest) errorURL(e *redirectError) string {
	v := url.Values{"error": {e.code}}
	if e.desc != "" {
		v.Set("error_description", e.desc)
	}
	return req.responseURL(v)
}

// formFields are the request parameters the consent form carries back.
func (req *authRequest) formFields() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("response_type", req.ResponseType)
	set("client_id", req.ClientID)
	set("redirect_uri", req.RedirectURIParam)
	set("scope", req.Scope)
	set("state", req.State)
	set("code_challenge", req.CodeChallenge)
	set("code_challenge_method", req.CodeChallengeMethod)
	return v
}

type field struct{ Name, Value string }

type consentPage struct {
	Client      store.Client
	Scopes      []string
	Fields      []field
	RedirectTo  string
	ResponseTyp string
	Action      string
}

type errorPage struct {
	Message string
	Back    string // a page of the gateway to go on from
}

func (p *Portal) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	var q url.Values
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		q = r.URL.Query()
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			p.authError(w, r, &pageError{http.StatusBadRequest, "The form could not be read."})
			return
		}
		q = r.PostForm
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		p.authError(w, r, &pageError{http.StatusMethodNotAllowed, "Use GET or POST."})
		return
	}
	req, perr, rerr := p.parseAuthorize(r, q)
	if perr != nil {
		p.authError(w, r, perr)
		return
	}
	redirectStatus := http.StatusFound
	if r.Method == http.MethodPost {
		redirectStatus = http.StatusSeeOther
	}
	user, signedIn, uerr := p.signedIn(r)
	if uerr != nil {
		p.serverError(w, r, uerr)
		return
	}
	if rerr != nil {
		p.log.InfoContext(r.Context(), "authorization request refused", "client_id", req.ClientID, "error", rerr.code,
			"signed_in", signedIn)
		if !signedIn {
			// Nobody has signed in: redirecting now would let whoever
			// registered a redirect URI (any portal user) use the gateway
			// as an open redirector (RFC 9700 §4.11.2). Show the error.
			p.authError(w, r, rerr.page())
			return
		}
		p.redirect(w, r, req.errorURL(rerr), redirectStatus)
		return
	}
	if !signedIn {
		p.toLogin(w, r, p.authPath+"?"+req.formFields().Encode())
		return
	}
	if r.Method != http.MethodPost {
		p.renderConsent(w, r, user, req)
		return
	}
	if !p.cookies.CheckCSRF(r) {
		p.forbidden(w, r, user)
		return
	}
	if r.PostFormValue("decision") != "allow" {
		p.log.InfoContext(r.Context(), "authorization denied by the user", "client_id", req.ClientID, "user", user)
		p.redirect(w, r, req.errorURL(&redirectError{"access_denied", "the user denied the request"}), http.StatusSeeOther)
		return
	}
	var target string
	var err error
	if req.ResponseType == "code" {
		target, err = p.issueCode(r, user, req)
	} else {
		target, err = p.issueImplicit(r, user, req)
	}
	if err != nil {
		p.log.ErrorContext(r.Context(), "authorization failed", "client_id", req.ClientID, "err", err)
		p.redirect(w, r, req.errorURL(&redirectError{"server_error", "the authorization server could not complete the request"}), http.StatusSeeOther)
		return
	}
	p.redirect(w, r, target, http.StatusSeeOther)
}

func (p *Portal) redirect(w http.ResponseWriter, r *http.Request, target string, status int) {
	setSecurityHeaders(w.Header(), cspFor(""))
	w.Header().Set("Location", target)
	w.WriteHeader(status)
}

func (p *Portal) authError(w http.ResponseWriter, r *http.Request, e *pageError) {
	p.render(w, r, e.status, "autherror", view{Title: "Cannot continue", User: p.currentUser(r),
		Page: errorPage{Message: e.msg, Back: portalPath + "/"}}, "")
}

func (p *Portal) renderConsent(w http.ResponseWriter, r *http.Request, user string, req *authRequest) {
	fields := []field{}
	for _, k := range authParams() {
		if v := req.formFields().Get(k); v != "" {
			fields = append(fields, field{k, v})
		}
	}
	page := consentPage{Client: req.client, Scopes: req.scopes, Fields: fields, RedirectTo: redirectHost(req.redirect),
		ResponseTyp: req.ResponseType, Action: p.authPath}
	p.render(w, r, http.StatusOK, "consent", view{Title: "Authorize " + req.client.Name, User: user, Page: page},
		cspFor(formSource(req.redirect)))
}

// redirectHost names where the user will be sent, for the consent page.
func redirectHost(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	if u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + ":"
}

// formSource is the CSP source that lets the consent form's redirect reach
// the client (browsers check form-action on redirects too).
func formSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return ""
	}
	if u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + ":"
}

// issueCode stores a new authorization code and returns the redirect that
// carries it. The session the code will be exchanged for gets its id now,
// so a replayed code can revoke it.
func (p *Portal) issueCode(r *http.Request, user string, req *authRequest) (string, error) {
	code, err := secret.NewToken()
	if err != nil {
		return "", err
	}
	sid, err := newSessionID()
	if err != nil {
		return "", err
	}
	now := p.now().UTC()
	method := ""
	if req.CodeChallenge != "" {
		method = "S256"
	}
	err = p.st.CreateCode(r.Context(), store.AuthCode{
		Hash: secret.HashSecret(code), ClientID: req.client.ID, Subject: user,
		RedirectURI: req.RedirectURIParam, Scope: strings.Join(req.scopes, " "),
		CodeChallenge: req.CodeChallenge, CodeChallengeMethod: method, SessionID: sid,
		CreatedAt: now, ExpiresAt: now.Add(p.codeTTL),
	})
	if err != nil {
		return "", fmt.Errorf("store authorization code: %w", err)
	}
	p.log.InfoContext(r.Context(), "authorization code issued", "client_id", req.client.ID, "user", user, "sid", sid)
	return req.responseURL(url.Values{"code": {code}}), nil
}

// issueImplicit mints an access token for the implicit grant: no refresh
// token, the token in the fragment (RFC 6749 §4.2.2).
func (p *Portal) issueImplicit(r *http.Request, user string, req *authRequest) (string, error) {
	scope := strings.Join(req.scopes, " ")
	tok, expiresIn, err := p.minter.MintImplicit(r.Context(), req.client.ID, user, scope)
	if err != nil {
		return "", fmt.Errorf("mint implicit token: %w", err)
	}
	p.log.InfoContext(r.Context(), "implicit token issued", "client_id", req.client.ID, "user", user)
	v := url.Values{"access_token": {tok}, "token_type": {"Bearer"}, "expires_in": {strconv.FormatInt(expiresIn, 10)}}
	if scope != "" {
		v.Set("scope", scope)
	}
	return req.responseURL(v), nil
}

func newSessionID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
