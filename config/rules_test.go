package config

import (
	"strings"
	"testing"
)

// Each case is a small file with exactly one mistake: the test asserts
// that exactly one problem comes back, at the exact FILE:LINE:COL of the
// offending node, with the expected message.
func TestProblemsPointAtTheOffendingNode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		pos  string // LINE:COL
		msg  string // fragment of the message
	}{
		// Shape of the file.
		{"empty file", ``, "1:1", "empty config"},
		{"only comments", "# nothing here\n", "1:1", "empty config"},
		{"explicit null document", "---\n~\n", "1:1", "empty config"},
		{"root is a list", "- listen\n- issuer\n", "1:1", "config must be a mapping of keys, got a list"},
		{"two documents", "listen: ':1'\n---\nlisten: ':2'\n", "2:1", "one YAML document"},
		{"syntax error keeps its line", "listen: ':1'\nissuer: [unclosed\nrealm: x\n", "2:1", "invalid YAML: did not find expected ',' or ']'"},
		{"unclosed quote", "realm: 'x\n", "2:1", "invalid YAML: found unexpected end of stream"},
		{"misindented mapping", "tokens: a\n  alg: b\n", "2:1", "invalid YAML: mapping values are not allowed"},
		{"not UTF-8", "realm: ok\nissuer: \xff\n", "2:9", "the file must be UTF-8"},
		{"tab indentation", "store:\n\tdriver: sqlite\n", "2:1", "invalid YAML"},

		// Strict keys.
		{"unknown top-level key with suggestion", "listen: ':1'\nlisen: ':2'\n", "2:1", `unknown key "lisen" (did you mean "listen"?)`},
		{"unknown key in a route", "scopes: [a]\nroutes:\n  - name: r\n    path: /r\n    upstream: http://u\n    scope: [a]\n", "6:5", `unknown key "scope" in routes[0] (did you mean "scopes"?)`},
		{"unknown key without a close match", "store:\n  driver: sqlite\n  password: x\n", "3:3", `unknown key "password" in store`},
		{"duplicate key", "listen: ':1'\nrealm: r\nlisten: ':2'\n", "3:1", `listen: duplicate key "listen" (first at line 1)`},
		{"duplicate nested key", "tokens:\n  alg: RS256\n  alg: ES256\n", "3:3", `tokens.alg: duplicate key "alg"`},
		{"non-scalar key", "? [a, b]\n: c\n", "1:3", "a key must be a plain name"},

		// Types.
		{"integer expected", "token_cache_size: lots\n", "1:19", `token_cache_size: "lots" is not an integer`},
		{"list expected", "scopes: user\n", "1:9", `scopes: expected a list, got the scalar "user"`},
		{"mapping expected", "store: sqlite\n", "1:8", `store: expected a mapping, got the scalar "sqlite"`},
		{"string expected", "issuer: {url: x}\n", "1:9", "issuer: expected a string, got a mapping"},
		{"boolean expected", "tokens:\n  refresh_on_every_grant: yes\n", "2:27", `"yes" is not a boolean: write true or false`},
		{"duration without unit", "leeway: 30\n", "1:9", `leeway: duration "30" has no unit`},
		{"duration junk", "tokens:\n  access_ttl: soon\n", "2:15", `tokens.access_ttl: "soon" is not a duration`},
		{"duration given as a list", "leeway: [1s]\n", "1:9", "leeway: expected a duration, got a list"},
		{"bad merge value", "store:\n  <<: 3\n", "2:7", "a merge (<<) needs a mapping"},

		// ${ENV}.
		{"unset variable", "realm: r\nissuer: ${NOPE}\n", "2:9", "issuer: environment variable NOPE is not set"},
		{"unset variable inside a string", "issuer: https://${NOPE}:8080\n", "1:9", "environment variable NOPE is not set"},
		{"unterminated reference", "realm: ${HOST\n", "1:8", `realm: unterminated "${"`},
		{"invalid variable name", "realm: ${1X}\n", "1:8", `invalid environment variable name "1X"`},
		{"variable that is not an integer", "token_cache_size: ${HOST}\n", "1:19", `"api.example.com" is not an integer`},

		// Top level.
		{"unknown profile", "profile: acme\n", "1:10", `profile: unknown profile "acme" (known: altitudeangel, capa, navigraph)`},
		{"listen not host:port", "listen: localhost\n", "1:9", `listen: "localhost" is not host:port`},
		{"admin port out of range", "admin_listen: '127.0.0.1:99999'\n", "1:15", "port \"99999\" must be a number from 0 to 65535"},
		{"admin_listen equal to listen", "listen: ':7000'\nadmin_listen: ':7000'\n", "2:15", "admin_listen: must differ from listen"},
		{"issuer not absolute", "issuer: gateway.example.com\n", "1:9", `issuer: "gateway.example.com" must be an absolute http or https URL`},
		{"issuer with a query", "issuer: https://gw.example.com/?tenant=1\n", "1:9", "must not have a query"},
		{"issuer with a fragment", "issuer: 'https://gw.example.com/#x'\n", "1:9", "must not have a fragment"},
		{"issuer without host", "issuer: 'https:///path'\n", "1:9", "has no host"},
		{"realm with a quote", "realm: 'a\"b'\n", "1:8", "realm:"},
		{"unknown store driver", "store:\n  driver: mysql\n", "2:11", `store.driver: "mysql" is not a driver`},
		{"postgres without dsn", "store:\n  driver: postgres\n", "2:11", "store.dsn: required for the postgres driver"},
		{"endpoint without slash", "endpoints:\n  token: token\n", "2:10", `endpoints.token: path "token" must start with /`},
		{"endpoints equal", "endpoints: {token: /t, authorize: /t}\n", "1:35", "endpoints.authorize: must differ from endpoints.token"},
		{"endpoint on a reserved path", "endpoints:\n  authorize: /portal/login\n", "2:14", `is reserved for the gateway's /portal`},
		{"endpoint with a query", "endpoints:\n  token: /token?x\n", "2:10", "must not contain ? or #"},
		{"symmetric signing alg", "tokens:\n  alg: HS256\n", "2:8", `tokens.alg: "HS256" is not supported`},
		{"explicit zero TTL is not defaulted", "tokens:\n  access_ttl: 0s\n", "2:15", "tokens.access_ttl: 0s must be greater than 0"},
		{"negative refresh TTL", "tokens:\n  refresh_ttl: -1h\n", "2:16", "tokens.refresh_ttl: -1h0m0s must be greater than 0"},
		{"empty audience", "tokens:\n  audience: ''\n", "2:13", "tokens.audience: must not be empty"},
		{"invalid_scope_status", "tokens:\n  invalid_scope_status: 403\n", "2:25", "tokens.invalid_scope_status: 403 must be 400 or 401"},
		{"unknown body format", "tokens:\n  body_formats: [form, xml]\n", "2:24", `tokens.body_formats[1]: "xml" is not a body format: use form or json`},
		{"duplicate body format", "tokens:\n  body_formats: [json, json]\n", "2:24", `tokens.body_formats[1]: duplicate format "json"`},
		{"no body format", "tokens:\n  body_formats: []\n", "2:17", "tokens.body_formats: must name at least one of form, json"},
		{"insufficient_scope_status", "insufficient_scope_status: 402\n", "1:28", "insufficient_scope_status: 402 must be 401 or 403"},
		{"negative leeway", "leeway: -5s\n", "1:9", "leeway: -5s must not be negative"},
		{"zero cache size", "token_cache_size: 0\n", "1:19", "token_cache_size: 0 must be greater than 0"},
		{"scope with a space", "scopes: [ok, 'bad scope']\n", "1:14", `scopes[1]: scope "bad scope" is not an RFC 6749 scope token`},
		{"scope with a backslash", "scopes: ['a\\b']\n", "1:10", "is not an RFC 6749 scope token"},
		{"empty scope", "scopes: [a, '']\n", "1:13", "scopes[1]: a scope name cannot be empty"},
		{"duplicate scope", "scopes: [a, b, a]\n", "1:16", `scopes[2]: duplicate scope "a"`},
		{"server timeout zero", "server:\n  idle_timeout: 0s\n", "2:17", "server.idle_timeout: 0s must be greater than 0"},
		{"server header bytes", "server:\n  max_header_bytes: -1\n", "2:21", "server.max_header_bytes: -1 must be greater than 0"},
		{"trusted proxy not a CIDR", "server:\n  trusted_proxies: [10.0.0.0/8, proxy.example]\n", "2:33", `server.trusted_proxies[1]: "proxy.example" is not a CIDR or an IP address`},
		{"trusted proxy prefix too long", "server:\n  trusted_proxies:\n    - 10.0.0.0/33\n", "3:7", `server.trusted_proxies[0]: "10.0.0.0/33" is not a CIDR`},
		{"log level", "log:\n  level: verbose\n", "2:10", `log.level: "verbose" is not a level`},
		{"log format", "log: {format: xml}\n", "1:15", `log.format: "xml" is not a format`},
		{"subscriptions url", "subscriptions:\n  url: subs.example.com\n", "2:8", "subscriptions.url:"},
		{"subscriptions cache size", "subscriptions:\n  cache_size: -3\n", "2:15", "subscriptions.cache_size: -3 must be greater than 0"},

		// Routes.
		{"route without name", "routes:\n  - path: /r\n    upstream: http://u\n", "2:5", "routes[0].name: a route name is required"},
		{"route name not a label", "routes:\n  - name: Map Data\n    path: /r\n    upstream: http://u\n", "2:11", `route name "Map Data" must be lower-case letters, digits`},
		{"duplicate route name", "routes:\n  - {name: r, path: /a, upstream: http://u}\n  - {name: r, path: /b, upstream: http://u}\n", "3:12", `routes[1].name: duplicate route name "r" (also routes[0])`},
		{"route path without slash", "routes:\n  - name: r\n    path: r/\n    upstream: http://u\n", "3:11", `routes[0].path: path "r/" must start with /`},
		{"route path with dot-dot", "routes:\n  - name: r\n    path: /a/../b\n    upstream: http://u\n", "3:11", "must not contain .."},
		{"route path with query", "routes:\n  - name: r\n    path: /a?b\n    upstream: http://u\n", "3:11", "must not contain ? or #"},
		{"route without path", "routes:\n  - name: r\n    upstream: http://u\n", "2:5", "routes[0].path: a path is required"},
		{"duplicate route path", "routes:\n  - {name: a, path: /x/, upstream: http://u}\n  - {name: b, path: /x/, upstream: http://u}\n", "3:21", `routes[1].path: duplicate route path "/x/" (also routes[0])`},
		{"route paths equal but for a trailing slash", "routes:\n  - {name: a, path: /charts, upstream: http://u}\n  - {name: b, path: /charts/, upstream: http://u}\n", "3:21",
			`routes[1].path: "/charts/" matches the same requests as routes[0].path "/charts"`},
		{"route paths equal but for case", "routes:\n  - {name: a, path: /charts, upstream: http://u}\n  - {name: b, path: /Charts/, upstream: http://u}\n", "3:21",
			`routes[1].path: "/Charts/" matches the same requests as routes[0].path "/charts"`},
		{"route path with a parameter", "routes:\n  - {name: a, path: /charts;v=1/, upstream: http://u}\n", "2:21", `routes[0].path: "/charts;v=1/" must not contain ';'`},
		{"route path with a backslash", "routes:\n  - {name: a, path: '/charts\\x', upstream: http://u}\n", "2:21", `routes[0].path: "/charts\\x": a backslash is not allowed in a path`},
		{"route on the token endpoint in another case", "routes:\n  - {name: a, path: /Token, upstream: http://u}\n", "2:21", `routes[0].path: "/Token" collides with the gateway's own /token`},
		{"route on the token endpoint", "routes:\n  - {name: a, path: /token/, upstream: http://u}\n", "2:21", `routes[0].path: "/token/" collides with the gateway's own /token`},
		{"route on a profile's token endpoint", "profile: capa\nroutes:\n  - {name: a, path: /account/token, upstream: http://u}\n", "3:21", "collides with the gateway's own /account/token"},
		{"route under .well-known", "routes:\n  - {name: a, path: /.well-known/x, upstream: http://u}\n", "2:21", "collides with the gateway's own /.well-known/"},
		{"route on introspect", "routes:\n  - {name: a, path: /introspect, upstream: http://u}\n", "2:21", "collides with the gateway's own /introspect"},
		{"route without upstream", "routes:\n  - name: r\n    path: /r\n", "2:5", "routes[0].upstream: required"},
		{"relative upstream", "routes:\n  - name: r\n    path: /r\n    upstream: /api\n", "4:15", `routes[0].upstream: "/api" must be an absolute http or https URL`},
		{"upstream with another scheme", "routes:\n  - name: r\n    path: /r\n    upstream: ftp://files\n", "4:15", "must be an absolute http or https URL"},
		{"upstream without host", "routes:\n  - name: r\n    path: /r\n    upstream: 'http://:80/x'\n", "4:15", "has no host"},
		{"upstream with query", "routes:\n  - name: r\n    path: /r\n    upstream: http://u/?k=v\n", "4:15", "must not have a query"},
		{"route scope not declared", "scopes: [a]\nroutes:\n  - name: r\n    path: /r\n    upstream: http://u\n    scopes: [a, b]\n", "6:17", `routes[0].scopes[1]: unknown scope "b": declare it under scopes:`},
		{"route any_scope not declared", "routes:\n  - name: r\n    path: /r\n    upstream: http://u\n    any_scopes: [x]\n", "5:18", `routes[0].any_scopes[0]: unknown scope "x"`},
		{"public route with scopes", "scopes: [a]\nroutes:\n  - name: r\n    path: /r\n    upstream: http://u\n    scopes: [a]\n    public: true\n", "7:13", "routes[0].public: a public route cannot require scopes"},
		{"public route with subscription", "routes:\n  - name: r\n    path: /r\n    upstream: http://u\n    subscription: fmsdata\n    public: true\n", "6:13", "cannot require scopes, any_scopes or a subscription"},
		{"wildcard origin", "routes:\n  - name: r\n    path: /r\n    upstream: http://u\n    allowed_origins: ['*']\n", "5:23", `routes[0].allowed_origins[0]: the wildcard origin "*" is not allowed`},
		{"origin with a path", "routes:\n  - name: r\n    path: /r\n    upstream: http://u\n    allowed_origins: [https://a.example/]\n", "5:23", "must not have a path, query or fragment"},
		{"origin in upper case", "routes:\n  - name: r\n    path: /r\n    upstream: http://u\n    allowed_origins: [https://A.example]\n", "5:23", "must be lower case"},
		{"route insufficient_scope_status", "routes:\n  - name: r\n    path: /r\n    upstream: http://u\n    insufficient_scope_status: 404\n", "5:32", "routes[0].insufficient_scope_status: 404 must be 401 or 403"},
		{"route timeout zero", "routes:\n  - name: r\n    path: /r\n    upstream: http://u\n    timeout: 0s\n", "5:14", "routes[0].timeout: 0s must be greater than 0"},
		{"route dial timeout negative", "routes:\n  - name: r\n    path: /r\n    upstream: http://u\n    dial_timeout: -1s\n", "5:19", "routes[0].dial_timeout: -1s must be greater than 0"},
		{"negative max_idle_conns", "routes:\n  - name: r\n    path: /r\n    upstream: http://u\n    max_idle_conns: -1\n", "5:21", "routes[0].max_idle_conns: -1 must not be negative"},
		{"route is not a mapping", "routes:\n  - mapdata\n", "2:5", `routes[0]: expected a mapping, got the scalar "mapdata"`},

		// Clients.
		{"client id with capitals", "clients:\n  - id: Demo\n    name: d\n", "2:9", `clients[0].id: "Demo": a client id is 1 to 64 lower-case letters`},
		{"client id with trailing space", "clients:\n  - id: 'demo '\n    name: d\n", "2:9", "not starting or ending with a space"},
		{"client id too long", "clients:\n  - id: " + strings.Repeat("a", 65) + "\n    name: d\n", "2:9", "a client id is 1 to 64"},
		{"client without id", "clients:\n  - name: d\n", "2:5", "clients[0].id:"},
		{"duplicate client id", "clients:\n  - {id: a, name: a}\n  - {id: a, name: b}\n", "3:10", `clients[1].id: duplicate client id "a" (also clients[0])`},
		{"client without name", "clients:\n  - id: demo\n", "2:5", "clients[0].name: required"},
		{"unknown grant", "clients:\n  - id: demo\n    name: d\n    grants: [device_code]\n", "4:14", `clients[0].grants[0]: unknown grant "device_code"`},
		{"duplicate grant", "clients:\n  - id: demo\n    name: d\n    grants: [implicit, implicit]\n    redirect_uris: [https://a/cb]\n", "4:24", `clients[0].grants[1]: duplicate grant "implicit"`},
		{"password grant for a third party", "clients:\n  - id: demo\n    name: d\n    secret: ${DEMO_SECRET}\n    grants: [password]\n", "5:14", "grant password is for first-party clients only: set first_party: true"},
		{"admin grant for a third party", "clients:\n  - id: demo\n    name: d\n    secret: ${DEMO_SECRET}\n    grants: [refresh_token, admin]\n", "5:29", "grant admin is for first-party clients only"},
		{"client_credentials without secret", "clients:\n  - id: demo\n    name: d\n    grants: [client_credentials]\n", "2:5", "clients[0].secret: required for the client_credentials grant"},
		{"a2a without secret", "clients:\n  - id: demo\n    name: d\n    first_party: true\n    grants: [a2a]\n", "2:5", "clients[0].secret: required for the a2a grant"},
		{"short secret", "clients:\n  - id: demo\n    name: d\n    secret: hunter2\n", "4:13", "clients[0].secret: too short: use at least 16 characters"},
		{"client scope not declared", "scopes: [a]\nclients:\n  - id: demo\n    name: d\n    scopes: [a, z]\n", "5:17", `clients[0].scopes[1]: unknown scope "z"`},
		{"relative redirect URI", "clients:\n  - id: demo\n    name: d\n    redirect_uris: [/callback]\n", "4:21", `clients[0].redirect_uris[0]: redirect URI "/callback" must be an absolute URI`},
		{"redirect URI with fragment", "clients:\n  - id: demo\n    name: d\n    redirect_uris: ['https://a/cb#x']\n", "4:21", "must not have a fragment"},
		{"code grant without redirect URI", "clients:\n  - id: demo\n    name: d\n    grants: [authorization_code]\n", "2:5", "clients[0].redirect_uris: the authorization_code grant needs at least one redirect URI"},
		{"client origin wildcard", "clients:\n  - id: demo\n    name: d\n    allowed_origins: ['*']\n", "4:23", "clients[0].allowed_origins[0]: the wildcard origin"},
		{"client negative access TTL", "clients:\n  - id: demo\n    name: d\n    access_ttl: -1m\n", "4:17", "clients[0].access_ttl: -1m0s must not be negative"},

		// Trusted issuers.
		{"issuer missing", "trusted_issuers:\n  - jwks_url: https://idp/jwks\n", "2:5", "trusted_issuers[0].issuer: required"},
		{"issuer not a URL", "trusted_issuers:\n  - issuer: idp\n    jwks_url: https://idp/jwks\n", "2:13", `trusted_issuers[0].issuer: "idp" must be an absolute http or https URL`},
		{"issuer is the gateway itself", "issuer: https://gw.example\ntrusted_issuers:\n  - issuer: https://gw.example/\n    jwks_url: https://idp/jwks\n", "3:13", "must differ from the gateway's own issuer"},
		{"duplicate trusted issuer", "trusted_issuers:\n  - {issuer: 'https://idp', jwks_url: 'https://idp/k'}\n  - {issuer: 'https://idp', jwks_url: 'https://idp/k'}\n", "3:14", `trusted_issuers[1].issuer: duplicate issuer "https://idp" (also trusted_issuers[0])`},
		{"no key source", "trusted_issuers:\n  - issuer: https://idp\n", "2:5", "trusted_issuers[0]: set exactly one of jwks_url, jwks and jwks_file"},
		{"two key sources", "trusted_issuers:\n  - issuer: https://idp\n    jwks_url: https://idp/k\n    jwks: '{\"keys\":[]}'\n", "3:15", "set exactly one of jwks_url, jwks and jwks_file"},
		{"jwks_url not http", "trusted_issuers:\n  - issuer: https://idp\n    jwks_url: file:///etc/keys\n", "3:15", "trusted_issuers[0].jwks_url:"},
		{"inline jwks not an object", "trusted_issuers:\n  - issuer: https://idp\n    jwks: '[1, 2]'\n", "3:11", "trusted_issuers[0].jwks: not a JWK set"},
		{"inline jwks without keys", "trusted_issuers:\n  - issuer: https://idp\n    jwks: '{\"kty\": \"RSA\"}'\n", "3:11", `the "keys" array is missing`},
		{"algorithm none", "trusted_issuers:\n  - issuer: https://idp\n    jwks_url: https://idp/k\n    algorithms: [RS256, none]\n", "4:25", `trusted_issuers[0].algorithms[1]: "none" is not allowed: only asymmetric algorithms`},
		{"algorithm HS256", "trusted_issuers:\n  - issuer: https://idp\n    jwks_url: https://idp/k\n    algorithms: [HS256]\n", "4:18", `"HS256" is not allowed`},
		{"unknown algorithm", "trusted_issuers:\n  - issuer: https://idp\n    jwks_url: https://idp/k\n    algorithms: [RS1024]\n", "4:18", `unknown algorithm "RS1024"`},
		{"no algorithms", "trusted_issuers:\n  - issuer: https://idp\n    jwks_url: https://idp/k\n    algorithms: []\n", "4:17", "trusted_issuers[0].algorithms: list at least one algorithm"},
		{"no audience", "trusted_issuers:\n  - issuer: https://idp\n    jwks_url: https://idp/k\n    audience: []\n", "4:15", "trusted_issuers[0].audience: list at least one audience"},
		{"refresh interval under a second", "trusted_issuers:\n  - issuer: https://idp\n    jwks_url: https://idp/k\n    refresh_interval: 500ms\n", "4:23", "trusted_issuers[0].refresh_interval: 500ms must be at least 1s"},
		{"issuer origin with a path", "trusted_issuers:\n  - issuer: https://idp\n    jwks_url: https://idp/k\n    allowed_origins: [https://a/b]\n", "4:23", "trusted_issuers[0].allowed_origins[0]:"},
		{"unreadable jwks_file", "trusted_issuers:\n  - issuer: https://idp\n    jwks_file: keys.json\n", "3:16", "trusted_issuers[0].jwks_file: no files in this test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, ps := parseString(t, tt.src)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want exactly 1:\n%v", len(ps), ps)
			}
			got := ps[0].String()
			prefix := "t.yaml:" + tt.pos + ": "
			if !strings.HasPrefix(got, prefix) || !strings.Contains(got, tt.msg) {
				t.Errorf("got  %s\nwant %s...%s", got, prefix, tt.msg)
			}
		})
	}
}
