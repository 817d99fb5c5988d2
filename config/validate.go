package config

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"gopkg.in/yaml.v3"

	"github.com/clearance-gw/clearance/authz/sigkey"
	"github.com/clearance-gw/clearance/internal/clientip"
)

// validator checks a defaulted Config. Each problem points at the node
// that set the bad value, else at the nearest enclosing node the file has.
type validator struct {
	file  string
	root  *yaml.Node
	set   map[any]*yaml.Node
	bad   map[any]bool
	probs []Problem
}

// at reports a problem at the node of the first candidate the file set.
// Candidates are pointers into the Config, most precise first. Nothing is
// reported when a candidate could not be decoded: that problem is known.
func (v *validator) at(ptrs ...any) func(format string, args ...any) {
	n := v.root
	for _, p := range ptrs {
		if v.bad[p] {
			return func(string, ...any) {}
		}
		if m, ok := v.set[p]; ok && m != nil {
			n = m
			break
		}
	}
	return func(format string, args ...any) {
		v.probs = append(v.probs, problemAt(v.file, n, fmt.Sprintf(format, args...)))
	}
}

// validate checks c and returns its problems. set and bad may be nil (a
// Config built in code): problems then point at line 1.
func validate(c *Config, file string, root *yaml.Node, set map[any]*yaml.Node, bad map[any]bool) []Problem {
	v := &validator{file: file, root: root, set: set, bad: bad}
	v.top(c)
	scopes := v.scopes(c)
	v.routes(c, scopes)
	v.clients(c, scopes)
	v.portal(c, scopes)
	v.plans(c, scopes)
	v.trustedIssuers(c)
	return v.probs
}

func (v *validator) top(c *Config) {
	if c.Profile != "" && !slices.Contains(Profiles(), c.Profile) {
		v.at(&c.Profile)("profile: unknown profile %s (known: %s)", quote(c.Profile), strings.Join(Profiles(), ", "))
	}
	if err := checkHostPort(c.Listen); err != nil {
		v.at(&c.Listen)("listen: %v", err)
	}
	if err := checkHostPort(c.AdminListen); err != nil {
		v.at(&c.AdminListen)("admin_listen: %v", err)
	} else if c.AdminListen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
		v.at(&c.AdminListen)("admin_listen: must differ from listen (%s)", quote(c.Listen))
	}
	if err := checkHTTPURL(c.Issuer, false); err != nil {
		v.at(&c.Issuer)("issuer: %v", err)
	}
	if c.Realm == "" || strings.ContainsFunc(c.Realm, func(r rune) bool { return r < ' ' || r == 0x7f || r == '"' || r == '\\' }) {
		v.at(&c.Realm)(`realm: %s must be non-empty, without '"', '\' or control characters`, quote(c.Realm))
	}

	switch c.Store.Driver {
	case "sqlite", "postgres":
		if c.Store.DSN == "" {
			v.at(&c.Store.DSN, &c.Store.Driver, &c.Store)("store.dsn: required for the %s driver", c.Store.Driver)
		}
	default:
		v.at(&c.Store.Driver)("store.driver: %s is not a driver: use sqlite or postgres", quote(c.Store.Driver))
	}

	e := &c.Endpoints
	endpoint := func(name string, p *string) bool {
		if err := checkPath(*p); err != nil {
			v.at(p, e)("endpoints.%s: %v", name, err)
			return false
		}
		// The gateway mounts its endpoints on clean paths only.
		if *p != "/" && path.Clean(*p) != strings.TrimSuffix(*p, "/") {
			v.at(p, e)("endpoints.%s: %s is not a clean path (no //, /./ or trailing /.): write %s", name, quote(*p), quote(path.Clean(*p)))
			return false
		}
		for _, r := range append(reservedPaths(), SubscriptionsPath) {
			if overlaps(*p, r) {
				v.at(p, e)("endpoints.%s: %s is reserved for the gateway's %s", name, quote(*p), r)
				return false
			}
		}
		return true
	}
	if endpoint("token", &e.Token) && endpoint("authorize", &e.Authorize) && e.Token == e.Authorize {
		v.at(&e.Authorize, e)("endpoints.authorize: must differ from endpoints.token (%s)", quote(e.Token))
	}

	t := &c.Tokens
	if !sigkey.CanSign(jwa.SignatureAlgorithm(t.Alg)) {
		v.at(&t.Alg)("tokens.alg: %s is not supported: use %s", quote(t.Alg), sigkey.Either(sigkey.Signing()))
	}
	if t.Audience == "" {
		v.at(&t.Audience, t)("tokens.audience: must not be empty")
	}
	v.positive("tokens.access_ttl", &t.AccessTTL, t)
	v.positive("tokens.refresh_ttl", &t.RefreshTTL, t)
	v.positive("tokens.a2a_ttl", &t.A2ATTL, t)
	v.positive("tokens.code_ttl", &t.CodeTTL, t)
	if t.InvalidScopeStatus != 400 && t.InvalidScopeStatus != 401 {
		v.at(&t.InvalidScopeStatus, t)("tokens.invalid_scope_status: %d must be 400 or 401", t.InvalidScopeStatus)
	}
	if len(t.BodyFormats) == 0 {
		v.at(&t.BodyFormats, t)("tokens.body_formats: must name at least one of form, json")
	}
	for i := range t.BodyFormats {
		f := &t.BodyFormats[i]
		switch {
		case *f != BodyForm && *f != BodyJSON:
			v.at(f, &t.BodyFormats)("tokens.body_formats[%d]: %s is not a body format: use form or json", i, quote(*f))
		case slices.Contains(t.BodyFormats[:i], *f):
			v.at(f, &t.BodyFormats)("tokens.body_formats[%d]: duplicate format %s", i, quote(*f))
		}
	}
	if s := c.InsufficientScopeStatus; s != 401 && s != 403 {
		v.at(&c.InsufficientScopeStatus)("insufficient_scope_status: %d must be 401 or 403", s)
	}
	if c.Leeway < 0 {
		v.at(&c.Leeway)("leeway: %s must not be negative", c.Leeway)
	}
	if c.TokenCacheSize <= 0 {
		v.at(&c.TokenCacheSize)("token_cache_size: %d must be greater than 0", c.TokenCacheSize)
	}

	s := &c.Server
	v.positive("server.read_header_timeout", &s.ReadHeaderTimeout, s)
	v.positive("server.idle_timeout", &s.IdleTimeout, s)
	v.positive("server.shutdown_grace", &s.ShutdownGrace, s)
	if s.MaxHeaderBytes <= 0 {
		v.at(&s.MaxHeaderBytes, s)("server.max_header_bytes: %d must be greater than 0", s.MaxHeaderBytes)
	}
	for i := range s.TrustedProxies {
		if _, err := clientip.ParsePrefix(s.TrustedProxies[i]); err != nil {
			v.at(&s.TrustedProxies[i], &s.TrustedProxies, s)("server.trusted_proxies[%d]: %v", i, err)
		}
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.at(&c.Log.Level, &c.Log)("log.level: %s is not a level: use debug, info, warn or error", quote(c.Log.Level))
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		v.at(&c.Log.Format, &c.Log)("log.format: %s is not a format: use json or text", quote(c.Log.Format))
	}

	sub := &c.Subscriptions
	if sub.URL != "" {
		if err := checkHTTPURL(sub.URL, false); err != nil {
			v.at(&sub.URL)("subscriptions.url: %v", err)
		}
	}
	v.positive("subscriptions.ttl", &sub.TTL, sub)
	v.positive("subscriptions.timeout", &sub.Timeout, sub)
	if sub.CacheSize <= 0 {
		v.at(&sub.CacheSize, sub)("subscriptions.cache_size: %d must be greater than 0", sub.CacheSize)
	}
}

// positive reports a duration that is not greater than zero.
func (v *validator) positive(name string, d *Duration, parent any) {
	if *d <= 0 {
		v.at(d, parent)("%s: %s must be greater than 0", name, *d)
	}
}

func (v *validator) origins(path string, list []string, parents ...any) {
	for j := range list {
		if err := CheckOrigin(list[j]); err != nil {
			v.at(append([]any{&list[j]}, parents...)...)("%s[%d]: %v", path, j, err)
		}
	}
}
