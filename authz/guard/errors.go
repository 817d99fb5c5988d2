package guard

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/clearance-gw/clearance/authz/metering"
)

// Error is an RFC 6750 bearer-token error. The package-level values are
// templates: never mutate them; WithDescription and WithStatus return copies.
type Error struct {
	Code        string // invalid_request, invalid_token, insufficient_scope; "" for a missing token
	Description string
	Status      int
	Scope       string // the scopes required, for insufficient_scope
	Reason      string // metrics label: missing, malformed, expired, signature, ...
	// Usage is the meter's verdict of a 429 (rate_limited,
	// quota_exceeded): WriteError adds Retry-After and the RateLimit
	// fields from it.
	Usage *metering.Result
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Is compares codes, so errors.Is(err, ErrInvalidToken) holds for any
// invalid_token error whatever its description.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Code != "" || t.Status == e.Status)
}

// WithDescription returns a copy with the given description and reason.
func (e *Error) WithDescription(reason, desc string) *Error {
	c := *e
	c.Reason, c.Description = reason, desc
	return &c
}

// WithStatus returns a copy with another HTTP status.
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.Status = status
	return &c
}

// WithScope returns a copy naming the required scopes.
func (e *Error) WithScope(scope string) *Error {
	c := *e
	c.Scope = scope
	return &c
}

// Sentinel errors. Copy them through the With* methods.
var (
	ErrMissingToken      = &Error{Status: http.StatusUnauthorized, Reason: "missing", Description: "a bearer token is required"}
	ErrInvalidRequest    = &Error{Code: "invalid_request", Status: http.StatusBadRequest, Reason: "malformed"}
	ErrInvalidToken      = &Error{Code: "invalid_token", Status: http.StatusUnauthorized, Reason: "invalid"}
	ErrInsufficientScope = &Error{Code: "insufficient_scope", Status: http.StatusUnauthorized, Reason: "scope"}
	ErrForbidden         = &Error{Code: "forbidden", Status: http.StatusForbidden, Reason: "forbidden"}
	ErrUnavailable       = &Error{Code: "temporarily_unavailable", Status: http.StatusServiceUnavailable, Reason: "unavailable"}
)

// WriteError writes err as an RFC 6750 response: the status, a
// WWW-Authenticate challenge for 401, for 403 insufficient_scope and for
// 400 invalid_request (RFC 6750 §3: a token sent twice, a bare "Bearer",
// a malformed header), and a JSON body {"error","error_description"}.
// Errors that are not *Error become a 500 server_error whose details stay
// out of the response.
func WriteError(w http.ResponseWriter, err error, realm string) {
	e := asError(err)
	render(e, realm).write(w, e)
}

func asError(err error) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	var e *Error // on the heap (errors.As takes its address): only here
	if errors.As(err, &e) {
		return e
	}
	return errServer
}

var errServer = &Error{Code: "server_error", Status: http.StatusInternalServerError, Description: "internal error"}

// refusalResponse is a refusal rendered: written as is to every request it
// answers, so its header values are shared and never modified.
type refusalResponse struct {
	status      int
	challenge   []string // WWW-Authenticate; nil for none
	contentType []string
	noStore     []string
	body        []byte
}

func render(e *Error, realm string) *refusalResponse {
	r := &refusalResponse{status: e.Status, contentType: []string{"application/json"}, noStore: []string{"no-store"}}
	if challenged(e) {
		r.challenge = []string{challenge(realm, e)}
	}
	code := e.Code
	if code == "" {
		code = "unauthorized"
	}
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
		Scope       string `json:"scope,omitempty"`
	}{code, e.Description, e.Scope})
	r.body = append(body, '\n')
	return r
}

// write answers with r; e adds what is particular to one request (the
// RateLimit fields and Retry-After of a 429).
func (r *refusalResponse) write(w http.ResponseWriter, e *Error) {
	h := w.Header()
	if r.challenge != nil {
		h["Www-Authenticate"] = r.challenge
	}
	if u := e.Usage; u != nil && u.Metered() {
		SetRateLimitFields(h, u)
		h.Set("Retry-After", strconv.FormatInt(max(u.RetryAfter, 1), 10))
	}
	h["Content-Type"] = r.contentType
	h["Cache-Control"] = r.noStore
	w.WriteHeader(r.status)
	w.Write(r.body)
}

// Refusals writes refusals as WriteError does, for one realm, rendering
// each distinct refusal once: refusing a request then costs a map lookup
// and a write, no encoding. Distinct refusals are few (the guard's
// descriptions, and the scopes and subscriptions of the config); past
// maxRendered the rest are rendered per request.
type Refusals struct {
	realm    string
	mu       sync.RWMutex
	rendered map[refusalKey]*refusalResponse
}

// refusalKey is everything of an Error a response shows.
type refusalKey struct {
	code, description, scope string
	status                   int
}

const maxRendered = 256

// NewRefusals returns the writer of refusals for realm.
func NewRefusals(realm string) *Refusals {
	return &Refusals{realm: realm, rendered: map[refusalKey]*refusalResponse{}}
}

// Write writes err as an RFC 6750 response (see WriteError).
func (rs *Refusals) Write(w http.ResponseWriter, err error) {
	e := asError(err)
	k := refusalKey{e.Code, e.Description, e.Scope, e.Status}
	rs.mu.RLock()
	r := rs.rendered[k]
	rs.mu.RUnlock()
	if r == nil {
		r = render(e, rs.realm)
		rs.mu.Lock()
		if len(rs.rendered) < maxRendered {
			rs.rendered[k] = r
		}
		rs.mu.Unlock()
	}
	r.write(w, e)
}

// SetRateLimitFields sets RateLimit-Policy and RateLimit
// (draft-ietf-httpapi-ratelimit-headers-11) from a metered request's
// Result, replacing any an upstream sent; a plan without a rate or a quota
// sets none.
func SetRateLimitFields(h http.Header, u *metering.Result) {
	if !u.Plan.Limited() {
		return
	}
	// Written in the draft's spelling (net/http sends map keys as they
	// are); the canonical spelling an upstream's fields arrive under is
	// dropped, so the client sees the gateway's fields only.
	delete(h, "Ratelimit-Policy")
	delete(h, "Ratelimit")
	h["RateLimit-Policy"] = []string{u.Plan.Policy}
	h["RateLimit"] = []string{u.RateLimit()}
}

// challenged reports whether the answer to e carries a Bearer challenge:
// every 401, and the 400 and 403 that RFC 6750 §3.1 gives an error code
// of its own.
func challenged(e *Error) bool {
	switch e.Status {
	case http.StatusUnauthorized:
		return true
	case http.StatusBadRequest:
		return e.Code == ErrInvalidRequest.Code
	case http.StatusForbidden:
		return e.Code == ErrInsufficientScope.Code
	}
	return false
}

func challenge(realm string, e *Error) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(quoteEscape(realm))
	b.WriteByte('"')
	if e.Code != "" {
		b.WriteString(`, error="`)
		b.WriteString(e.Code)
		b.WriteByte('"')
		if e.Description != "" {
			b.WriteString(`, error_description="`)
			b.WriteString(quoteEscape(e.Description))
			b.WriteByte('"')
		}
		if e.Scope != "" {
			b.WriteString(`, scope="`)
			b.WriteString(quoteEscape(e.Scope))
			b.WriteByte('"')
		}
	}
	return b.String()
}

// quoteEscape keeps a value inside an RFC 7230 quoted-string: RFC 6750 allows
// only %x20-21 / %x23-5B / %x5D-7E in error_description, so anything else
// becomes a space.
func quoteEscape(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = ' '
		}
	}
	return string(b)
}
