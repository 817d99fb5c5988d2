package issuer

import (
	"context"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// ClientUpserter is the part of the store UpsertClients uses.
type ClientUpserter interface {
	UpsertClient(ctx context.Context, c store.Client) error
}

// UpsertClients applies the clients declared in cfg to the store, hashing
// their secrets; a client without a secret is public.
func UpsertClients(ctx context.Context, st ClientUpserter, cfg *config.Config) error {
	for _, c := range cfg.Clients {
		sc := store.Client{
			ID:             c.ID,
			Name:           c.Name,
			Grants:         c.Grants,
			Scopes:         c.Scopes,
			RedirectURIs:   c.RedirectURIs,
			AllowedOrigins: c.AllowedOrigins,
			FirstParty:     c.FirstParty,
			Owner:          c.Owner,
			Plan:           c.Plan,
			AccessTTL:      c.AccessTTL.D(),
			RefreshTTL:     c.RefreshTTL.D(),
		}
		if !c.Secret.IsZero() {
			sc.SecretHash = secret.HashSecret(c.Secret.Reveal())
		}
		if err := st.UpsertClient(ctx, sc); err != nil {
			return err // the store names the client: "upsert client "x": ..."
		}
	}
	return nil
}
