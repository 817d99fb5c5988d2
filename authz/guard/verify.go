package guard

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	tokenclaims "github.com/clearance-gw/clearance/authz/claims"
	"github.com/clearance-gw/clearance/internal/b64canon"
)

// Verification errors, copied from the sentinels once.
var (
	errUntrustedIssuer  = ErrInvalidToken.WithDescription("issuer", "untrusted issuer")
	errAlgNotAllowed    = ErrInvalidToken.WithDescription("algorithm", "algorithm not allowed")
	errAlgKeyMismatch   = ErrInvalidToken.WithDescription("algorithm", "algorithm does not match the key")
	errTokenType        = ErrInvalidToken.WithDescription("malformed", "unexpected token type")
	errCritical         = ErrInvalidToken.WithDescription("malformed", "unsupported critical header")
	errNoKeyID          = ErrInvalidToken.WithDescription("unknown_key", "token has no key id")
	errUnknownKeyID     = ErrInvalidToken.WithDescription("unknown_key", "unknown key id")
	errSignature        = ErrInvalidToken.WithDescription("signature", "invalid signature")
	errExpired          = ErrInvalidToken.WithDescription("expired", "token expired")
	errNotYetValid      = ErrInvalidToken.WithDescription("not_yet_valid", "token not yet valid")
	errIssuedInFuture   = ErrInvalidToken.WithDescription("not_yet_valid", "token issued in the future")
	errAudience         = ErrInvalidToken.WithDescription("audience", "audience not accepted")
	errNoExpiry         = ErrInvalidToken.WithDescription("malformed", "token has no expiry")
	errBadScopeClaim    = ErrInvalidToken.WithDescription("malformed", "malformed scope claim")
	errBadClaim         = ErrInvalidToken.WithDescription("malformed", "malformed claim")
	errRevoked          = ErrInvalidToken.WithDescription("revoked", "token revoked")
	errKeysUnavailable  = ErrUnavailable.WithDescription("unavailable", "signing keys unavailable")
	errLocalKeysMissing = ErrUnavailable.WithDescription("unavailable", "signing keys not loaded")
)

// issuerPolicy is how tokens of one issuer are verified.
type issuerPolicy struct {
	name      string
	local     bool
	audiences []string
	algs      []jwa.SignatureAlgorithm // trusted issuers; local: the local keys' algs
	static    *keyring                 // inline JWKS
	remote    *remote                  // jwks_url
	validate  []jwt.ParseOption        // built once per config
}

func (g *Guard) newIssuerPolicy(name string, local bool, audiences []string, leeway time.Duration) *issuerPolicy {
	p := &issuerPolicy{name: name, local: local, audiences: audiences}
	p.validate = []jwt.ParseOption{
		jwt.WithClock(jwt.ClockFunc(g.now)),
		jwt.WithAcceptableSkew(leeway),
		jwt.WithIssuer(name),
		jwt.WithValidator(jwt.ValidatorFunc(p.checkAudience)),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
	}
	return p
}

// checkAudience accepts a token carrying any of the configured audiences.
func (p *issuerPolicy) checkAudience(_ context.Context, t jwt.Token) jwt.ValidationError {
	for _, a := range t.Audience() {
		if slices.Contains(p.audiences, a) {
			return nil
		}
	}
	return jwt.ErrInvalidAudience()
}

// verify checks a token's signature and claims from scratch. deadline is
// the instant (on the truncated clock) from which the token counts as
// expired.
func (g *Guard) verify(ctx context.Context, st *state, tok string) (p Principal, deadline time.Time, err error) {
	if err := checkCompact(tok); err != nil {
		return Principal{}, time.Time{}, err
	}
	if err := checkCanonical(tok); err != nil {
		return Principal{}, time.Time{}, err
	}
	iss, err := unverifiedIssuer(tok)
	if err != nil {
		return Principal{}, time.Time{}, err
	}
	pol := st.lookup(iss)
	if pol == nil {
		return Principal{}, time.Time{}, errUntrustedIssuer
	}

	var ring *keyring
	algs := pol.algs
	switch {
	case pol.local:
		ring = g.local.Load()
		if ring == nil || len(ring.byKID) == 0 {
			return Principal{}, time.Time{}, errLocalKeysMissing
		}
		algs = ring.algs
	case pol.static != nil:
		ring = pol.static
	default:
		if ring = pol.remote.ring.Load(); ring == nil {
			if ring = pol.remote.refetch(ctx); ring == nil {
				return Principal{}, time.Time{}, errKeysUnavailable
			}
		}
	}

	kp := jws.KeyProviderFunc(func(_ context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
		h := sig.ProtectedHeaders()
		alg := h.Algorithm()
		if !slices.Contains(algs, alg) {
			return errAlgNotAllowed
		}
		if !acceptableType(h.Type()) {
			return errTokenType
		}
		// RFC 7515 §4.1.11: a recipient must refuse a token whose "crit"
		// names an extension it does not understand; we understand none.
		if _, ok := h.Get(jws.CriticalKey); ok {
			return errCritical
		}
		kid := h.KeyID()
		k, ok := ring.lookup(kid)
		if !ok && pol.remote != nil {
			ring = pol.remote.refetch(ctx)
			k, ok = ring.lookup(kid)
		}
		if !ok {
			if kid == "" {
				return errNoKeyID
			}
			return ErrUnknownKey
		}
		if k.alg != "" && k.alg != alg || k.alg == "" && pairs(alg, k.raw) != nil {
			return errAlgKeyMismatch
		}
		sink.Key(alg, k.raw)
		return nil
	})

	opts := append(slices.Clip(pol.validate), jwt.WithKeyProvider(kp))
	t, err := jwt.Parse([]byte(tok), opts...)
	if err != nil {
		return Principal{}, time.Time{}, mapVerifyError(err)
	}
	// jwx skips exp == 0 as if absent; the rule is applied here again so
	// that it also holds for that value, and gives the cache its deadline.
	exp := t.Expiration()
	deadline = exp.Truncate(time.Second).Add(st.leeway)
	if !g.now().Truncate(time.Second).Before(deadline) {
		return Principal{}, time.Time{}, errExpired
	}
	p, err = principalOf(t, pol)
	if err != nil {
		return Principal{}, time.Time{}, err
	}
	return p, deadline, nil
}

// acceptableType allows no typ, JWT and at+jwt (RFC 9068), with or without
// the application/ prefix, case-insensitively (RFC 7515 §4.1.9).
func acceptableType(typ string) bool {
	if typ == "" {
		return true
	}
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	return strings.EqualFold(typ, "JWT") || strings.EqualFold(typ, "at+jwt")
}

// checkCanonical refuses a compact JWS whose header or signature is not
// canonical base64url (stray padding bits in the last character). jwx
// decodes them leniently and verifies the header as decoded, so one signed
// token would otherwise be accepted under several spellings. The payload
// is checked by unverifiedIssuer.
func checkCanonical(tok string) error {
	first := strings.IndexByte(tok, '.')
	last := strings.LastIndexByte(tok, '.')
	for _, seg := range []string{tok[:first], tok[last+1:]} {
		if _, err := b64canon.Decode(base64.RawURLEncoding, seg); err != nil {
			return errMalformedToken
		}
	}
	return nil
}

// unverifiedIssuer reads iss from the payload, only to choose the keys
// (refusing a payload that is not canonical base64url).
func unverifiedIssuer(tok string) (string, error) {
	first := strings.IndexByte(tok, '.')
	last := strings.LastIndexByte(tok, '.')
	payload, err := b64canon.Decode(base64.RawURLEncoding, tok[first+1:last])
	if err != nil {
		return "", errMalformedToken
	}
	var c struct {
		Iss *string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Iss == nil {
		if err == nil {
			return "", errUntrustedIssuer
		}
		return "", errMalformedToken
	}
	return *c.Iss, nil
}

// mapVerifyError turns jwx errors into precise invalid_token errors.
func mapVerifyError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, ErrUnknownKey):
		return errUnknownKeyID
	case errors.Is(err, jwt.ErrTokenExpired()):
		return errExpired
	case errors.Is(err, jwt.ErrTokenNotYetValid()):
		return errNotYetValid
	case errors.Is(err, jwt.ErrInvalidIssuedAt()):
		return errIssuedInFuture
	case errors.Is(err, jwt.ErrInvalidAudience()):
		return errAudience
	case errors.Is(err, jwt.ErrInvalidIssuer()):
		return errUntrustedIssuer
	case errors.Is(err, jwt.ErrRequiredClaim()):
		return errNoExpiry
	case jws.IsVerificationError(err):
		return errSignature
	default:
		return errMalformedToken
	}
}

// principalOf reads the claims of a verified token.
func principalOf(t jwt.Token, pol *issuerPolicy) (Principal, error) {
	p := Principal{
		Issuer:   pol.name,
		Subject:  t.Subject(),
		Expiry:   t.Expiration(),
		IssuedAt: t.IssuedAt(),
		JTI:      t.JwtID(),
		Local:    pol.local,
	}
	var err error
	if p.Scopes, err = scopesOf(t); err != nil {
		return Principal{}, err
	}
	if p.ClientID, err = stringClaim(t, "client_id"); err != nil {
		return Principal{}, err
	}
	if p.ClientID == "" {
		if p.ClientID, err = stringClaim(t, "azp"); err != nil {
			return Principal{}, err
		}
	}
	if pol.local {
		if p.SessionID, err = stringClaim(t, "sid"); err != nil {
			return Principal{}, err
		}
		if p.SessionGen, err = microsClaim(t, ClaimSessionGen); err != nil {
			return Principal{}, err
		}
		if p.ClientCreated, err = microsClaim(t, ClaimClientCreated); err != nil {
			return Principal{}, err
		}
		if p.UserCreated, err = microsClaim(t, ClaimUserCreated); err != nil {
			return Principal{}, err
		}
		if v, ok := t.Get("act"); ok {
			act, ok := v.(map[string]any)
			if !ok {
				return Principal{}, errBadClaim
			}
			if sub, ok := act["sub"].(string); ok {
				p.Actor = sub
			} else if act["sub"] != nil {
				return Principal{}, errBadClaim
			}
		}
	}
	return p, nil
}

// scopesOf reads scope (a space-delimited string, RFC 9068) or scp (an
// array of strings; a string is accepted too, as some issuers send it).
func scopesOf(t jwt.Token) (ScopeSet, error) {
	if v, ok := t.Get("scope"); ok {
		s, ok := v.(string)
		if !ok {
			return nil, errBadScopeClaim
		}
		return ParseScope(s), nil
	}
	v, ok := t.Get("scp")
	if !ok {
		return nil, nil
	}
	switch v := v.(type) {
	case string:
		return ParseScope(v), nil
	case []any:
		out := make(ScopeSet, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok || s == "" || strings.ContainsAny(s, " \t\r\n") {
				return nil, errBadScopeClaim
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, errBadScopeClaim
	}
}

// microsClaim reads a Unix-microseconds claim (tokenclaims.Micros); a
// malformed one is errBadClaim.
func microsClaim(t jwt.Token, name string) (int64, error) {
	n, err := tokenclaims.Micros(t, name)
	if err != nil {
		return 0, errBadClaim
	}
	return n, nil
}

func stringClaim(t jwt.Token, name string) (string, error) {
	v, ok := t.Get(name)
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", errBadClaim
	}
	return s, nil
}
