package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

func asNameTaken(err error) (*store.NameTakenError, bool) {
	return errors.AsType[*store.NameTakenError](err)
}
func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }

// NewClient is the input of CreateClient: a client made by the operator
// (command line, admin API), not limited to its owner's entitlement.
type NewClient struct {
	ID             string
	Name           string
	Grants         []string // client_credentials when empty
	Scopes         []string
	RedirectURIs   []string
	AllowedOrigins []string
	FirstParty     bool
	Owner          string
	Plan           string
	Public         bool // no secret (PKCE required)
}

// ClientChange is the input of UpdateClient: a nil field is left as it is.
type ClientChange struct {
	Name           *string
	Grants         *[]string
	Scopes         *[]string
	RedirectURIs   *[]string
	AllowedOrigins *[]string
	FirstParty     *bool
	Plan           *string
}

// checkClient applies the config's client rules (the ones declared
// clients follow) and the plan reference.
func checkClient(p *problems, cfg *config.Config, cl store.Client, hasSecret bool) {
	p.addJoined(config.ValidateClient(cfg, config.Client{
		ID: cl.ID, Name: cl.Name, Grants: cl.Grants, Scopes: cl.Scopes, RedirectURIs: cl.RedirectURIs,
		AllowedOrigins: cl.AllowedOrigins, FirstParty: cl.FirstParty, Owner: cl.Owner,
	}, hasSecret))
	checkPlan(p, cfg, cl.Plan)
}

// CreateClient validates c, generates its secret (unless public) and
// stores the client. The secret is returned once; only its hash is kept.
func (s *Service) CreateClient(ctx context.Context, c NewClient) (store.Client, string, error) {
	cfg := s.cfg()
	cl := store.Client{
		ID: c.ID, Name: c.Name, Grants: c.Grants, Scopes: c.Scopes, RedirectURIs: c.RedirectURIs,
		AllowedOrigins: c.AllowedOrigins, FirstParty: c.FirstParty, Owner: c.Owner, Plan: c.Plan, CreatedAt: s.now(),
	}
	if len(cl.Grants) == 0 {
		cl.Grants = []string{"client_credentials"}
	}
	var p problems
	checkClient(&p, cfg, cl, !c.Public)
	if c.Owner != "" {
		if _, err := s.st.GetUser(ctx, c.Owner); errors.Is(err, store.ErrNotFound) {
			p.add("owner", "no user named %q", c.Owner)
		} else if err != nil {
			return store.Client{}, "", err
		}
	}
	if err := p.err(); err != nil {
		return store.Client{}, "", err
	}
	var sec string
	if !c.Public {
		var err error
		if sec, err = secret.NewClientSecret(); err != nil {
			return store.Client{}, "", err
		}
		cl.SecretHash = secret.HashSecret(sec)
	}
	if err := s.st.CreateClient(ctx, cl); err != nil {
		return store.Client{}, "", conflict(err, "a client with id %q already exists", cl.ID)
	}
	got, err := s.st.GetClient(ctx, cl.ID)
	return got, sec, err
}

// UpdateClient changes a client's settings, validated as a whole.
func (s *Service) UpdateClient(ctx context.Context, id string, c ClientChange) (store.Client, error) {
	cl, err := s.GetClient(ctx, id)
	if err != nil {
		return store.Client{}, err
	}
	set := func(dst *[]string, v *[]string) {
		if v != nil {
			*dst = *v
		}
	}
	if c.Name != nil {
		cl.Name = *c.Name
	}
	set(&cl.Grants, c.Grants)
	set(&cl.Scopes, c.Scopes)
	set(&cl.RedirectURIs, c.RedirectURIs)
	set(&cl.AllowedOrigins, c.AllowedOrigins)
	if c.FirstParty != nil {
		cl.FirstParty = *c.FirstParty
	}
	if c.Plan != nil {
		cl.Plan = *c.Plan
	}
	var p problems
	checkClient(&p, s.cfg(), cl, len(cl.SecretHash) > 0)
	if err := p.err(); err != nil {
		return store.Client{}, err
	}
	if err := s.st.UpdateClient(ctx, cl); err != nil {
		return store.Client{}, fmt.Errorf("client %q: %w", id, err)
	}
	return cl, nil
}

// GetClient returns the client; an error wrapping store.ErrNotFound if
// there is none.
func (s *Service) GetClient(ctx context.Context, id string) (store.Client, error) {
	cl, err := s.st.GetClient(ctx, id)
	if err != nil {
		return store.Client{}, fmt.Errorf("client %q: %w", id, err)
	}
	return cl, nil
}

// ListClients returns the clients of owner, or all when owner is "".
func (s *Service) ListClients(ctx context.Context, owner string) ([]store.Client, error) {
	return s.st.ListClients(ctx, owner)
}

// DeleteClient deletes the client and revokes every token issued to it or
// through it (SPEC §10).
func (s *Service) DeleteClient(ctx context.Context, id string) error {
	if err := s.st.DeleteClient(ctx, id, s.now(), s.opts.MaxTokenLifetime()); err != nil {
		return fmt.Errorf("client %q: %w", id, err)
	}
	s.resync(ctx, "client deleted")
	return nil
}

// ListSessions returns the client's current sessions, newest first.
func (s *Service) ListSessions(ctx context.Context, clientID string) ([]store.Session, error) {
	if _, err := s.GetClient(ctx, clientID); err != nil {
		return nil, err
	}
	return s.st.ListSessions(ctx, clientID, s.now())
}

// RevokeSession revokes one session: its refresh tokens stop at once and
// its access tokens are refused (here at once, elsewhere within a second).
func (s *Service) RevokeSession(ctx context.Context, id string) error {
	if err := s.st.RevokeSession(ctx, id, s.now()); err != nil {
		return fmt.Errorf("session %q: %w", id, err)
	}
	if s.opts.Revocations != nil {
		if ss, err := s.st.GetSession(ctx, id); err == nil {
			s.opts.Revocations.Add(store.Revocation{SessionID: id, ExpiresAt: ss.ExpiresAt})
		}
	}
	return nil
}
