package subscription

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clearance-gw/clearance/authz/guard"
)

// Metrics count the remote source's cache and upstream calls.
type Metrics struct {
	hit, miss         prometheus.Counter
	fetchOK, fetchErr prometheus.Counter
}

// NewMetrics registers clearance_subscription_fetches_total{result} on reg
// and counts cache lookups as clearance_cache_hits_total and
// clearance_cache_misses_total with cache="subscriptions", which am (the
// guard's metrics, on the same registry) already registered. A nil reg or
// am leaves those counters unregistered.
func NewMetrics(reg prometheus.Registerer, am *guard.Metrics) *Metrics {
	m := &Metrics{}
	if am != nil {
		m.hit, m.miss = am.CacheCounters("subscriptions")
	} else {
		m.hit = prometheus.NewCounter(prometheus.CounterOpts{Name: "clearance_cache_hits_total"})
		m.miss = prometheus.NewCounter(prometheus.CounterOpts{Name: "clearance_cache_misses_total"})
	}
	fetches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "clearance_subscription_fetches_total",
		Help: "Calls to the remote subscriptions service, by result (ok or error).",
	}, []string{"result"})
	if reg != nil {
		reg.MustRegister(fetches)
	}
	m.fetchOK, m.fetchErr = fetches.WithLabelValues("ok"), fetches.WithLabelValues("error")
	return m
}
