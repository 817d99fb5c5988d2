package service

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// Password length bounds (bytes).
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

// NewUser is the input of CreateUser.
type NewUser struct {
	Name     string
	Password string
	Admin    bool
	Scopes   []string // beyond portal.scopes (SPEC §10)
	Plan     string   // "" for default_plan
}

// UserChange is the input of UpdateUser: a nil field is left as it is.
type UserChange struct {
	Scopes   *[]string
	Plan     *string // "" back to default_plan
	Password *string
}

func checkUserName(p *problems, name string) {
	if name == "" || len(name) > 64 || strings.TrimSpace(name) != name ||
		strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		p.add("name", "a user name is 1 to 64 characters without control characters, not starting or ending with a space")
	}
}

func checkPassword(p *problems, field, pw string) {
	switch {
	case len(pw) < MinPasswordLen:
		p.add(field, "must have at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		p.add(field, "must have at most %d characters", MaxPasswordLen)
	}
}

// userScopes checks scopes against the config (each declared), listing
// repeats once.
func userScopes(p *problems, cfg *config.Config, scopes []string) []string {
	out := []string{}
	for i, sc := range scopes {
		if !cfg.KnownScope(sc) {
			p.add(fmt.Sprintf("scopes[%d]", i), "unknown scope %q: declare it under scopes: in the config", sc)
			continue
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

func checkPlan(p *problems, cfg *config.Config, plan string) {
	if plan == "" {
		return
	}
	if err := config.CheckPlanRef(cfg, plan); err != nil {
		p.add("plan", "%v", err)
	}
}

// CreateUser validates u (every field at once), hashes the password and
// stores the user. A name taken by a user or a client is a conflict.
func (s *Service) CreateUser(ctx context.Context, u NewUser) (store.User, error) {
	cfg := s.cfg()
	var p problems
	checkUserName(&p, u.Name)
	checkPassword(&p, "password", u.Password)
	scopes := userScopes(&p, cfg, u.Scopes)
	checkPlan(&p, cfg, u.Plan)
	if err := p.err(); err != nil {
		return store.User{}, err
	}
	hash, err := secret.HashPassword(u.Password)
	if err != nil {
		return store.User{}, err
	}
	nu := store.User{Name: u.Name, PasswordHash: hash, Admin: u.Admin, Scopes: scopes, Plan: u.Plan, CreatedAt: s.now()}
	if err := s.st.CreateUser(ctx, nu); err != nil {
		return store.User{}, conflict(err, "a user named %q already exists", u.Name)
	}
	return s.st.GetUser(ctx, u.Name)
}

// UpdateUser changes a user's entitlements or password. The token
// endpoint reads entitlements at every issuance, and running gateways read
// plans within a second.
func (s *Service) UpdateUser(ctx context.Context, name string, c UserChange) (store.User, error) {
	cfg := s.cfg()
	var p problems
	var scopes []string
	if c.Scopes != nil {
		scopes = userScopes(&p, cfg, *c.Scopes)
	}
	if c.Plan != nil {
		checkPlan(&p, cfg, *c.Plan)
	}
	if c.Password != nil {
		checkPassword(&p, "password", *c.Password)
	}
	if err := p.err(); err != nil {
		return store.User{}, err
	}
	u, err := s.GetUser(ctx, name)
	if err != nil {
		return store.User{}, err
	}
	if c.Scopes != nil {
		u.Scopes = scopes
	}
	if c.Plan != nil {
		u.Plan = *c.Plan
	}
	if c.Password != nil {
		if u.PasswordHash, err = secret.HashPassword(*c.Password); err != nil {
			return store.User{}, err
		}
	}
	if err := s.st.UpdateUser(ctx, u); err != nil {
		return store.User{}, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

// GetUser returns the user; an error wrapping store.ErrNotFound if there
// is none.
func (s *Service) GetUser(ctx context.Context, name string) (store.User, error) {
	u, err := s.st.GetUser(ctx, name)
	if err != nil {
		return store.User{}, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

// ListUsers returns every user ordered by name.
func (s *Service) ListUsers(ctx context.Context) ([]store.User, error) {
	return s.st.ListUsers(ctx)
}

// DeleteUser deletes the user with their clients and subscriptions, and
// revokes every token issued to them or through their clients (SPEC §10):
// this instance refuses them at once, the others within a second.
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	if err := s.st.DeleteUser(ctx, name, s.now(), s.opts.MaxTokenLifetime()); err != nil {
		return fmt.Errorf("user %q: %w", name, err)
	}
	s.resync(ctx, "user deleted")
	return nil
}

// ConflictError is a create refused because the name is taken by one of
// its own kind; errors.Is(err, store.ErrConflict) holds. A name taken
// across the one namespace is a *store.NameTakenError instead.
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }

// Is makes errors.Is(err, store.ErrConflict) hold.
func (e *ConflictError) Is(target error) bool { return target == store.ErrConflict }

// conflict words a plain ErrConflict of a create; a *store.NameTakenError
// (the one namespace) is kept as it is.
func conflict(err error, format string, args ...any) error {
	if nt, ok := asNameTaken(err); ok {
		return nt
	}
	if isConflict(err) {
		return &ConflictError{Msg: fmt.Sprintf(format, args...)}
	}
	return err
}
