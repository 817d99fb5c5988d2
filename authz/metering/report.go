package metering

import (
	"context"
	"time"

	"github.com/clearance-gw/clearance/authz/usage"
	"github.com/clearance-gw/clearance/config"
)

// UsageReader is the part of the store a Report reads.
type UsageReader interface {
	UsageSince(ctx context.Context, key string, from time.Time) ([]usage.Count, error)
}

// DayCount is the requests of one UTC day.
type DayCount struct {
	Day      time.Time
	Requests int64
}

// Report is a client's usage as the command line and the portal show it.
// Counts are those in the store: up to a second behind the gateways.
type Report struct {
	Key   string
	Plan  string // the effective plan; "" when the client is not metered
	Rate  string // canonical, "" for none
	Quota string // canonical, "" for unlimited
	// QuotaUsed and QuotaLeft are the requests of the quota's current
	// period and what is left of it; QuotaResets is when the period ends.
	QuotaUsed, QuotaLeft int64
	QuotaResets          time.Time
	// Days are the last N UTC days, today last, days without requests
	// included.
	Days []DayCount
	// Max is the most requests on one of Days (for scaling a chart).
	Max int64
}

// BuildReport reads the usage of key (StoreKey) over the last days UTC
// days (at least 1) up to now, under the plan that explicit names (see
// ExplicitPlan; trusted issuers' clients: "").
func BuildReport(ctx context.Context, st UsageReader, cfg *config.Config, key, explicit string, days int, now time.Time) (Report, error) {
	days = max(days, 1)
	cal := newCalendar(now)
	today := cal.dayStart
	from := today.AddDate(0, 0, -(days - 1))
	monthStart := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
	r := Report{Key: key}
	p := cfg.EffectivePlan(explicit)
	var q config.Quota
	if p != nil {
		r.Plan = p.Name
		if rt := p.ParsedRate(); !rt.IsZero() {
			r.Rate = rt.String()
		}
		if q = p.ParsedQuota(); !q.IsZero() {
			r.Quota = q.String()
		}
	}
	periodStart, periodEnd := today, today.AddDate(0, 0, 1)
	if q.Period == config.Month {
		periodStart, periodEnd = monthStart, monthStart.AddDate(0, 1, 0)
	}
	since := from
	if periodStart.Before(since) {
		since = periodStart
	}
	counts, err := st.UsageSince(ctx, key, since)
	if err != nil {
		return r, err
	}
	byDay := make(map[time.Time]int64, len(counts))
	for _, c := range counts {
		byDay[c.Day.UTC()] = c.Count
		if !c.Day.Before(periodStart) && c.Day.Before(periodEnd) {
			r.QuotaUsed += c.Count
		}
	}
	r.Days = make([]DayCount, days)
	for i := range r.Days {
		d := from.AddDate(0, 0, i)
		r.Days[i] = DayCount{Day: d, Requests: byDay[d]}
		r.Max = max(r.Max, byDay[d])
	}
	if !q.IsZero() {
		r.QuotaLeft = max(0, q.N-r.QuotaUsed)
		r.QuotaResets = periodEnd
	}
	return r, nil
}
