package config

import (
	"slices"
)

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
