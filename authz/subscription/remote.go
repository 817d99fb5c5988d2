package subscription

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"

	"github.com/clearance-gw/clearance/authz/guard"
)

// RemoteOptions configure a Remote source.
type RemoteOptions struct {
	// URL is the remote service's base URL ("https://api.example"), or
	// its full /v1/subscriptions/valid URL.
	URL string
	// TTL is how long a user's answer is reused (default 5m); CacheSize
	// how many users are kept (default 10000).
	TTL       time.Duration
	CacheSize int
	// Timeout bounds one upstream call (default 3s).
	Timeout time.Duration
	// Client makes the calls; nil means a client on a clone of the default
	// transport. Its own Timeout, if any, also applies.
	Client  *http.Client
	Now     func() time.Time // default time.Now
	Metrics *Metrics         // nil: counted on unregistered counters
}

// Remote asks a remote GET /v1/subscriptions/valid with the user's own
// bearer token, and caches each user's answer (an LRU bounded in size,
// entries expiring after TTL by the injected clock). Concurrent misses for
// one user make one upstream call. Failures are returned, never cached.
type Remote struct {
	url     string
	ttl     time.Duration
	timeout time.Duration
	client  *http.Client
	now     func() time.Time
	metrics *Metrics
	cache   *expirable.LRU[string, cacheEntry]
	flight  singleflight.Group
}

type cacheEntry struct {
	subs    []Subscription
	expires time.Time
}

// Defaults, as documented on RemoteOptions.
const (
	defaultTTL       = 5 * time.Minute
	defaultCacheSize = 10000
	defaultTimeout   = 3 * time.Second
)

// NewRemote returns a remote source.
func NewRemote(opts RemoteOptions) (*Remote, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("subscriptions url %q is not an absolute http(s) URL", opts.URL)
	}
	if !strings.HasSuffix(u.Path, ValidPath) {
		u.Path = strings.TrimSuffix(u.Path, "/") + ValidPath
		u.RawPath = ""
	}
	r := &Remote{
		url:     u.String(),
		ttl:     opts.TTL,
		timeout: opts.Timeout,
		client:  opts.Client,
		now:     opts.Now,
		metrics: opts.Metrics,
	}
	if r.ttl <= 0 {
		r.ttl = defaultTTL
	}
	if r.timeout <= 0 {
		r.timeout = defaultTimeout
	}
	size := opts.CacheSize
	if size <= 0 {
		size = defaultCacheSize
	}
	if r.client == nil {
		r.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.metrics == nil {
		r.metrics = NewMetrics(nil, nil)
	}
	// The LRU's own TTL only reclaims memory; freshness is decided by
	// cacheEntry.expires against the injected clock. Its cleanup goroutine
	// lives as long as the process (golang-lru v2 cannot stop it), so make
	// one Remote per gateway, not per reload.
	r.cache = expirable.NewLRU[string, cacheEntry](size, nil, r.ttl)
	return r, nil
}

// URL is the endpoint the source asks.
func (r *Remote) URL() string { return r.url }

// key identifies a user across tokens: issuer and subject.
func key(p guard.Principal) string { return p.Issuer + "\x00" + p.Subject }

// Valid returns p's subscriptions as the remote service lists them,
// from the cache when the user's answer is fresh.
func (r *Remote) Valid(ctx context.Context, p guard.Principal, token string) ([]Subscription, error) {
	k := key(p)
	if e, ok := r.cache.Get(k); ok {
		if r.now().Before(e.expires) {
			r.metrics.hit.Inc()
			return e.subs, nil
		}
		r.cache.Remove(k)
	}
	r.metrics.miss.Inc()
	// One fetch per user at a time: callers arriving during it share its
	// result, or give up with their own context; the caller whose fetch
	// runs (started is closed) waits for it to the end.
	started := make(chan struct{})
	ch := r.flight.DoChan(k, func() (any, error) {
		close(started)
		// The call outlives the request that started it: others may be
		// waiting for the same user.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
		defer cancel()
		subs, err := r.fetch(fctx, token)
		if err != nil {
			r.metrics.fetchErr.Inc()
			return nil, err
		}
		r.metrics.fetchOK.Inc()
		r.cache.Add(k, cacheEntry{subs: subs, expires: r.now().Add(r.ttl)})
		return subs, nil
	})
	var res singleflight.Result
	select {
	case res = <-ch:
	case <-ctx.Done():
		select {
		case <-started:
			res = <-ch
		default:
			return nil, ctx.Err()
		}
	}
	subs, _ := res.Val.([]Subscription)
	return subs, res.Err
}

// Active reports whether p's user has a subscription of kind active now.
func (r *Remote) Active(ctx context.Context, p guard.Principal, token, kind string) (bool, error) {
	subs, err := r.Valid(ctx, p, token)
	if err != nil {
		return false, err
	}
	return hasKind(subs, kind, r.now()), nil
}

// fetch makes one upstream call.
func (r *Remote) fetch(ctx context.Context, token string) ([]Subscription, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, fmt.Errorf("subscriptions request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	res, err := r.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("subscriptions service did not answer within %s", r.timeout)
		}
		return nil, fmt.Errorf("subscriptions service: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
		return nil, fmt.Errorf("subscriptions service answered %s", res.Status)
	}
	subs, err := ParseList(res.Body)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("subscriptions service did not answer within %s", r.timeout)
		}
		return nil, err
	}
	return subs, nil
}
