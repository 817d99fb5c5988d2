package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clearance-gw/clearance/authz/sigkey"
	"github.com/clearance-gw/clearance/internal/clientip"
	"github.com/clearance-gw/clearance/internal/routepath"
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
	switch t.Alg {
	case "RS256", "ES256", "EdDSA":
	default:
		v.at(&t.Alg)("tokens.alg: %s is not supported: use RS256, ES256 or EdDSA", quote(t.Alg))
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

// scopes checks the scope list and returns it as a set.
func (v *validator) scopes(c *Config) map[string]bool {
	known := make(map[string]bool, len(c.Scopes))
	for i := range c.Scopes {
		s := &c.Scopes[i]
		if err := CheckScopeToken(*s); err != nil {
			v.at(s, &c.Scopes)("scopes[%d]: %v", i, err)
			continue
		}
		if known[*s] {
			v.at(s, &c.Scopes)("scopes[%d]: duplicate scope %s", i, quote(*s))
		}
		known[*s] = true
	}
	return known
}

// knownScopes reports every entry of list that is not in scopes:.
func (v *validator) knownScopes(path string, list []string, known map[string]bool, parents ...any) {
	for j := range list {
		if !known[list[j]] {
			v.at(append([]any{&list[j]}, parents...)...)(
				"%s[%d]: unknown scope %s: declare it under scopes:", path, j, quote(list[j]))
		}
	}
}

func (v *validator) origins(path string, list []string, parents ...any) {
	for j := range list {
		if err := CheckOrigin(list[j]); err != nil {
			v.at(append([]any{&list[j]}, parents...)...)("%s[%d]: %v", path, j, err)
		}
	}
}

func (v *validator) routes(c *Config, known map[string]bool) {
	names := map[string]int{}
	paths := map[string]int{}
	for i := range c.Routes {
		r := &c.Routes[i]
		p := fmt.Sprintf("routes[%d]", i)
		if err := CheckRouteName(r.Name); err != nil {
			v.at(&r.Name, r, &c.Routes)("%s.name: %v", p, err)
		} else if j, dup := names[r.Name]; dup {
			v.at(&r.Name, r, &c.Routes)("%s.name: duplicate route name %s (also routes[%d])", p, quote(r.Name), j)
		} else {
			names[r.Name] = i
		}

		// Routes are told apart by the canonical path the proxy matches
		// on, so /charts, /charts/ and /Charts/ are one route.
		canonical, cerr := routepath.Canonical(r.Path)
		if err := checkPath(r.Path); err != nil {
			v.at(&r.Path, r, &c.Routes)("%s.path: %v", p, err)
		} else if cerr != nil {
			v.at(&r.Path, r, &c.Routes)("%s.path: %s: %v", p, quote(r.Path), cerr)
		} else if strings.Contains(r.Path, ";") {
			v.at(&r.Path, r, &c.Routes)("%s.path: %s must not contain ';': path parameters are ignored when routes are matched", p, quote(r.Path))
		} else if j, dup := paths[canonical]; dup {
			if c.Routes[j].Path == r.Path {
				v.at(&r.Path, r, &c.Routes)("%s.path: duplicate route path %s (also routes[%d])", p, quote(r.Path), j)
			} else {
				v.at(&r.Path, r, &c.Routes)("%s.path: %s matches the same requests as routes[%d].path %s (paths are matched ignoring case, ;parameters and a trailing slash)",
					p, quote(r.Path), j, quote(c.Routes[j].Path))
			}
		} else {
			paths[canonical] = i
			own := append([]string{c.Endpoints.Token, c.Endpoints.Authorize}, reservedPaths()...)
			for _, o := range own {
				if oc, err := routepath.Canonical(o); err == nil && overlaps(canonical, oc) {
					v.at(&r.Path, r, &c.Routes)("%s.path: %s collides with the gateway's own %s", p, quote(r.Path), o)
					break
				}
			}
		}

		if r.Upstream == "" {
			v.at(&r.Upstream, r, &c.Routes)("%s.upstream: required (an absolute http or https URL)", p)
		} else if err := checkHTTPURL(r.Upstream, false); err != nil {
			v.at(&r.Upstream, r, &c.Routes)("%s.upstream: %v", p, err)
		}

		v.knownScopes(p+".scopes", r.Scopes, known, &r.Scopes, r, &c.Routes)
		v.knownScopes(p+".any_scopes", r.AnyScopes, known, &r.AnyScopes, r, &c.Routes)
		if r.Public && (len(r.Scopes) > 0 || len(r.AnyScopes) > 0 || r.Subscription != "") {
			v.at(&r.Public, r, &c.Routes)("%s.public: a public route cannot require scopes, any_scopes or a subscription", p)
		}
		if r.Subscription != "" && strings.TrimSpace(r.Subscription) != r.Subscription {
			v.at(&r.Subscription, r, &c.Routes)("%s.subscription: %s has leading or trailing spaces", p, quote(r.Subscription))
		}
		v.origins(p+".allowed_origins", r.AllowedOrigins, &r.AllowedOrigins, r, &c.Routes)
		if s := r.InsufficientScopeStatus; s != 401 && s != 403 {
			v.at(&r.InsufficientScopeStatus, r, &c.Routes)("%s.insufficient_scope_status: %d must be 401 or 403", p, s)
		}
		v.positive(p+".timeout", &r.Timeout, r)
		v.positive(p+".dial_timeout", &r.DialTimeout, r)
		if r.MaxIdleConns < 0 {
			v.at(&r.MaxIdleConns, r, &c.Routes)("%s.max_idle_conns: %d must not be negative", p, r.MaxIdleConns)
		}
	}
}

func (v *validator) clients(c *Config, known map[string]bool) {
	ids := map[string]int{}
	for i := range c.Clients {
		cl := &c.Clients[i]
		p := fmt.Sprintf("clients[%d]", i)
		at := func(ptr any) func(string, ...any) { return v.at(ptr, cl, &c.Clients) }
		checkClient(cl, func(s string) bool { return known[s] }, cl.Secret != "",
			func(ptr any, field, msg string) { at(ptr)("%s.%s: %s", p, field, msg) })
		if err := CheckClientID(cl.ID); err == nil {
			if j, dup := ids[cl.ID]; dup {
				at(&cl.ID)("%s.id: duplicate client id %s (also clients[%d])", p, quote(cl.ID), j)
			} else {
				ids[cl.ID] = i
			}
		}
		if cl.Secret != "" && len([]rune(cl.Secret.Reveal())) < MinSecretLen {
			at(&cl.Secret)("%s.secret: too short: use at least %d characters", p, MinSecretLen)
		}
		if cl.AccessTTL < 0 {
			at(&cl.AccessTTL)("%s.access_ttl: %s must not be negative (0 means the default)", p, cl.AccessTTL)
		}
		if cl.RefreshTTL < 0 {
			at(&cl.RefreshTTL)("%s.refresh_ttl: %s must not be negative (0 means the default)", p, cl.RefreshTTL)
		}
	}
}

// ValidateClient checks a client registered outside the file (command
// line, portal) with the rules the file's clients follow: id, name, known
// grants and scopes of c, redirect URIs, origins, first-party grants, and a
// secret for the grants that need one (hasSecret: the client gets one). It
// returns every problem, joined, each naming its field.
func ValidateClient(c *Config, cl Client, hasSecret bool) error {
	var errs []error
	checkClient(&cl, c.KnownScope, hasSecret, func(_ any, field, msg string) {
		errs = append(errs, fmt.Errorf("%s: %s", field, msg))
	})
	return errors.Join(errs...)
}

// checkClient applies the rules shared by declared and registered clients.
// report gets a pointer to the bad field (for positions), the field's name
// and the message.
func checkClient(cl *Client, known func(string) bool, hasSecret bool, report func(ptr any, field, msg string)) {
	if err := CheckClientID(cl.ID); err != nil {
		report(&cl.ID, "id", fmt.Sprintf("%s: %v", quote(cl.ID), err))
	}
	if strings.TrimSpace(cl.Name) == "" {
		report(&cl.Name, "name", "required")
	}
	grants := map[string]bool{}
	needSecret, needRedirect := "", ""
	for j, g := range cl.Grants {
		field := fmt.Sprintf("grants[%d]", j)
		switch {
		case !KnownGrant(g):
			report(&cl.Grants[j], field, fmt.Sprintf("unknown grant %s (known: %s)", quote(g), strings.Join(Grants(), ", ")))
			continue
		case grants[g]:
			report(&cl.Grants[j], field, fmt.Sprintf("duplicate grant %s", quote(g)))
		case FirstPartyGrant(g) && !cl.FirstParty:
			report(&cl.Grants[j], field, fmt.Sprintf("grant %s is for first-party clients only: set first_party: true", g))
		}
		grants[g] = true
		if SecretGrant(g) && needSecret == "" {
			needSecret = g
		}
		if (g == GrantAuthorizationCode || g == GrantImplicit) && needRedirect == "" {
			needRedirect = g
		}
	}
	if !hasSecret && needSecret != "" {
		report(&cl.Secret, "secret", fmt.Sprintf("required for the %s grant", needSecret))
	}
	for j := range cl.Scopes {
		if !known(cl.Scopes[j]) {
			report(&cl.Scopes[j], fmt.Sprintf("scopes[%d]", j), fmt.Sprintf("unknown scope %s: declare it under scopes:", quote(cl.Scopes[j])))
		}
	}
	for j := range cl.RedirectURIs {
		if err := CheckRedirectURI(cl.RedirectURIs[j]); err != nil {
			report(&cl.RedirectURIs[j], fmt.Sprintf("redirect_uris[%d]", j), err.Error())
		}
	}
	if needRedirect != "" && len(cl.RedirectURIs) == 0 {
		report(&cl.RedirectURIs, "redirect_uris", fmt.Sprintf("the %s grant needs at least one redirect URI", needRedirect))
	}
	for j := range cl.AllowedOrigins {
		if err := CheckOrigin(cl.AllowedOrigins[j]); err != nil {
			report(&cl.AllowedOrigins[j], fmt.Sprintf("allowed_origins[%d]", j), err.Error())
		}
	}
}

// portal checks portal.scopes: each a known scope, listed once.
func (v *validator) portal(c *Config, known map[string]bool) {
	list := c.Portal.Scopes
	v.knownScopes("portal.scopes", list, known, &c.Portal.Scopes, &c.Portal)
	for j := range list {
		if known[list[j]] && slices.Contains(list[:j], list[j]) {
			v.at(&list[j], &c.Portal.Scopes, &c.Portal)("portal.scopes[%d]: duplicate scope %s", j, quote(list[j]))
		}
	}
}

func (v *validator) trustedIssuers(c *Config) {
	seen := map[string]int{}
	urls := map[string]int{} // jwks_url -> first issuer using it
	for i := range c.TrustedIssuers {
		t := &c.TrustedIssuers[i]
		p := fmt.Sprintf("trusted_issuers[%d]", i)
		in := []any{t, &c.TrustedIssuers}
		at := func(ptrs ...any) func(string, ...any) { return v.at(append(ptrs, in...)...) }

		switch {
		case t.Issuer == "":
			at(&t.Issuer)("%s.issuer: required (the iss of the tokens to accept)", p)
		case checkHTTPURL(t.Issuer, false) != nil:
			at(&t.Issuer)("%s.issuer: %v", p, checkHTTPURL(t.Issuer, false))
		case strings.TrimSuffix(t.Issuer, "/") == strings.TrimSuffix(c.Issuer, "/"):
			at(&t.Issuer)("%s.issuer: must differ from the gateway's own issuer", p)
		default:
			if j, dup := seen[t.Issuer]; dup {
				at(&t.Issuer)("%s.issuer: duplicate issuer %s (also trusted_issuers[%d])", p, quote(t.Issuer), j)
			}
			seen[t.Issuer] = i
		}

		// After loading, JWKS holds jwks_file's content: count them once
		// unless the file also wrote jwks.
		sources := 0
		if t.JWKSURL != "" {
			sources++
		}
		if t.JWKS != "" || t.JWKSFile != "" {
			sources++
		}
		if _, both := v.set[&t.JWKS]; both && t.JWKSFile != "" {
			sources++
		}
		if sources != 1 {
			at(&t.JWKSURL, &t.JWKS, &t.JWKSFile)("%s: set exactly one of jwks_url, jwks and jwks_file", p)
		}
		if t.JWKSURL != "" {
			if err := checkHTTPURL(t.JWKSURL, true); err != nil {
				at(&t.JWKSURL)("%s.jwks_url: %v", p, err)
			}
		}
		if t.JWKS != "" {
			// The keys are read by the rule the guard reads them with,
			// under the issuer's algorithms (when those are valid: a bad
			// one is reported below).
			err := checkJWKS(t.JWKS)
			if err == nil && sources == 1 && !slices.ContainsFunc(t.Algorithms, func(a string) bool { return !asymmetricAlg(a) }) {
				err = sigkey.CheckSet(t.JWKS, t.Algorithms)
			}
			if err != nil {
				name := "jwks"
				if _, inline := v.set[&t.JWKS]; !inline && t.JWKSFile != "" {
					name = "jwks_file"
				}
				at(&t.JWKS, &t.JWKSFile)("%s.%s: %v", p, name, err)
			}
		}

		if len(t.Algorithms) == 0 {
			at(&t.Algorithms)("%s.algorithms: list at least one algorithm (e.g. RS256)", p)
		}
		for j, a := range t.Algorithms {
			switch {
			case asymmetricAlg(a):
			case a == "none" || strings.HasPrefix(a, "HS"):
				at(&t.Algorithms[j], &t.Algorithms)("%s.algorithms[%d]: %s is not allowed: only asymmetric algorithms (RS*, PS*, ES*, EdDSA)", p, j, quote(a))
			default:
				at(&t.Algorithms[j], &t.Algorithms)("%s.algorithms[%d]: unknown algorithm %s: use RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA", p, j, quote(a))
			}
		}
		if len(t.Audience) == 0 {
			at(&t.Audience)("%s.audience: list at least one audience", p)
		}
		for j := range t.Audience {
			if strings.TrimSpace(t.Audience[j]) == "" {
				at(&t.Audience[j], &t.Audience)("%s.audience[%d]: must not be empty", p, j)
			}
		}
		v.origins(p+".allowed_origins", t.AllowedOrigins, &t.AllowedOrigins, t, &c.TrustedIssuers)
		if t.RefreshInterval < Duration(time.Second) {
			at(&t.RefreshInterval)("%s.refresh_interval: %s must be at least 1s", p, t.RefreshInterval)
		}
		v.positive(p+".min_refetch_interval", &t.MinRefetchInterval, t)

		// Issuers sharing a jwks_url share one download and its schedule.
		if t.JWKSURL != "" {
			if j, ok := urls[t.JWKSURL]; !ok {
				urls[t.JWKSURL] = i
			} else if o := &c.TrustedIssuers[j]; !sameAlgorithms(o.Algorithms, t.Algorithms) ||
				o.RefreshInterval != t.RefreshInterval || o.MinRefetchInterval != t.MinRefetchInterval {
				at(&t.JWKSURL)("%s.jwks_url: shared with trusted_issuers[%d], which sets other algorithms, refresh_interval or min_refetch_interval: issuers sharing a jwks_url must agree on them", p, j)
			}
		}
	}
}

// sameAlgorithms reports whether two algorithm lists name the same set.
func sameAlgorithms(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// checkJWKS checks that s is a JSON object with a "keys" array; the keys
// themselves are parsed where they are used.
func checkJWKS(s string) error {
	var set map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &set); err != nil {
		return fmt.Errorf("not a JWK set: a JSON object with a \"keys\" array is required")
	}
	var keys []json.RawMessage
	if raw, ok := set["keys"]; !ok || json.Unmarshal(raw, &keys) != nil || keys == nil {
		return fmt.Errorf("not a JWK set: the \"keys\" array is missing")
	}
	return nil
}
