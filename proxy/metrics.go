package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the proxy's Prometheus collectors. Build one with NewMetrics
// on a registry the caller owns; a nil *Metrics records nothing.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	upstream *prometheus.HistogramVec
	reloads  *prometheus.CounterVec
}

// NewMetrics registers the proxy's collectors on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	// The buckets reach past the default 30 s route timeout so that 504s
	// land in a finite bucket.
	latencyBuckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	m := &Metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "clearance_http_requests_total",
			Help: "HTTP requests served by the gateway, by route and status class.",
		}, []string{"route", "code"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clearance_http_request_duration_seconds",
			Help:    "Time from receiving a request to the end of its response, by route.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		upstream: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clearance_upstream_duration_seconds",
			Help:    "Time the upstream took to answer with response headers, by route.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		reloads: f.NewCounterVec(prometheus.CounterOpts{
			Name: "clearance_config_reloads_total",
			Help: "Configuration reloads, by result (success or failure).",
		}, []string{"result"}),
	}
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	return m
}

// Reload counts one configuration reload attempt.
func (m *Metrics) Reload(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.reloads.WithLabelValues("success").Inc()
	} else {
		m.reloads.WithLabelValues("failure").Inc()
	}
}

// classLabel is the code label of a status class index (status/100).
func classLabel(i int) string {
	return string([]byte{byte('0' + i), 'x', 'x'})
}

// routeMetrics holds the series of one route resolved once, so the hot path
// does no label lookups.
type routeMetrics struct {
	codes    [6]prometheus.Counter
	duration prometheus.Observer
	upstream prometheus.Observer // nil for endpoints and "none"
}

// forRoute resolves the series for one route label. A nil receiver gives
// nil, which records nothing.
func (m *Metrics) forRoute(name string, proxied bool) *routeMetrics {
	if m == nil {
		return nil
	}
	rm := &routeMetrics{duration: m.duration.WithLabelValues(name)}
	for i := 1; i < len(rm.codes); i++ {
		rm.codes[i] = m.requests.WithLabelValues(name, classLabel(i))
	}
	if proxied {
		rm.upstream = m.upstream.WithLabelValues(name)
	}
	return rm
}

func statusClass(status int) int {
	switch {
	case status < 200:
		return 1
	case status >= 500:
		return 5
	default:
		return status / 100
	}
}

func (rm *routeMetrics) observe(status int, seconds float64) {
	if rm == nil {
		return
	}
	rm.codes[statusClass(status)].Inc()
	rm.duration.Observe(seconds)
}

func (rm *routeMetrics) observeUpstream(seconds float64) {
	if rm == nil || rm.upstream == nil {
		return
	}
	rm.upstream.Observe(seconds)
}
