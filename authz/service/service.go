// Package service is the one set of provisioning operations behind the
// command line, the developer portal and the admin API (SPEC §12): users,
// clients, sessions, subscriptions, usage, signing keys and admin API
// keys. Each operation validates its input once and returns typed errors:
// *ValidationError (every invalid field), errors wrapping store.ErrNotFound,
// store.ErrConflict (*store.NameTakenError for the one namespace of client
// ids and user names) or store.ErrUnavailable. The front ends only
// translate.
package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/clearance-gw/clearance/authz/signing"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// Revocations is this instance's in-memory revocation set: deletions and
// revocations are read into it at once (other instances read them from
// the store within a second).
type Revocations interface {
	Sync(ctx context.Context) error
	Add(r store.Revocation)
}

// Keys is the signing keyring.
type Keys interface {
	Rotate(ctx context.Context) error
	SigningKeyID() string
}

// Options configure a Service.
type Options struct {
	// Config returns the config in force (a reload may change it).
	Config func() *config.Config
	// Now is the clock.
	Now func() time.Time
	// MaxTokenLifetime is the longest an access token of the config in
	// force can live; signing.MaxTokenLifetime of Config() when nil.
	MaxTokenLifetime func() time.Duration
	// Revocations, when set, learns deletions and revocations at once.
	Revocations Revocations
	// Keys, when set, rotates signing keys (RotateKeys).
	Keys   Keys
	Logger *slog.Logger
}

// Service runs the provisioning operations against one store.
type Service struct {
	st   store.Store
	opts Options
	log  *slog.Logger
}

// New returns a Service over st.
func New(st store.Store, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxTokenLifetime == nil {
		cfg := opts.Config
		opts.MaxTokenLifetime = func() time.Duration { return signing.MaxTokenLifetime(cfg()) }
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, opts: opts, log: log}
}

func (s *Service) cfg() *config.Config { return s.opts.Config() }
func (s *Service) now() time.Time      { return s.opts.Now().UTC() }

// resync reads what the store just recorded into this instance's
// revocation set; the set's poll reads it otherwise.
func (s *Service) resync(ctx context.Context, what string) {
	if s.opts.Revocations == nil {
		return
	}
	if err := s.opts.Revocations.Sync(ctx); err != nil {
		s.log.WarnContext(ctx, "revocations not read at once", "after", what, "error", err)
	}
}
