package cli

import (
	"net/http"

	"github.com/clearance-gw/clearance/authz/adminapi"
	"github.com/clearance-gw/clearance/authz/service"
	"github.com/clearance-gw/clearance/authz/signing"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// adminHandler serves the admin listener: the observability endpoints of
// obs and the admin API under /admin/api/v1 (never on the public
// listener).
func (g *gateway) adminHandler(obs http.Handler, keys *signing.Keyring) http.Handler {
	svc := service.New(g.st, service.Options{
		Config:           g.current,
		Now:              g.env.Now,
		MaxTokenLifetime: g.issuer.MaxTokenLifetime,
		Revocations:      g.revs,
		Keys:             keys,
		Logger:           g.logger,
	})
	api := adminapi.New(svc, adminapi.Options{Logger: g.logger, Now: g.env.Now, ClientAddr: g.ips.Addr})
	mux := http.NewServeMux()
	mux.Handle("/", obs)
	mux.Handle(adminapi.Prefix+"/", api)
	return mux
}

// commandService is the service layer of a one-off command over st.
func (c *cmdContext) commandService(cfg *config.Config, st store.Store) *service.Service {
	return service.New(st, service.Options{Config: func() *config.Config { return cfg }, Now: c.env.Now})
}
