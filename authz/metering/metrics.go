package metering

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	requests *prometheus.CounterVec // plan, outcome
	clients  prometheus.GaugeFunc
	flushes  *prometheus.CounterVec // result
}

func newMetrics(reg prometheus.Registerer, clients func() float64) *metrics {
	f := promauto.With(reg)
	return &metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "clearance_metered_requests_total",
			Help: "Requests counted against a plan, by plan and outcome (allowed, rate_limited, quota_exceeded).",
		}, []string{"plan", "outcome"}),
		clients: f.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "clearance_metered_clients",
			Help: "Metered clients this instance holds in memory (idle ones are forgotten).",
		}, clients),
		flushes: f.NewCounterVec(prometheus.CounterOpts{
			Name: "clearance_usage_flushes_total",
			Help: "Writes of this instance's request counts to the store, by result (ok or error).",
		}, []string{"result"}),
	}
}
