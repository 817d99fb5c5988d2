package config

import "slices"

// RouteByName returns the route named name, or nil.
func (c *Config) RouteByName(name string) *Route {
	for i := range c.Routes {
		if c.Routes[i].Name == name {
			return &c.Routes[i]
		}
	}
	return nil
}

// ClientByID returns the declared client with the given id, or nil.
func (c *Config) ClientByID(id string) *Client {
	for i := range c.Clients {
		if c.Clients[i].ID == id {
			return &c.Clients[i]
		}
	}
	return nil
}

// TrustedIssuerFor returns the trusted issuer whose issuer is iss, or nil.
func (c *Config) TrustedIssuerFor(iss string) *TrustedIssuer {
	for i := range c.TrustedIssuers {
		if c.TrustedIssuers[i].Issuer == iss {
			return &c.TrustedIssuers[i]
		}
	}
	return nil
}

// KnownScope reports whether scope is declared under scopes:.
func (c *Config) KnownScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// HasGrant reports whether the client enables grant g.
func (cl *Client) HasGrant(g string) bool { return slices.Contains(cl.Grants, g) }

// Revalidate checks a Config built or changed in code (for example by a
// test or a command-line override) with the same rules Load applies.
// Problems point at line 1 of c.File, as there are no YAML positions.
func (c *Config) Revalidate() error {
	if probs := validate(c, c.File, nil, nil, nil); len(probs) > 0 {
		return tidy(probs)
	}
	return nil
}
