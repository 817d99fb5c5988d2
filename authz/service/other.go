package service

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/metering"
	"github.com/clearance-gw/clearance/authz/metering/planview"
	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/subscription"
)

// NewSubscription is the input of AddSubscription. Dates are RFC 3339 or
// a day (YYYY-MM-DD, UTC; as DateExpiry a day lasts to its end).
type NewSubscription struct {
	User       string
	Type       string
	Name       string // the type when empty
	DateActive string
	DateExpiry string
}

// AddSubscription gives a known user a subscription.
func (s *Service) AddSubscription(ctx context.Context, n NewSubscription) (store.Subscription, error) {
	var p problems
	if n.Type == "" || len(n.Type) > 128 || strings.ContainsFunc(n.Type, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		p.add("type", "a word without spaces, as the routes name it (1 to 128 characters)")
	}
	if len(n.Name) > 256 {
		p.add("name", "at most 256 characters")
	}
	active, err := subscription.ParseDate(n.DateActive, false)
	if err != nil {
		p.add("date_active", "%v", err)
	}
	expiry, err2 := subscription.ParseDate(n.DateExpiry, true)
	if err2 != nil {
		p.add("date_expiry", "%v", err2)
	}
	if err == nil && err2 == nil && expiry.Before(active) {
		p.add("date_expiry", "is before date_active")
	}
	if err := p.err(); err != nil {
		return store.Subscription{}, err
	}
	if _, err := s.GetUser(ctx, n.User); err != nil {
		return store.Subscription{}, err
	}
	if n.Name == "" {
		n.Name = n.Type
	}
	return s.st.AddSubscription(ctx, store.Subscription{User: n.User, Type: n.Type, Name: n.Name, DateActive: active, DateExpiry: expiry})
}

// ListSubscriptions returns a known user's subscriptions, active or not.
func (s *Service) ListSubscriptions(ctx context.Context, user string) ([]store.Subscription, error) {
	if _, err := s.GetUser(ctx, user); err != nil {
		return nil, err
	}
	return s.st.ListSubscriptions(ctx, user)
}

// RemoveSubscription deletes one subscription; routes requiring it refuse
// the user's tokens from the subscription cache's next read.
func (s *Service) RemoveSubscription(ctx context.Context, id int64) error {
	if err := s.st.RemoveSubscription(ctx, id); err != nil {
		return fmt.Errorf("subscription %d: %w", id, err)
	}
	return nil
}

// MaxUsageDays bounds the days of a usage report (about 13 months).
const MaxUsageDays = 400

// Usage reports a local client's requests per day over the last days, its
// plan and what is left of its quota (SPEC §11).
func (s *Service) Usage(ctx context.Context, clientID string, days int) (metering.Report, error) {
	if days < 1 || days > MaxUsageDays {
		return metering.Report{}, &ValidationError{Fields: []FieldError{{Field: "days", Detail: fmt.Sprintf("give 1 to %d", MaxUsageDays)}}}
	}
	c, err := s.GetClient(ctx, clientID)
	if err != nil {
		return metering.Report{}, err
	}
	var owner store.User
	if c.Owner != "" {
		u, err := s.st.GetUser(ctx, c.Owner)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return metering.Report{}, err
		}
		owner = u
	}
	return metering.BuildReport(ctx, s.st, s.cfg(), metering.StoreKey("", c.ID), planview.ExplicitPlan(c, owner), days, s.now())
}

// ListKeys returns the signing keys, oldest first.
func (s *Service) ListKeys(ctx context.Context) ([]store.SigningKey, error) {
	return s.st.ListSigningKeys(ctx)
}

// RotateKeys makes a new signing key and retires the current one; it
// returns the retired key's id, the new key's id, and when the new key
// starts signing (after the activation delay).
func (s *Service) RotateKeys(ctx context.Context) (retired, signing string, signsFrom time.Time, err error) {
	if s.opts.Keys == nil {
		return "", "", time.Time{}, errors.New("rotate signing keys: no keyring")
	}
	old := s.opts.Keys.SigningKeyID()
	if err := s.opts.Keys.Rotate(ctx); err != nil {
		return "", "", time.Time{}, err
	}
	// The keyring keeps signing with the old key until the new one has
	// been published for the activation delay: the new key, and the moment
	// it starts signing (the old key's retirement), are read back from the
	// store rather than from what signs this instant.
	all, err := s.st.ListSigningKeys(ctx)
	if err != nil {
		return "", "", time.Time{}, err
	}
	for _, k := range all {
		if k.ID == old {
			signsFrom = k.RetiredAt
		} else if k.RetiredAt.IsZero() {
			signing = k.ID
		}
	}
	if signing == "" {
		return "", "", time.Time{}, errors.New("rotate signing keys: the new signing key is not in the store")
	}
	return old, signing, signsFrom.UTC(), nil
}

// apiKeyPrefix starts every admin API key, so a leaked one is recognisable.
const apiKeyPrefix = "clr_admin_"

// CreateAPIKey makes an admin API key named name and returns it: shown
// this once, only its hash is stored.
func (s *Service) CreateAPIKey(ctx context.Context, name string) (string, error) {
	if err := checkKeyName(name); err != nil {
		return "", err
	}
	raw, err := secret.NewToken()
	if err != nil {
		return "", err
	}
	key := apiKeyPrefix + raw
	if err := s.st.CreateAdminKey(ctx, store.AdminKey{Name: name, Hash: secret.HashSecret(key), CreatedAt: s.now()}); err != nil {
		return "", conflict(err, "an admin API key named %q already exists", name)
	}
	return key, nil
}

func checkKeyName(name string) error {
	ok := name != "" && len(name) <= 64
	for _, r := range name {
		ok = ok && ('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
	}
	if !ok {
		return &ValidationError{Fields: []FieldError{{Field: "name", Detail: "1 to 64 lower-case letters, digits, dashes, dots and underscores"}}}
	}
	return nil
}

// ListAPIKeys returns the admin API keys (names and creation times; the
// hashes stay in the store's records, never shown).
func (s *Service) ListAPIKeys(ctx context.Context) ([]store.AdminKey, error) {
	return s.st.ListAdminKeys(ctx)
}

// RevokeAPIKey deletes the key: the next request with it is refused on
// every instance (each request reads the key set from the store).
func (s *Service) RevokeAPIKey(ctx context.Context, name string) error {
	if err := s.st.DeleteAdminKey(ctx, name); err != nil {
		return fmt.Errorf("admin API key %q: %w", name, err)
	}
	return nil
}

// ErrBadAPIKey is returned by AuthenticateAPIKey for a key that is not
// (or no longer) one of the store's.
var ErrBadAPIKey = errors.New("unknown or revoked admin API key")

// AuthenticateAPIKey returns the name of the admin API key key, read from
// the store at each call so a revocation on any instance applies to the
// next request. The hash of key is compared with every stored hash in
// constant time.
func (s *Service) AuthenticateAPIKey(ctx context.Context, key string) (string, error) {
	keys, err := s.st.ListAdminKeys(ctx)
	if err != nil {
		return "", err
	}
	h := secret.HashSecret(key)
	name := ""
	for _, k := range keys {
		if subtle.ConstantTimeCompare(h, k.Hash) == 1 {
			name = k.Name
		}
	}
	if name == "" || key == "" {
		return "", ErrBadAPIKey
	}
	return name, nil
}
