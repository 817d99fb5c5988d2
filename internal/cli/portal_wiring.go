package cli

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/issuer"
	"github.com/clearance-gw/clearance/authz/login"
	"github.com/clearance-gw/clearance/authz/metering"
	"github.com/clearance-gw/clearance/authz/portal"
	"github.com/clearance-gw/clearance/authz/revocation"
	"github.com/clearance-gw/clearance/authz/service"
	"github.com/clearance-gw/clearance/authz/signing"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/websession"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/clientip"
)

// newPortal builds the developer portal and the /authorize pages for cfg.
// A portal is an immutable value: a reload builds a new one (sharing the
// login, the client-address rule, the store and the cookie key) and the
// proxy swaps its routes in with the config's.
func newPortal(cfg *config.Config, current func() *config.Config, st store.Store, iss *issuer.Server, revs *revocation.Set, users *login.Authenticator, ips *clientip.Resolver, kek []byte, env Env, logger *slog.Logger) (*portal.Portal, error) {
	cookies, err := websession.New(signing.CookieKey(kek), websession.Options{
		Secure: strings.HasPrefix(cfg.Issuer, "https://"),
		Now:    env.Now,
	})
	if err != nil {
		return nil, err
	}
	revoker := service.New(st, service.Options{Config: current, Now: env.Now, MaxTokenLifetime: iss.MaxTokenLifetime,
		Revocations: revs, Logger: logger.With("component", "portal")})
	return portal.New(st, portal.Options{
		Now:           env.Now,
		Logger:        logger,
		Cookies:       cookies,
		UserAuth:      users,
		ClientAddr:    ips.Addr,
		Minter:        portalMinter{iss},
		Revoker:       revoker,
		Entitlements:  iss,
		Usage:         usageReporter{st: st, cfg: current, now: env.Now},
		AuthorizePath: cfg.Endpoints.Authorize,
		Issuer:        cfg.Issuer,
		CodeTTL:       cfg.Tokens.CodeTTL.D(),
	})
}

// portalMinter adapts the issuer to the portal's Minter.
type portalMinter struct{ iss *issuer.Server }

func (m portalMinter) MintA2A(ctx context.Context, clientID, user string) (string, time.Time, error) {
	tok, err := m.iss.MintA2A(ctx, clientID, user, "portal")
	if _, ok := errors.AsType[*issuer.A2ANotEnabledError](err); ok {
		return "", time.Time{}, portal.ErrA2ANotEnabled
	}
	return tok.AccessToken, tok.ExpiresAt, err
}

func (m portalMinter) MintImplicit(ctx context.Context, clientID, user, scope string) (string, int64, error) {
	return m.iss.MintImplicit(ctx, clientID, user, scope)
}

// usageReporter gives the portal a client's usage under the config in
// force (the same report as "clearance usage").
type usageReporter struct {
	st  store.Store
	cfg func() *config.Config
	now func() time.Time
}

func (u usageReporter) Usage(ctx context.Context, c store.Client, days int) (metering.Report, error) {
	return clientUsage(ctx, u.cfg(), u.st, c, days, u.now())
}
