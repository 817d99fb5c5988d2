package guard

import (
	"net/http"
	"time"

	"github.com/clearance-gw/clearance/authz/metering"
	"github.com/clearance-gw/clearance/config"
)

// Meter counts a metered request against its client's plan
// (metering.Meter implements it). It must not wait on I/O: it is asked on
// every metered request.
type Meter interface {
	Take(issuer, clientID string, now time.Time) metering.Result
}

// Sentinels of the plan step (SPEC §11): 429, with Retry-After and the
// RateLimit fields from the meter's Result.
var (
	ErrRateLimited = &Error{Code: "rate_limited", Status: http.StatusTooManyRequests, Reason: "rate_limited",
		Description: "the client's plan allows no more requests right now: retry after the number of seconds in Retry-After"}
	ErrQuotaExceeded = &Error{Code: "quota_exceeded", Status: http.StatusTooManyRequests, Reason: "quota_exceeded",
		Description: "the client's plan quota for this period is used up: it resets after the number of seconds in Retry-After"}
)

// checkPlan is the last policy step (SPEC §11): it counts the request
// against its client's plan, so it runs only once every other step has
// accepted it, and a refused request is not counted. Public routes never
// get here; a route with metered: false is not counted. Tokens of the
// gateway's own issuer are metered by client id under the client's plan,
// those of trusted issuers by (iss, client_id) under default_plan.
func (g *Guard) checkPlan(route *config.Route, p *Principal) error {
	if g.meter == nil || route == nil || !route.Metered {
		return nil
	}
	iss := ""
	if !p.Local {
		iss = p.Issuer
	}
	p.Usage = g.meter.Take(iss, p.ClientID, g.now())
	if !p.Usage.Refused() {
		return nil
	}
	e := ErrRateLimited
	if p.Usage.Outcome == metering.QuotaExceeded {
		e = ErrQuotaExceeded
	}
	// The error gets its own copy of the verdict: pointing into p would
	// move every accepted request's Principal to the heap.
	r := &planRefusal{Error: *e, usage: p.Usage}
	r.Error.Usage = &r.usage
	return &r.Error
}

// planRefusal is a 429 with the verdict it points to, in one allocation.
type planRefusal struct {
	Error
	usage metering.Result
}
