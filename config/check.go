package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/clearance-gw/clearance/authz/sigkey"
)

// Grant types a client may enable.
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantPassword          = "password"
	GrantImplicit          = "implicit"
	GrantA2A               = "a2a"
	GrantAdmin             = "admin"
)

// Grants returns every grant type the gateway knows.
func Grants() []string {
	return []string{
		GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken,
		GrantPassword, GrantImplicit, GrantA2A, GrantAdmin,
	}
}

// KnownGrant reports whether g is a grant type the gateway knows.
func KnownGrant(g string) bool {
	switch g {
	case GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken,
		GrantPassword, GrantImplicit, GrantA2A, GrantAdmin:
		return true
	}
	return false
}

// FirstPartyGrant reports whether grant g may be enabled only on a
// first-party client: password and admin, where the app handles users'
// passwords. The a2a grant may be enabled on any client with a secret (a
// portal user turns it on with "Create token"); the token endpoint still
// serves it to first-party clients only, since there the app sends the
// user's password.
func FirstPartyGrant(g string) bool {
	return g == GrantPassword || g == GrantAdmin
}

// SecretGrant reports whether a client enabling grant g must have a secret.
func SecretGrant(g string) bool {
	return g == GrantClientCredentials || g == GrantA2A || FirstPartyGrant(g)
}

// MinSecretLen is the shortest client secret accepted, in characters.
const MinSecretLen = 16

// CheckClientID checks a client identifier: 1 to 64 lower-case letters,
// digits, dashes and spaces, not starting or ending with a space.
func CheckClientID(id string) error {
	const rule = "a client id is 1 to 64 lower-case letters, digits, dashes and spaces, not starting or ending with a space"
	if id == "" || len(id) > 64 || id[0] == ' ' || id[len(id)-1] == ' ' {
		return errors.New(rule)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == ' ') {
			return errors.New(rule)
		}
	}
	return nil
}

// CheckScopeToken checks a scope name against RFC 6749 §3.3: one or more
// printable ASCII characters other than space, '"' and '\'.
func CheckScopeToken(s string) error {
	if s == "" {
		return errors.New("a scope name cannot be empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return fmt.Errorf("scope %s is not an RFC 6749 scope token: use printable ASCII without spaces, '\"' or '\\'", quote(s))
		}
	}
	return nil
}

// CheckRouteName checks a route name: lower-case letters, digits, '_' and
// '-' (the name is a metrics label).
func CheckRouteName(s string) error {
	if s == "" {
		return errors.New("a route name is required")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("route name %s must be lower-case letters, digits, '_' and '-' (it is a metrics label)", quote(s))
		}
	}
	return nil
}

// CheckOrigin checks a CORS origin: scheme://host[:port] in lower case,
// with no path, query, fragment or user info. "*" and "null" are refused.
func CheckOrigin(s string) error {
	switch s {
	case "*":
		return errors.New(`the wildcard origin "*" is not allowed: list each origin`)
	case "null", "":
		return fmt.Errorf("%s is not an origin: write scheme://host[:port]", quote(s))
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" || u.Hostname() == "" {
		return fmt.Errorf("%s is not an origin: write scheme://host[:port]", quote(s))
	}
	if u.User != nil {
		return fmt.Errorf("origin %s must not contain user info", quote(s))
	}
	if u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Errorf("origin %s must not have a path, query or fragment (not even a trailing /)", quote(s))
	}
	if s != strings.ToLower(s) {
		return fmt.Errorf("origin %s must be lower case, as browsers send it", quote(s))
	}
	return nil
}

// CheckRedirectURI checks a registered redirect URI: absolute, without a
// fragment (RFC 6749 §3.1.2).
func CheckRedirectURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("redirect URI %s must be an absolute URI", quote(s))
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Errorf("redirect URI %s must not have a fragment", quote(s))
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() == "" {
		return fmt.Errorf("redirect URI %s has no host", quote(s))
	}
	return nil
}

// checkHTTPURL checks an absolute http or https URL with a host and no
// fragment, and no query unless query is true.
func checkHTTPURL(s string, query bool) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" {
		return fmt.Errorf("%s must be an absolute http or https URL", quote(s))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%s has no host", quote(s))
	}
	if u.User != nil {
		return fmt.Errorf("%s must not contain user info", quote(s))
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Errorf("%s must not have a fragment", quote(s))
	}
	if !query && (u.RawQuery != "" || u.ForceQuery) {
		return fmt.Errorf("%s must not have a query", quote(s))
	}
	return nil
}

// checkHostPort checks a listen address: host:port with a numeric port
// (an empty host listens on every interface; port 0 picks a free port).
func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%s is not host:port (e.g. \":8080\" or \"127.0.0.1:9090\")", quote(s))
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || strconv.FormatUint(n, 10) != port {
		return fmt.Errorf("%s: port %s must be a number from 0 to 65535", quote(s), quote(port))
	}
	return nil
}

// checkPath checks a URL path used for routing: it starts with "/" and has
// no "..", no query or fragment, no spaces or control characters.
func checkPath(s string) error {
	switch {
	case s == "":
		return errors.New("a path is required")
	case s[0] != '/':
		return fmt.Errorf("path %s must start with /", quote(s))
	case strings.Contains(s, ".."):
		return fmt.Errorf("path %s must not contain ..", quote(s))
	case strings.ContainsAny(s, "?#"):
		return fmt.Errorf("path %s must not contain ? or #", quote(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return fmt.Errorf("path %s must not contain spaces or control characters", quote(s))
		}
	}
	return nil
}

// reservedPaths are served by the gateway itself besides the endpoints.
func reservedPaths() []string {
	return []string{"/.well-known/", "/portal", "/revoke", "/introspect"}
}

// SubscriptionsPath is the path of the subscriptions endpoint (SPEC: GET
// /v1/subscriptions/valid), which the gateway serves when routes require
// subscriptions; endpoints: may not take it.
const SubscriptionsPath = "/v1/subscriptions/valid"

// overlaps reports whether a route prefix would take requests meant for
// the gateway's own path p: the same path, or a path under it.
func overlaps(route, p string) bool {
	r, s := strings.TrimSuffix(route, "/"), strings.TrimSuffix(p, "/")
	return r == s || strings.HasPrefix(r, s+"/")
}

// asymmetricAlg reports whether alg is an asymmetric JWS algorithm the
// gateway accepts from trusted issuers.
func asymmetricAlg(alg string) bool { return sigkey.Accepted(jwa.SignatureAlgorithm(alg)) }
