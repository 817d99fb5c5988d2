package subscription

import (
	"time"

	"github.com/clearance-gw/clearance/authz/store"
)

// View is a subscription as the operator sees it, in the admin API
// (SPEC §12) and in "clearance subscription add/list --json": the store's
// record, dates in RFC 3339 UTC, and whether it is active now. (Customers
// see the seed's shape instead: see MarshalList.)
type View struct {
	ID         int64  `json:"id"`
	User       string `json:"user"`
	Type       string `json:"type"`
	Name       string `json:"name"`
	DateActive string `json:"date_active"`
	DateExpiry string `json:"date_expiry"`
	Active     bool   `json:"active"`
}

// ViewOf is the View of s at now.
func ViewOf(s store.Subscription, now time.Time) View {
	return View{ID: s.ID, User: s.User, Type: s.Type, Name: s.Name,
		DateActive: s.DateActive.UTC().Format(time.RFC3339), DateExpiry: s.DateExpiry.UTC().Format(time.RFC3339),
		Active: s.Active(now)}
}
