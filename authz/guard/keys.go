package guard

import (
	"bytes"
	"context"
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
	"golang.org/x/sync/singleflight"

	"github.com/clearance-gw/clearance/authz/sigkey"
)

// ErrUnknownKey is returned by the key lookup when a token names a kid its
// issuer does not publish (after the rate-limited refetch). Check maps it
// onto invalid_token.
var ErrUnknownKey = errors.New("unknown signing key")

// MaxJWKSSize bounds a fetched JWKS document.
const MaxJWKSSize = 1 << 20

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
	key, err := sigkey.Read(k, o.algs, o.strict)
	if err != nil {
		return nil, err
	}
	return &ringKey{kid: key.KID, alg: key.Alg, raw: key.Raw}, nil
}

// pairs reports whether raw is a key alg can verify with (sigkey.Pairs).
func pairs(alg jwa.SignatureAlgorithm, raw any) error { return sigkey.Pairs(alg, raw) }

// parseAlgorithms validates configured algorithm names
// (sigkey.ParseAlgorithms).
func parseAlgorithms(names []string) ([]jwa.SignatureAlgorithm, error) {
	return sigkey.ParseAlgorithms(names)
}

// remote is one jwks_url: its registration in the jwk.Cache, the last good
// keyring and the limiter of refetches caused by unknown kids.
type remote struct {
	url      string
	label    string // issuer name, the metrics label
	settings remoteSettings
	cache    *jwk.Cache
	keyGen   *atomic.Uint64 // the guard's, counted up when ring changes
	now      func() time.Time
	log      *slog.Logger
	metrics  *Metrics

	ring atomic.Pointer[keyring] // nil until a fetch succeeded

	flight singleflight.Group // one refetch at a time, shared by callers
	mu     sync.Mutex
	last   time.Time // start of the last refetch caused by a miss
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
		r.keyGen.Add(1)
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
	ch := r.flight.DoChan("", func() (any, error) {
		r.mu.Lock()
		now := r.now()
		if !r.last.IsZero() && now.Sub(r.last) < r.settings.minRefetch {
			r.mu.Unlock()
			return nil, nil
		}
		r.last = now
		r.mu.Unlock()

		// The download is shared: one caller's cancellation must not fail
		// the others, so it runs on a context that only inherits values.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		_ = r.fetch(fctx)
		return nil, nil
	})
	select {
	case <-ch:
	case <-ctx.Done():
	}
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
