// Package guard decides whether a request's bearer token is good enough for
// a route: extract, verify, revocation, policy, and the RFC 6750 error
// writer. It never proxies.
package guard

import (
	"context"
	"time"

	tokenclaims "github.com/clearance-gw/clearance/authz/claims"
	"github.com/clearance-gw/clearance/authz/metering"
)

// Principal is who a verified token speaks for.
type Principal struct {
	Issuer    string
	Subject   string
	ClientID  string
	Scopes    ScopeSet
	Expiry    time.Time
	IssuedAt  time.Time // "iat"; zero when absent
	JTI       string
	SessionID string // "sid" claim of tokens the gateway minted, "" otherwise
	Actor     string // "act.sub" of admin-grant tokens
	Local     bool   // minted by this gateway (own keys)
	// ClientCreated and UserCreated are the creation times (Unix
	// microseconds) of the client and of the user a local token was minted
	// for: its ClaimClientCreated and ClaimUserCreated claims, 0 when
	// absent. They tell a deleted client or user from a later one of the
	// same name (see Revocations).
	ClientCreated int64
	UserCreated   int64
	// SessionGen is the ClaimSessionGen claim of a local token: the
	// generation of its session it was minted in (0 when absent).
	SessionGen int64
	// Usage is the plan step's count of this request (SPEC §11); its Plan
	// is nil when the request was not metered.
	Usage metering.Result
}

// The private claims of the tokens the gateway mints that name the
// creation time, in Unix microseconds, of their client (every token) and of
// their user (a token whose subject is a user). RFC 9068 §2.2.3 allows such
// claims; a resource server that does not know them ignores them.
const (
	ClaimClientCreated = tokenclaims.ClientCreated
	ClaimUserCreated   = tokenclaims.UserCreated
)

// ClaimSessionGen is the private claim that names the generation of its
// session (sid) a token was minted in: a refresh moves the session to the
// next generation, and the revocation set refuses the generations below
// (one entry per session, not one per rotated-out token).
const ClaimSessionGen = tokenclaims.SessionGen

type ctxKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// PrincipalFrom returns the principal stored by WithPrincipal.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
