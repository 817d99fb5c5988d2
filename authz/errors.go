package authz

import "net/http"

// Error is an RFC 6750 bearer-token error. The package-level values are
// templates: never mutate them; WithDescription and WithStatus return copies.
type Error struct {
	Code        string // invalid_request, invalid_token, insufficient_scope; "" for a missing token
	Description string
	Status      int
	Scope       string // the scopes required, for insufficient_scope
	Reason      string // metrics label: missing, malformed, expired, signature, ...
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
