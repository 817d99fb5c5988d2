package config

import (
	"fmt"
	"strings"

	"github.com/clearance-gw/clearance/internal/routepath"
)

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
