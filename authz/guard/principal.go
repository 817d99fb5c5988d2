// Package guard decides whether a request's bearer token is good enough for
// a route: extract, verify, revocation, policy, and the RFC 6750 error
// writer. It never proxies.
package guard

import (
	"context"
	"time"
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
}

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
