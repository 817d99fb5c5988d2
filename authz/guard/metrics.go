package guard

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the authz counters. Label values come from fixed reason
// names and configured issuer names, never from a token.
type Metrics struct {
	authFailures *prometheus.CounterVec // reason
	cacheHits    *prometheus.CounterVec // cache
	cacheMisses  *prometheus.CounterVec // cache
	jwksRefresh  *prometheus.CounterVec // issuer, result

	// failures holds the authFailures counter of each reason seen so far,
	// so that counting a refusal is a map read: no label hashing, no
	// allocation. Copied on write, under mu.
	failures atomic.Pointer[map[string]prometheus.Counter]
	mu       sync.Mutex
}

// authFailure is the clearance_auth_failures_total counter of reason.
func (m *Metrics) authFailure(reason string) prometheus.Counter {
	if p := m.failures.Load(); p != nil {
		if c, ok := (*p)[reason]; ok {
			return c
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next := map[string]prometheus.Counter{}
	if p := m.failures.Load(); p != nil {
		for k, v := range *p {
			next[k] = v
		}
	}
	c, ok := next[reason]
	if !ok {
		c = m.authFailures.WithLabelValues(reason)
		next[reason] = c
		m.failures.Store(&next)
	}
	return c
}

// NewMetrics registers the authz metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		authFailures: f.NewCounterVec(prometheus.CounterOpts{
			Name: "clearance_auth_failures_total",
			Help: "Requests refused by token checks, by reason.",
		}, []string{"reason"}),
		cacheHits: f.NewCounterVec(prometheus.CounterOpts{
			Name: "clearance_cache_hits_total",
			Help: "Cache lookups that found a usable entry, by cache.",
		}, []string{"cache"}),
		cacheMisses: f.NewCounterVec(prometheus.CounterOpts{
			Name: "clearance_cache_misses_total",
			Help: "Cache lookups that found no usable entry, by cache.",
		}, []string{"cache"}),
		jwksRefresh: f.NewCounterVec(prometheus.CounterOpts{
			Name: "clearance_jwks_refresh_total",
			Help: "JWKS downloads of trusted issuers, by issuer and result (ok or error).",
		}, []string{"issuer", "result"}),
	}
}

// Counters resolved once per guard, so the hot path does no label lookups.
type tokenCacheCounters struct {
	hit, miss prometheus.Counter
}

func (m *Metrics) tokenCache() tokenCacheCounters {
	return tokenCacheCounters{
		hit:  m.cacheHits.WithLabelValues("token"),
		miss: m.cacheMisses.WithLabelValues("token"),
	}
}

// CacheCounters returns the clearance_cache_hits_total and
// clearance_cache_misses_total counters of one cache, for caches kept
// outside this package (the subscriptions cache).
func (m *Metrics) CacheCounters(cache string) (hit, miss prometheus.Counter) {
	return m.cacheHits.WithLabelValues(cache), m.cacheMisses.WithLabelValues(cache)
}
