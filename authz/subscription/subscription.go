// Package subscription answers the gateway's subscription checks (SPEC §6
// step 6) and serves GET /v1/subscriptions/valid.
//
// Two sources implement guard.Subscriptions: Local reads the gateway's own
// store (managed with "clearance subscription add/list/remove"), and Remote
// asks an upstream GET /v1/subscriptions/valid with the user's own token,
// caching each user's answer for a while.
package subscription

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/clearance-gw/clearance/config"
)

// ValidPath is the path of the subscriptions endpoint, on the gateway and
// on a remote source (config reserves it from endpoints:).
const ValidPath = config.SubscriptionsPath

// Subscription is one entry of a user's subscriptions.
type Subscription struct {
	Type       string    // "fmsdata"
	Name       string    // a display name, "Navigraph Navigation Data" (subscription_name)
	DateActive time.Time // first instant it is valid
	DateExpiry time.Time // last instant it is valid
}

// ActiveAt reports whether DateActive <= now <= DateExpiry.
func (s Subscription) ActiveAt(now time.Time) bool {
	return !now.Before(s.DateActive) && !now.After(s.DateExpiry)
}

// wire is a subscription in the JSON array of /v1/subscriptions/valid,
// with exactly the field names of the API the navigraph profile stands in
// for.
type wire struct {
	DateActive       string `json:"date_active"`
	DateExpiry       string `json:"date_expiry"`
	SubscriptionName string `json:"subscription_name"`
	Type             string `json:"type"`
}

// MarshalList encodes subscriptions as the JSON array the endpoint returns,
// dates in RFC 3339 UTC; an empty list is [].
func MarshalList(subs []Subscription) ([]byte, error) {
	out := make([]wire, len(subs))
	for i, s := range subs {
		out[i] = wire{
			DateActive:       s.DateActive.UTC().Format(time.RFC3339),
			DateExpiry:       s.DateExpiry.UTC().Format(time.RFC3339),
			SubscriptionName: s.Name,
			Type:             s.Type,
		}
	}
	return json.Marshal(out)
}

// maxListBytes bounds a remote answer.
const maxListBytes = 1 << 20

// errMalformed marks a remote answer that is not a subscription array.
var errMalformed = errors.New("malformed subscriptions response")

// ParseList decodes a JSON array of subscriptions as a remote source sends
// it. Unknown fields are ignored; an entry without a type, or with a date
// ParseDate does not read, makes the whole answer malformed (so it is not
// cached as "no subscription").
func ParseList(r io.Reader) ([]Subscription, error) {
	var in []wire
	dec := json.NewDecoder(io.LimitReader(r, maxListBytes+1))
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if in == nil {
		return nil, fmt.Errorf("%w: not an array", errMalformed)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the array", errMalformed)
	}
	out := make([]Subscription, 0, len(in))
	for i, w := range in {
		if w.Type == "" {
			return nil, fmt.Errorf("%w: entry %d has no type", errMalformed, i)
		}
		from, err := ParseDate(w.DateActive, false)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: date_active: %v", errMalformed, i, err)
		}
		until, err := ParseDate(w.DateExpiry, true)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: date_expiry: %v", errMalformed, i, err)
		}
		out = append(out, Subscription{Type: w.Type, Name: w.SubscriptionName, DateActive: from, DateExpiry: until})
	}
	return out, nil
}

// ParseDate reads an RFC 3339 time ("2025-01-31T12:00:00Z") or a day
// ("2025-01-31", UTC). A day is its first second, or with endOfDay its last
// one, so "--until 2025-01-31" includes the whole of that day.
func ParseDate(s string, endOfDay bool) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, s); err != nil {
			return time.Time{}, fmt.Errorf("%q is not a date: use RFC 3339 (2025-01-31T12:00:00Z) or YYYY-MM-DD", s)
		}
		if endOfDay {
			t = t.Add(24*time.Hour - time.Second)
		}
	}
	// Years outside 1..9999 (after the offset) would not print back as
	// RFC 3339.
	if t = t.UTC(); t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("%q is out of range", s)
	}
	return t, nil
}
