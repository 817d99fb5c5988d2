// Package metering enforces plans (SPEC §11): a token bucket per client
// for a plan's rate, a count per client per UTC day or calendar month for
// its quota, and the per-day counts kept in the store.
//
// Counting happens in memory on the request path; Flush adds the counts to
// the store and reads back the totals of every instance (Run does it twice
// a second), so the request path never waits on the store and N instances
// sharing a store overshoot a quota by at most about one second of their
// traffic. Clients idle long enough for their bucket to be full again are
// forgotten, so memory follows the clients active in the last minutes,
// not every client ever seen.
package metering

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clearance-gw/clearance/config"
)

// Plan is a config plan compiled for the request path.
type Plan struct {
	Name  string
	Rate  config.Rate  // zero: no rate limit
	Quota config.Quota // zero: unlimited

	perNs  float64 // tokens added per nanosecond
	burst  float64 // bucket size: one window of the rate
	window int64   // seconds, for the headers

	// Policy is the RateLimit-Policy field value, e.g.
	// "rate";q=10;w=1, "quota";q=10000;w=2592000 ("" when the plan has
	// neither a rate nor a quota).
	Policy string

	allowed, rateLimited, quotaExceeded prometheus.Counter
}

// Limited reports whether the plan has a rate or a quota, and so whether
// its responses carry RateLimit fields.
func (p *Plan) Limited() bool { return p != nil && (!p.Rate.IsZero() || !p.Quota.IsZero()) }

// quotaWindow is the w of a quota policy: a day, or 30 days for a month.
func quotaWindow(p config.Period) int64 {
	if p == config.Month {
		return 30 * 86400
	}
	return 86400
}

// plans are the compiled plans of one config.
type plans struct {
	byName map[string]*Plan
	def    *Plan // nil: clients without a plan are not metered
}

// lookup is config.EffectivePlan on the compiled plans.
func (ps *plans) lookup(name string) *Plan {
	if name != "" {
		if p := ps.byName[name]; p != nil {
			return p
		}
	}
	return ps.def
}

func compile(cfg *config.Config, m *metrics) *plans {
	ps := &plans{byName: make(map[string]*Plan, len(cfg.Plans))}
	for _, cp := range cfg.Plans {
		p := &Plan{Name: cp.Name, Rate: cp.ParsedRate(), Quota: cp.ParsedQuota()}
		var policy []string
		if !p.Rate.IsZero() {
			p.burst = float64(p.Rate.N)
			p.perNs = float64(p.Rate.N) / float64(p.Rate.Window)
			p.window = int64(p.Rate.Window / time.Second)
			policy = append(policy, `"rate";q=`+strconv.FormatInt(p.Rate.N, 10)+";w="+strconv.FormatInt(p.window, 10))
		}
		if !p.Quota.IsZero() {
			policy = append(policy, `"quota";q=`+strconv.FormatInt(p.Quota.N, 10)+";w="+strconv.FormatInt(quotaWindow(p.Quota.Period), 10))
		}
		p.Policy = strings.Join(policy, ", ")
		p.allowed = m.requests.WithLabelValues(p.Name, string(Allowed))
		p.rateLimited = m.requests.WithLabelValues(p.Name, string(RateLimited))
		p.quotaExceeded = m.requests.WithLabelValues(p.Name, string(QuotaExceeded))
		ps.byName[p.Name] = p
	}
	if cfg.DefaultPlan != "" {
		ps.def = ps.byName[cfg.DefaultPlan]
	}
	return ps
}
