package adminapi

import (
	"time"

	"github.com/clearance-gw/clearance/authz/metering"
	"github.com/clearance-gw/clearance/authz/store"
)

// The JSON of the API's resources (SPEC §12). Secrets, password hashes
// and key material never appear; a client's secret only in the answer
// that creates it.

type userJSON struct {
	Name      string   `json:"name"`
	Admin     bool     `json:"admin"`
	Scopes    []string `json:"scopes"`
	Plan      string   `json:"plan"`
	CreatedAt string   `json:"created_at"`
}

type userCreate struct {
	Name     string   `json:"name"`
	Password string   `json:"password"`
	Admin    bool     `json:"admin"`
	Scopes   []string `json:"scopes"`
	Plan     string   `json:"plan"`
}

type userPatch struct {
	Scopes   *[]string `json:"scopes"`
	Plan     *string   `json:"plan"`
	Password *string   `json:"password"`
}

type clientJSON struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Grants         []string `json:"grants"`
	Scopes         []string `json:"scopes"`
	RedirectURIs   []string `json:"redirect_uris"`
	AllowedOrigins []string `json:"allowed_origins"`
	FirstParty     bool     `json:"first_party"`
	Owner          string   `json:"owner"`
	Plan           string   `json:"plan"`
	Public         bool     `json:"public"`
	CreatedAt      string   `json:"created_at"`
	Secret         string   `json:"client_secret,omitempty"`
}

type clientCreate struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Grants         []string `json:"grants"`
	Scopes         []string `json:"scopes"`
	RedirectURIs   []string `json:"redirect_uris"`
	AllowedOrigins []string `json:"allowed_origins"`
	FirstParty     bool     `json:"first_party"`
	Owner          string   `json:"owner"`
	Plan           string   `json:"plan"`
}

type clientPatch struct {
	Name           *string   `json:"name"`
	Grants         *[]string `json:"grants"`
	Scopes         *[]string `json:"scopes"`
	RedirectURIs   *[]string `json:"redirect_uris"`
	AllowedOrigins *[]string `json:"allowed_origins"`
	FirstParty     *bool     `json:"first_party"`
	Plan           *string   `json:"plan"`
}

type sessionJSON struct {
	ID        string `json:"id"`
	ClientID  string `json:"client_id"`
	Subject   string `json:"subject"`
	Kind      string `json:"kind"`
	Scope     string `json:"scope"`
	CreatedAt string `json:"created_at"`
	ExpiresAt string `json:"expires_at"`
}

type subscriptionCreate struct {
	Type       string `json:"type"`
	Name       string `json:"name"`
	DateActive string `json:"date_active"`
	DateExpiry string `json:"date_expiry"`
}

type usageDayJSON struct {
	Date     string `json:"date"`
	Requests int64  `json:"requests"`
}

type usageJSON struct {
	ClientID    string         `json:"client_id"`
	Plan        string         `json:"plan"`
	Rate        string         `json:"rate"`
	Quota       string         `json:"quota"`
	QuotaUsed   int64          `json:"quota_used"`
	QuotaLeft   *int64         `json:"quota_left"`
	QuotaResets *string        `json:"quota_resets"`
	Days        []usageDayJSON `json:"days"`
}

type keyJSON struct {
	KID            string  `json:"kid"`
	Alg            string  `json:"alg"`
	State          string  `json:"state"`
	CreatedAt      string  `json:"created_at"`
	RetiredAt      *string `json:"retired_at"`
	PublishedUntil *string `json:"published_until"`
}

type rotateJSON struct {
	RetiredKID string `json:"retired_kid"`
	SigningKID string `json:"signing_kid"`
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func toUser(u store.User) userJSON {
	return userJSON{Name: u.Name, Admin: u.Admin, Scopes: nonNil(u.Scopes), Plan: u.Plan, CreatedAt: ts(u.CreatedAt)}
}

func toClient(c store.Client) clientJSON {
	return clientJSON{ID: c.ID, Name: c.Name, Grants: nonNil(c.Grants), Scopes: nonNil(c.Scopes),
		RedirectURIs: nonNil(c.RedirectURIs), AllowedOrigins: nonNil(c.AllowedOrigins), FirstParty: c.FirstParty,
		Owner: c.Owner, Plan: c.Plan, Public: len(c.SecretHash) == 0, CreatedAt: ts(c.CreatedAt)}
}

func toSession(s store.Session) sessionJSON {
	return sessionJSON{ID: s.ID, ClientID: s.ClientID, Subject: s.Subject, Kind: s.Kind, Scope: s.Scope,
		CreatedAt: ts(s.CreatedAt), ExpiresAt: ts(s.ExpiresAt)}
}

func toUsage(clientID string, r metering.Report) usageJSON {
	out := usageJSON{ClientID: clientID, Plan: r.Plan, Rate: r.Rate, Quota: r.Quota, QuotaUsed: r.QuotaUsed,
		Days: make([]usageDayJSON, 0, len(r.Days))}
	if r.Quota != "" {
		left, resets := r.QuotaLeft, ts(r.QuotaResets)
		out.QuotaLeft, out.QuotaResets = &left, &resets
	}
	for _, d := range r.Days {
		out.Days = append(out.Days, usageDayJSON{Date: d.Day.Format(time.DateOnly), Requests: d.Requests})
	}
	return out
}

func toKey(k store.SigningKey, now time.Time) keyJSON {
	j := keyJSON{KID: k.ID, Alg: k.Alg, State: "signing", CreatedAt: ts(k.CreatedAt)}
	if !k.RetiredAt.IsZero() {
		j.State = "retired"
		if now.Before(k.RetiredAt) {
			j.State = "retiring"
		}
		if now.After(k.DropAfter) {
			j.State = "dropped"
		}
		r, d := ts(k.RetiredAt), ts(k.DropAfter)
		j.RetiredAt, j.PublishedUntil = &r, &d
	}
	return j
}
