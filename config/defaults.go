package config

import (
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults, as documented on the types.
const (
	defaultListen         = ":8080"
	defaultAdminListen    = "127.0.0.1:9090"
	defaultIssuer         = "http://localhost:8080"
	defaultRealm          = "clearance"
	defaultDriver         = "sqlite"
	defaultSQLiteDSN      = "data/clearance.db"
	defaultTokenPath      = "/token"
	defaultAuthorizePath  = "/authorize"
	defaultAlg            = "RS256"
	defaultAccessTTL      = time.Hour
	defaultRefreshTTL     = 720 * time.Hour
	defaultA2ATTL         = 8760 * time.Hour
	defaultCodeTTL        = 5 * time.Minute
	defaultInvalidScope   = 400
	defaultInsufficient   = 401
	defaultLeeway         = 30 * time.Second
	defaultTokenCache     = 10000
	defaultRouteTimeout   = 30 * time.Second
	defaultDialTimeout    = 5 * time.Second
	defaultMaxIdleConns   = 256
	defaultIssuerAlg      = "RS256"
	defaultJWKSRefresh    = 15 * time.Minute
	defaultMinRefetch     = time.Minute
	defaultReadHeader     = 10 * time.Second
	defaultIdleTimeout    = 120 * time.Second
	defaultMaxHeaderBytes = 64 << 10
	defaultShutdownGrace  = 20 * time.Second
	defaultLogLevel       = "info"
	defaultLogFormat      = "json"
	defaultSubsTTL        = 5 * time.Minute
	defaultSubsCacheSize  = 10000
	defaultSubsTimeout    = 3 * time.Second
)

// applyDefaults fills what neither the file nor the profile set. A value the
// file wrote explicitly (even 0 or "") is kept, so validation can refuse it.
func applyDefaults(c *Config, set map[any]*yaml.Node) {
	str := func(p *string, v string) { def(set, p, v) }
	dur := func(p *Duration, v time.Duration) { def(set, p, Duration(v)) }
	num := func(p *int, v int) { def(set, p, v) }

	str(&c.Listen, defaultListen)
	str(&c.AdminListen, defaultAdminListen)
	str(&c.Issuer, defaultIssuer)
	str(&c.Realm, defaultRealm)
	str(&c.Store.Driver, defaultDriver)
	if c.Store.Driver == defaultDriver {
		def(set, &c.Store.DSN, defaultSQLiteDSN)
	}
	str(&c.Endpoints.Token, defaultTokenPath)
	str(&c.Endpoints.Authorize, defaultAuthorizePath)
	str(&c.Tokens.Alg, defaultAlg)
	str(&c.Tokens.Audience, c.Issuer)
	dur(&c.Tokens.AccessTTL, defaultAccessTTL)
	dur(&c.Tokens.RefreshTTL, defaultRefreshTTL)
	dur(&c.Tokens.A2ATTL, defaultA2ATTL)
	dur(&c.Tokens.CodeTTL, defaultCodeTTL)
	num(&c.Tokens.InvalidScopeStatus, defaultInvalidScope)
	if _, ok := set[&c.Tokens.BodyFormats]; !ok && len(c.Tokens.BodyFormats) == 0 {
		c.Tokens.BodyFormats = []string{BodyForm, BodyJSON}
	}
	num(&c.InsufficientScopeStatus, defaultInsufficient)
	dur(&c.Leeway, defaultLeeway)
	num(&c.TokenCacheSize, defaultTokenCache)

	for i := range c.Routes {
		r := &c.Routes[i]
		num(&r.InsufficientScopeStatus, c.InsufficientScopeStatus)
		dur(&r.Timeout, defaultRouteTimeout)
		dur(&r.DialTimeout, defaultDialTimeout)
		num(&r.MaxIdleConns, defaultMaxIdleConns)
		def(set, &r.Metered, true)
	}
	for i := range c.TrustedIssuers {
		t := &c.TrustedIssuers[i]
		if _, ok := set[&t.Algorithms]; !ok && len(t.Algorithms) == 0 {
			t.Algorithms = []string{defaultIssuerAlg}
		}
		if _, ok := set[&t.Audience]; !ok && len(t.Audience) == 0 {
			t.Audience = StringOrSet{c.Tokens.Audience}
		}
		dur(&t.RefreshInterval, defaultJWKSRefresh)
		dur(&t.MinRefetchInterval, defaultMinRefetch)
	}

	dur(&c.Server.ReadHeaderTimeout, defaultReadHeader)
	dur(&c.Server.IdleTimeout, defaultIdleTimeout)
	num(&c.Server.MaxHeaderBytes, defaultMaxHeaderBytes)
	dur(&c.Server.ShutdownGrace, defaultShutdownGrace)
	str(&c.Log.Level, defaultLogLevel)
	str(&c.Log.Format, defaultLogFormat)
	dur(&c.Subscriptions.TTL, defaultSubsTTL)
	num(&c.Subscriptions.CacheSize, defaultSubsCacheSize)
	dur(&c.Subscriptions.Timeout, defaultSubsTimeout)
}

// def sets *p to v when *p is zero and the file did not set it.
func def[T comparable](set map[any]*yaml.Node, p *T, v T) {
	var zero T
	if *p != zero {
		return
	}
	if _, ok := set[p]; !ok {
		*p = v
	}
}
