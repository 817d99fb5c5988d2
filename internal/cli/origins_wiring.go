package cli

import (
	"context"

	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/authz/store"
)

// storeOrigins lists every client's allowed origins from the store for the
// guard's ClientOrigins, which does not import the store.
type storeOrigins struct{ st store.Store }

func (s storeOrigins) ListClientOrigins(ctx context.Context) ([]guard.OriginClient, error) {
	clients, err := s.st.ListClients(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]guard.OriginClient, 0, len(clients))
	for _, c := range clients {
		if len(c.AllowedOrigins) == 0 {
			continue
		}
		out = append(out, guard.OriginClient{ID: c.ID, Scopes: c.Scopes, AllowedOrigins: c.AllowedOrigins})
	}
	return out, nil
}
