package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/clearance-gw/clearance/authz/store"
)

// Error is an RFC 6749 §5.2 (or RFC 7009 / 7662) error response. The
// package-level values are templates: never mutate them; WithDescription
// returns a copy.
type Error struct {
	Code        string
	Description string
	Status      int
	RetryAfter  int // seconds, sent as Retry-After when set
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Is compares codes, so errors.Is(err, ErrInvalidGrant) holds whatever the
// description.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// WithDescription returns a copy with the description.
func (e *Error) WithDescription(desc string) *Error {
	c := *e
	c.Description = desc
	return &c
}

// WithStatus returns a copy with another HTTP status.
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.Status = status
	return &c
}

// Sentinel errors (RFC 6749 §5.2, RFC 7009 §2.2.1). Copy them through the
// With* methods.
var (
	ErrInvalidRequest       = &Error{Code: "invalid_request", Status: http.StatusBadRequest}
	ErrInvalidClient        = &Error{Code: "invalid_client", Status: http.StatusUnauthorized}
	ErrInvalidGrant         = &Error{Code: "invalid_grant", Status: http.StatusBadRequest}
	ErrUnauthorizedClient   = &Error{Code: "unauthorized_client", Status: http.StatusBadRequest}
	ErrUnsupportedGrantType = &Error{Code: "unsupported_grant_type", Status: http.StatusBadRequest}
	ErrInvalidScope         = &Error{Code: "invalid_scope", Status: http.StatusBadRequest}
	ErrUnsupportedTokenType = &Error{Code: "unsupported_token_type", Status: http.StatusBadRequest}
	ErrServerError          = &Error{Code: "server_error", Status: http.StatusInternalServerError, Description: "internal error"}
	// ErrTooManyAttempts refuses a password grant while the user or the
	// address has used up its login attempts.
	ErrTooManyAttempts = &Error{Code: "invalid_grant", Status: http.StatusTooManyRequests}
	// ErrTemporarilyUnavailable refuses a password grant when no password
	// check could start in time (the hashing pool is full).
	ErrTemporarilyUnavailable = &Error{Code: "temporarily_unavailable", Status: http.StatusServiceUnavailable}
)

// writeError writes err as an RFC 6749 JSON error with no-store caching.
// Anything that is not an *Error is a 500 server_error whose details go to
// the log only. 4xx are logged at Info, 5xx at Error.
func (s *Server) writeError(ctx context.Context, w http.ResponseWriter, endpoint string, err error, attrs ...any) {
	var e *Error
	if !errors.As(err, &e) && errors.Is(err, store.ErrUnavailable) {
		// The shared database went away: a 503 the client may retry, not
		// a 500.
		s.log.ErrorContext(ctx, endpoint+" failed: store unavailable", append(attrs, "error", err.Error())...)
		e = ErrTemporarilyUnavailable.WithDescription("the authorization server cannot reach its store; try again shortly")
		e.RetryAfter = 1
	} else if !errors.As(err, &e) {
		s.log.ErrorContext(ctx, endpoint+" failed", append(attrs, "error", err.Error())...)
		e = ErrServerError
	} else if e.Status >= 500 {
		s.log.ErrorContext(ctx, endpoint+" failed", append(attrs, "error", e.Code, "error_description", e.Description)...)
	} else {
		s.log.InfoContext(ctx, endpoint+" refused", append(attrs, "error", e.Code, "error_description", e.Description)...)
	}
	s.metrics.tokenError(e.Code)
	h := w.Header()
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.Status == http.StatusUnauthorized && e.Code == ErrInvalidClient.Code {
		h.Set("WWW-Authenticate", `Basic realm="`+quoteRealm(s.cfg().Realm)+`"`)
	}
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Code, e.Description})
	writeJSON(w, e.Status, body)
}

// writeJSON writes a JSON body that must not be cached.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// quoteRealm keeps the realm inside a quoted-string.
func quoteRealm(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return ' '
		}
		return r
	}, s)
}
