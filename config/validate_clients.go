package config

import (
	"errors"
	"fmt"
	"strings"
)

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
