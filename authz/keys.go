package authz

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// ErrUnknownKey is returned by the key lookup when a token names a kid its
// issuer does not publish (after the rate-limited refetch). Check maps it
// onto invalid_token.
var ErrUnknownKey = errors.New("unknown signing key")

// MaxJWKSSize bounds a fetched JWKS document.
const MaxJWKSSize = 1 << 20

// minRSABits is the smallest RSA modulus accepted for RS*/PS*.
const minRSABits = 2048

// ringKey is one verification key, converted to its raw crypto form once.
type ringKey struct {
	kid string
	alg jwa.SignatureAlgorithm // "" when the set left it open
	raw any                    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// keyring is an immutable, verified view of a key set.
type keyring struct {
	byKID map[string]*ringKey
	only  *ringKey                 // the key of a one-key set, for tokens without kid
	algs  []jwa.SignatureAlgorithm // the distinct algs of keys that name one
}

func (kr *keyring) lookup(kid string) (*ringKey, bool) {
	if kr == nil {
		return nil, false
	}
	if kid == "" {
		return kr.only, kr.only != nil
	}
	k, ok := kr.byKID[kid]
	return k, ok
}

// ringOptions say how strictly a set is read.
type ringOptions struct {
	// algs are the algorithms configured for the issuer; a key without alg
	// gets the one alg that fits its type, if there is exactly one.
	algs []jwa.SignatureAlgorithm
	// strict refuses the whole set for one bad key (local keys) instead of
	// dropping that key (remote and inline sets).
	strict bool
}

// buildKeyring drops keys not meant for signatures, symmetric keys and keys
// whose alg does not pair with their type, and returns the dropped keys'
// reasons. filtered is the set of kept keys (with alg filled where it was
// decided), for the jwk.Cache.
func buildKeyring(set jwk.Set, o ringOptions) (kr *keyring, filtered jwk.Set, dropped []error) {
	kr = &keyring{byKID: make(map[string]*ringKey)}
	filtered = jwk.NewSet()
	var kept []*ringKey
	for i := range set.Len() {
		k, ok := set.Key(i)
		if !ok {
			continue
		}
		rk, err := readKey(k, o)
		if err != nil {
			dropped = append(dropped, fmt.Errorf("key %d (kid %q): %w", i, k.KeyID(), err))
			continue
		}
		if _, dup := kr.byKID[rk.kid]; dup {
			dropped = append(dropped, fmt.Errorf("key %d: duplicate kid %q", i, rk.kid))
			continue
		}
		if rk.alg != "" && k.Algorithm().String() == "" {
			if err := k.Set(jwk.AlgorithmKey, rk.alg); err != nil {
				dropped = append(dropped, fmt.Errorf("key %d (kid %q): %w", i, rk.kid, err))
				continue
			}
		}
		kr.byKID[rk.kid] = rk
		kept = append(kept, rk)
		if rk.alg != "" && !slices.Contains(kr.algs, rk.alg) {
			kr.algs = append(kr.algs, rk.alg)
		}
		_ = filtered.AddKey(k)
	}
	if len(kept) == 1 {
		kr.only = kept[0]
	}
	return kr, filtered, dropped
}

func readKey(k jwk.Key, o ringOptions) (*ringKey, error) {
	if use := k.KeyUsage(); use != "" && use != jwk.ForSignature.String() {
		return nil, fmt.Errorf("use %q is not sig", use)
	}
	if k.KeyType() == jwa.OctetSeq {
		return nil, errors.New("symmetric keys are never accepted")
	}
	raw, err := jwk.PublicRawKeyOf(k)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	rk := &ringKey{kid: k.KeyID(), raw: raw}
	if o.strict && rk.kid == "" {
		return nil, errors.New("no kid")
	}
	if a := k.Algorithm().String(); a != "" {
		alg := jwa.SignatureAlgorithm(a)
		if err := pairs(alg, raw); err != nil {
			return nil, err
		}
		if len(o.algs) > 0 && !slices.Contains(o.algs, alg) {
			return nil, fmt.Errorf("alg %s is not configured for the issuer", alg)
		}
		rk.alg = alg
		return rk, nil
	}
	if o.strict {
		return nil, errors.New("no alg")
	}
	var fit []jwa.SignatureAlgorithm
	for _, a := range o.algs {
		if pairs(a, raw) == nil {
			fit = append(fit, a)
		}
	}
	switch len(fit) {
	case 0:
		return nil, fmt.Errorf("no configured algorithm fits a %s key", k.KeyType())
	case 1:
		rk.alg = fit[0]
	}
	return rk, nil
}

// pairs checks that alg can be used with the raw public key: RS*/PS* with
// RSA of at least 2048 bits, ES256/384/512 with P-256/384/521, EdDSA with
// Ed25519. Anything else (none, HS*, ES256K) is refused.
func pairs(alg jwa.SignatureAlgorithm, raw any) error {
	switch alg {
	case jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512:
		k, ok := raw.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an RSA key, not %T", alg, raw)
		}
		if k.N == nil || k.N.BitLen() < minRSABits {
			return fmt.Errorf("%s needs an RSA key of at least %d bits", alg, minRSABits)
		}
		return nil
	case jwa.ES256, jwa.ES384, jwa.ES512:
		k, ok := raw.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an EC key, not %T", alg, raw)
		}
		want := elliptic.P256()
		switch alg {
		case jwa.ES384:
			want = elliptic.P384()
		case jwa.ES512:
			want = elliptic.P521()
		}
		if k.Curve != want {
			return fmt.Errorf("%s needs curve %s", alg, want.Params().Name)
		}
		return nil
	case jwa.EdDSA:
		if _, ok := raw.(ed25519.PublicKey); !ok {
			return fmt.Errorf("EdDSA needs an Ed25519 key, not %T", raw)
		}
		return nil
	default:
		return fmt.Errorf("algorithm %q is not accepted", alg)
	}
}

// parseAlgorithms validates configured algorithm names.
func parseAlgorithms(names []string) ([]jwa.SignatureAlgorithm, error) {
	if len(names) == 0 {
		return []jwa.SignatureAlgorithm{jwa.RS256}, nil
	}
	out := make([]jwa.SignatureAlgorithm, 0, len(names))
	for _, n := range names {
		a := jwa.SignatureAlgorithm(n)
		switch a {
		case jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512,
			jwa.ES256, jwa.ES384, jwa.ES512, jwa.EdDSA:
		default:
			return nil, fmt.Errorf("algorithm %q is not accepted (use RS*, PS*, ES256/384/512 or EdDSA)", n)
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// remote is one jwks_url: its registration in the jwk.Cache, the last good
// keyring and the limiter of refetches caused by unknown kids.
type remote struct {
	url      string
	label    string // issuer name, the metrics label
	settings remoteSettings
	cache    *jwk.Cache
	now      func() time.Time
	log      *slog.Logger
	metrics  *Metrics

	ring atomic.Pointer[keyring] // nil until a fetch succeeded

	mu       sync.Mutex
	last     time.Time     // start of the last refetch caused by a miss
	inflight chan struct{} // closed when the running refetch ends
}

// remoteSettings are what a registration depends on; a reload that
// changes them registers the URL anew.
type remoteSettings struct {
	refresh    time.Duration
	minRefetch time.Duration
	algs       string // comma-joined, for comparison
}

// postFetch runs after every successful download (start-up, background and
// refetch): it filters the set, remembers it as the last good keyring and
// counts the refresh.
func (r *remote) postFetch(algs []jwa.SignatureAlgorithm) jwk.PostFetchFunc {
	return func(_ string, set jwk.Set) (jwk.Set, error) {
		kr, filtered, dropped := buildKeyring(set, ringOptions{algs: algs})
		for _, err := range dropped {
			r.log.Warn("jwks key ignored", "issuer", r.label, "error", err)
		}
		if len(kr.byKID) == 0 {
			return nil, errors.New("no usable signing keys in the set")
		}
		r.ring.Store(kr)
		r.metrics.jwksRefresh.WithLabelValues(r.label, "ok").Inc()
		return filtered, nil
	}
}

// fetch downloads the set now. A failure keeps the last good keyring.
func (r *remote) fetch(ctx context.Context) error {
	if _, err := r.cache.Refresh(ctx, r.url); err != nil {
		r.metrics.jwksRefresh.WithLabelValues(r.label, "error").Inc()
		r.log.Warn("jwks fetch failed", "issuer", r.label, "url", r.url, "error", err)
		return err
	}
	return nil
}

// refetch is the reaction to an unknown kid (or to keys never fetched): at
// most one download per minRefetch interval of the injected clock;
// concurrent callers share the running one. It returns the keyring in
// force afterwards.
func (r *remote) refetch(ctx context.Context) *keyring {
	r.mu.Lock()
	if ch := r.inflight; ch != nil {
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		return r.ring.Load()
	}
	now := r.now()
	if !r.last.IsZero() && now.Sub(r.last) < r.settings.minRefetch {
		r.mu.Unlock()
		return r.ring.Load()
	}
	r.last = now
	ch := make(chan struct{})
	r.inflight = ch
	r.mu.Unlock()

	// The download is shared: one caller's cancellation must not fail the
	// others, so it runs on a context that only inherits values.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	_ = r.fetch(fctx)
	cancel()

	r.mu.Lock()
	r.inflight = nil
	r.mu.Unlock()
	close(ch)
	return r.ring.Load()
}

// fetchTimeout bounds one JWKS download, and the default client's timeout.
const fetchTimeout = 10 * time.Second

// jwksClient is the jwk.HTTPClient: a bounded read, non-200 as an error,
// requests bound to the guard's lifetime.
type jwksClient struct {
	ctx context.Context // the guard's lifetime (background worker context)
	c   *http.Client
}

func (j jwksClient) Get(u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(j.ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	res, err := j.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", res.Status)
	}
	if res.ContentLength > MaxJWKSSize {
		return nil, fmt.Errorf("document of %d bytes exceeds %d", res.ContentLength, MaxJWKSSize)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(body) > MaxJWKSSize {
		return nil, fmt.Errorf("document exceeds %d bytes", MaxJWKSSize)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	return res, nil
}
