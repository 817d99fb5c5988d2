// Package usage holds the per-day request counts of metered clients as
// values, shared by the store that keeps them and the meter that makes
// them, so the meter (and the guard that asks it) need not import the
// store.
package usage

import "time"

// Count is one key's metered requests on one UTC day: the key is a client
// id, or issuer#client_id for a trusted issuer's client.
type Count struct {
	Key   string
	Day   time.Time
	Count int64
}

// Total is one key's metered requests on a day and in that day's calendar
// month (UTC).
type Total struct {
	Day   int64
	Month int64
}
