// Package config owns gateway.yaml: its shape, strict loading with
// FILE:LINE:COL problems, ${ENV} expansion, defaults and validation.
//
// A *Config returned by Load is complete (defaults filled, effective values
// resolved) and must be treated as immutable: a reload builds a new one.
package config

import "time"

// Config is the whole gateway.yaml.
type Config struct {
	// File is the path the config was loaded from (not a YAML key).
	File string `yaml:"-"`

	Profile     string    `yaml:"profile"`      // optional preset: capa, altitudeangel, navigraph
	Listen      string    `yaml:"listen"`       // public listener, default ":8080"
	AdminListen string    `yaml:"admin_listen"` // admin listener, default "127.0.0.1:9090"
	Issuer      string    `yaml:"issuer"`       // iss of minted tokens, default "http://localhost:8080"
	Realm       string    `yaml:"realm"`        // WWW-Authenticate realm, default "clearance"
	Store       Store     `yaml:"store"`
	Endpoints   Endpoints `yaml:"endpoints"`
	Tokens      Tokens    `yaml:"tokens"`
	Scopes      []string  `yaml:"scopes"` // every scope the gateway knows
	Routes      []Route   `yaml:"routes"`
	Clients     []Client  `yaml:"clients"`

	TrustedIssuers []TrustedIssuer `yaml:"trusted_issuers"`

	// InsufficientScopeStatus is 401 (default) or 403. Load copies it into
	// every route that does not set its own.
	InsufficientScopeStatus int `yaml:"insufficient_scope_status"`

	// Leeway is the clock skew allowed on exp/nbf/iat, default 30s.
	Leeway Duration `yaml:"leeway"`
	// TokenCacheSize is the number of verified tokens kept, default 10000.
	TokenCacheSize int `yaml:"token_cache_size"`

	Server Server `yaml:"server"`
	Log    Log    `yaml:"log"`

	Subscriptions Subscriptions `yaml:"subscriptions"`

	Portal Portal `yaml:"portal"`

	// Plans are what customers buy: a rate, a quota and scopes (SPEC §11).
	Plans []Plan `yaml:"plans"`
	// DefaultPlan is the plan of a client without one (and of trusted
	// issuers' clients); "" leaves them unmetered.
	DefaultPlan string `yaml:"default_plan"`
}

// Portal configures the developer portal.
type Portal struct {
	// Scopes are the scopes every portal user's clients may be given
	// (default none); a user's own scopes add to them (SPEC §10).
	Scopes []string `yaml:"scopes"`
}

// Store selects the state backend.
//
// A sqlite DSN that is a relative file path ("data/clearance.db", or a
// "file:" URI with a relative path) is relative to the directory of the
// config file, as jwks_file is, not to the current directory: loading
// resolves it (ResolveSQLiteDSN), so check, serve, a reload and every
// command open the same file from wherever they run. ":memory:", absolute
// paths and "file:" URIs with absolute paths are left as they are.
type Store struct {
	Driver string `yaml:"driver"` // sqlite (default) or postgres
	DSN    Secret `yaml:"dsn"`    // default "data/clearance.db" for sqlite, beside the config file
}

// Endpoints are the paths of the authorization server.
type Endpoints struct {
	Token     string `yaml:"token"`     // default /token
	Authorize string `yaml:"authorize"` // default /authorize
}

// Tokens are the default lifetimes and signing algorithm of minted tokens.
type Tokens struct {
	Alg        string   `yaml:"alg"`         // RS256 (default), ES256 or EdDSA
	Audience   string   `yaml:"audience"`    // aud of minted tokens, default the issuer
	AccessTTL  Duration `yaml:"access_ttl"`  // default 1h
	RefreshTTL Duration `yaml:"refresh_ttl"` // default 720h
	A2ATTL     Duration `yaml:"a2a_ttl"`     // default 8760h
	CodeTTL    Duration `yaml:"code_ttl"`    // authorization codes, default 5m
	// RefreshOnEveryGrant makes every token response carry a refresh token
	// (the altitudeangel profile).
	RefreshOnEveryGrant bool `yaml:"refresh_on_every_grant"`
	// InvalidScopeStatus is the token endpoint's status for invalid_scope:
	// 400 (default) or 401 (altitudeangel).
	InvalidScopeStatus int `yaml:"invalid_scope_status"`
	// BodyFormats are the token request bodies the token endpoint accepts:
	// "form" (application/x-www-form-urlencoded) and "json"
	// (application/json); default both. Another body gets 400
	// invalid_request.
	BodyFormats []string `yaml:"body_formats"`
}

// Route is one path prefix forwarded to one upstream.
type Route struct {
	Name                 string   `yaml:"name"`
	Path                 string   `yaml:"path"`     // prefix, starts with "/"
	Upstream             string   `yaml:"upstream"` // absolute http(s) URL
	StripPrefix          bool     `yaml:"strip_prefix"`
	Scopes               []string `yaml:"scopes"`     // all required
	AnyScopes            []string `yaml:"any_scopes"` // at least one required
	Subscription         string   `yaml:"subscription"`
	Public               bool     `yaml:"public"`
	ForwardAuthorization bool     `yaml:"forward_authorization"`
	AllowedOrigins       []string `yaml:"allowed_origins"`
	// Metered: requests with a token count against the client's plan
	// (default true; public routes never do).
	Metered bool `yaml:"metered"`
	// InsufficientScopeStatus overrides the top-level value; after Load it
	// always holds the effective status (401 or 403).
	InsufficientScopeStatus int `yaml:"insufficient_scope_status"`

	Timeout         Duration `yaml:"timeout"`           // whole upstream exchange, default 30s (504 past it)
	DialTimeout     Duration `yaml:"dial_timeout"`      // default 5s
	MaxIdleConns    int      `yaml:"max_idle_conns"`    // per upstream host, default 256
	FlushInterval   Duration `yaml:"flush_interval"`    // ReverseProxy FlushInterval, default 0
	TLSInsecureSkip bool     `yaml:"tls_insecure_skip"` // for test upstreams only
}

// Client is an OAuth client declared in the file and upserted at start.
type Client struct {
	ID             string   `yaml:"id"`
	Name           string   `yaml:"name"`
	Secret         Secret   `yaml:"secret"`
	Grants         []string `yaml:"grants"`
	Scopes         []string `yaml:"scopes"`
	RedirectURIs   []string `yaml:"redirect_uris"`
	AllowedOrigins []string `yaml:"allowed_origins"`
	FirstParty     bool     `yaml:"first_party"`
	Owner          string   `yaml:"owner"`
	Plan           string   `yaml:"plan"`        // a plan name; "" for the owner's plan, else default_plan
	AccessTTL      Duration `yaml:"access_ttl"`  // 0: profile/tokens default
	RefreshTTL     Duration `yaml:"refresh_ttl"` // 0: profile/tokens default
}

// TrustedIssuer is an issuer whose tokens the gateway accepts. Exactly one
// key source is set: JWKSURL (fetched and cached), JWKS (inline JSON) or
// JWKSFile (read at load and on reload).
type TrustedIssuer struct {
	Issuer     string      `yaml:"issuer"`
	JWKSURL    string      `yaml:"jwks_url"`
	JWKS       string      `yaml:"jwks"`
	JWKSFile   string      `yaml:"jwks_file"`
	Audience   StringOrSet `yaml:"audience"`   // one or a list; a token must carry one of them
	Algorithms []string    `yaml:"algorithms"` // default [RS256]
	// RefreshInterval is how often a JWKS URL is refetched, default 15m.
	RefreshInterval Duration `yaml:"refresh_interval"`
	// MinRefetchInterval bounds refetches caused by unknown kids, default 1m.
	MinRefetchInterval Duration `yaml:"min_refetch_interval"`
	// AllowedOrigins are CORS origins accepted for this issuer's tokens.
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// Server holds listener tuning.
type Server struct {
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"` // default 10s
	IdleTimeout       Duration `yaml:"idle_timeout"`        // default 120s
	MaxHeaderBytes    int      `yaml:"max_header_bytes"`    // default 64 KiB
	ShutdownGrace     Duration `yaml:"shutdown_grace"`      // default 20s
	// TrustedProxies are the CIDRs (or bare addresses) of proxies in front
	// of the gateway: only for a peer among them is the client address
	// read from X-Forwarded-For. Default none.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Log selects the log output.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // json (default) or text
}

// Subscriptions configures where route subscription checks look.
type Subscriptions struct {
	URL       string   `yaml:"url"`        // remote base URL; empty: the local store
	TTL       Duration `yaml:"ttl"`        // cache TTL, default 5m
	CacheSize int      `yaml:"cache_size"` // users cached, default 10000
	Timeout   Duration `yaml:"timeout"`    // remote call timeout, default 3s
}

// Duration is a time.Duration written in Go syntax ("15m", "8h").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Secret is a string that never prints: String and LogValue give REDACTED.
type Secret string

// StringOrSet accepts a scalar or a sequence of strings.
type StringOrSet []string
