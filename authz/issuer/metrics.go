package issuer

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the issuer's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	issuedTotal *prometheus.CounterVec
	issuedBy    map[string]prometheus.Counter // the counter of each grant, looked up once
	errorsTotal *prometheus.CounterVec
	sessions    prometheus.Gauge
}

// NewMetrics registers the issuer's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		issuedTotal: f.NewCounterVec(prometheus.CounterOpts{
			Name: "clearance_tokens_issued_total",
			Help: "Access tokens issued, by grant type.",
		}, []string{"grant"}),
		errorsTotal: f.NewCounterVec(prometheus.CounterOpts{
			Name: "clearance_token_errors_total",
			Help: "Error responses of the token, revocation and introspection endpoints, by OAuth error code.",
		}, []string{"error"}),
		sessions: f.NewGauge(prometheus.GaugeOpts{
			Name: "clearance_active_sessions",
			Help: "Sessions (refresh-token families, a2a and admin tokens) neither revoked nor expired.",
		}),
	}
	m.issuedBy = make(map[string]prometheus.Counter)
	for _, g := range []string{"client_credentials", "password", "refresh_token", "authorization_code", "a2a", "admin"} {
		m.issuedBy[g] = m.issuedTotal.WithLabelValues(g)
	}
	for _, e := range []*Error{ErrInvalidRequest, ErrInvalidClient, ErrInvalidGrant, ErrUnauthorizedClient,
		ErrUnsupportedGrantType, ErrInvalidScope, ErrServerError} {
		m.errorsTotal.WithLabelValues(e.Code)
	}
	return m
}

func (m *Metrics) issued(grant string) {
	if m == nil {
		return
	}
	if c, ok := m.issuedBy[grant]; ok {
		c.Inc()
		return
	}
	m.issuedTotal.WithLabelValues(grant).Inc()
}

func (m *Metrics) tokenError(code string) {
	if m != nil {
		m.errorsTotal.WithLabelValues(code).Inc()
	}
}
