package metering

import "strconv"

// Outcome is what the meter decided about one request; it is also the
// outcome label of clearance_metered_requests_total.
type Outcome string

// Outcomes.
const (
	Allowed       Outcome = "allowed"
	RateLimited   Outcome = "rate_limited"
	QuotaExceeded Outcome = "quota_exceeded"
)

// Result is the meter's verdict on one request. The zero Result (Plan nil)
// means the request is not metered.
type Result struct {
	Plan    *Plan
	Outcome Outcome

	// The plan's rate: whole requests left in the bucket, and seconds
	// until the next one is added (Plan.Rate not zero).
	RateRemaining, RateReset int64
	// The plan's quota: requests left in the period, and seconds until
	// the period ends (Plan.Quota not zero).
	QuotaRemaining, QuotaReset int64
	// RetryAfter is the Retry-After of a refused request, in seconds.
	RetryAfter int64
}

// Metered reports whether the request counted against a plan.
func (r *Result) Metered() bool { return r.Plan != nil }

// Refused reports whether the request must be answered 429.
func (r *Result) Refused() bool { return r.Plan != nil && r.Outcome != Allowed }

// AppendRateLimit appends the RateLimit field value
// (draft-ietf-httpapi-ratelimit-headers-11): one item per policy of
// Plan.Policy, in the same order, e.g. "rate";r=7;t=1, "quota";r=9993;t=86400.
// Nothing is appended for a plan without a rate or a quota.
func (r *Result) AppendRateLimit(b []byte) []byte {
	p := r.Plan
	if p == nil {
		return b
	}
	sep := false
	if !p.Rate.IsZero() {
		b = append(b, `"rate";r=`...)
		b = strconv.AppendInt(b, r.RateRemaining, 10)
		b = append(b, ";t="...)
		b = strconv.AppendInt(b, r.RateReset, 10)
		sep = true
	}
	if !p.Quota.IsZero() {
		if sep {
			b = append(b, ", "...)
		}
		b = append(b, `"quota";r=`...)
		b = strconv.AppendInt(b, r.QuotaRemaining, 10)
		b = append(b, ";t="...)
		b = strconv.AppendInt(b, r.QuotaReset, 10)
	}
	return b
}

// RateLimit returns the RateLimit field value (see AppendRateLimit).
func (r *Result) RateLimit() string {
	var buf [96]byte
	return string(r.AppendRateLimit(buf[:0]))
}
