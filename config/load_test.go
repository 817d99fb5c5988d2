package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadFullExample(t *testing.T) {
	t.Parallel()
	c, err := Load(filepath.Join("testdata", "full.yaml"), testEnv())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.File != filepath.Join("testdata", "full.yaml") {
		t.Errorf("File = %q", c.File)
	}
	if got := c.Store.DSN.Reveal(); got != "postgres://gw:pw@db/clearance" {
		t.Errorf("store.dsn = %q, want the expanded ${DATABASE_URL}", got)
	}
	demo := c.ClientByID("demo-backend")
	if demo == nil || demo.Secret.Reveal() != "s3cr3t-demo-value-0123456789" {
		t.Fatalf("demo-backend client = %+v", demo)
	}
	if got := c.ClientByID("ops").Secret.Reveal(); got != "ops-secret-$-0123456789" {
		t.Errorf("ops secret = %q, want $$ unescaped to $", got)
	}
	if demo.AccessTTL.D() != 30*time.Minute || !demo.HasGrant(GrantClientCredentials) || demo.HasGrant(GrantPassword) {
		t.Errorf("demo-backend = %+v", demo)
	}
	r := c.RouteByName("mapdata")
	if r == nil || r.Upstream != "http://127.0.0.1:9000/v2" || !r.StripPrefix || !r.ForwardAuthorization ||
		r.Timeout.D() != 10*time.Second || r.DialTimeout.D() != 2*time.Second || r.MaxIdleConns != 64 ||
		r.FlushInterval.D() != -time.Millisecond || r.InsufficientScopeStatus != 403 {
		t.Errorf("mapdata route = %+v", r)
	}
	if tower := c.RouteByName("tower"); tower.InsufficientScopeStatus != 401 || !tower.TLSInsecureSkip ||
		!slices.Equal(tower.AnyScopes, []string{"talk_tower", "query_mapairdata"}) || tower.Subscription != "fmsdata" {
		t.Errorf("tower route = %+v", tower)
	}
	if c.RouteByName("nope") != nil || c.ClientByID("nope") != nil || c.TrustedIssuerFor("nope") != nil {
		t.Error("lookups of unknown names must return nil")
	}
	if !c.KnownScope("talk_tower") || c.KnownScope("manage_users") {
		t.Errorf("scopes = %v: the file's scopes replace the profile's", c.Scopes)
	}
	login := c.TrustedIssuerFor("https://login.example.org/")
	if login == nil || !slices.Equal(login.Audience, []string{"aviation-apis", "api://aviation"}) ||
		!slices.Equal(login.Algorithms, []string{"RS256", "PS256"}) || login.RefreshInterval.D() != 5*time.Minute ||
		login.MinRefetchInterval.D() != 30*time.Second {
		t.Errorf("login issuer = %+v", login)
	}
	if inline := c.TrustedIssuerFor("https://inline.example.net"); !slices.Equal(inline.Audience, []string{"inline-aud"}) {
		t.Errorf("a scalar audience is a one-element set, got %v", inline.Audience)
	}
	if !slices.Equal(c.Server.TrustedProxies, []string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.7"}) {
		t.Errorf("server.trusted_proxies = %q", c.Server.TrustedProxies)
	}
	if c.Server.MaxHeaderBytes != 32768 || c.Log != (Log{Level: "debug", Format: "text"}) ||
		c.Subscriptions != (Subscriptions{URL: "https://subs.example.com/api", TTL: Duration(time.Minute), CacheSize: 500, Timeout: Duration(2 * time.Second)}) {
		t.Errorf("server/log/subscriptions = %+v %+v %+v", c.Server, c.Log, c.Subscriptions)
	}
	if err := c.Revalidate(); err != nil {
		t.Errorf("a loaded config must revalidate: %v", err)
	}
}

func TestLoadReadErrorIsWrappedNotProblems(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), testEnv())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if !strings.HasPrefix(err.Error(), "load config: ") {
		t.Errorf("err = %q, want the load config: prefix", err)
	}
	var ps Problems
	if errors.As(err, &ps) {
		t.Error("a read error is not a Problems")
	}
	if got := FormatProblems(err); got != err.Error()+"\n" {
		t.Errorf("FormatProblems = %q", got)
	}
}

// A file with many mistakes reports every one of them, in file order.
func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	t.Parallel()
	src := `listen: 8080
lisen: ":8080"
issuer: ftp://gw
store: {driver: mysql}
tokens:
  alg: none
  access_ttl: 15
scopes: [user, "a b"]
routes:
  - name: Map
    path: mapdata
    upstream: /local
    scopes: [user, charts]
    secret: x
  - name: Map
    path: /portal/x
    upstream: http://u
clients:
  - id: Demo
    grants: [password]
    secret: ${UNSET_SECRET}
trusted_issuers:
  - issuer: https://idp
    algorithms: [HS256]
log: {level: loud}
`
	_, err := parse("gateway.yaml", []byte(src), testEnv(), noFiles)
	want := []string{
		`gateway.yaml:1:9: listen: "8080" is not host:port (e.g. ":8080" or "127.0.0.1:9090")`,
		`gateway.yaml:2:1: unknown key "lisen" (did you mean "listen"?)`,
		`gateway.yaml:3:9: issuer: "ftp://gw" must be an absolute http or https URL`,
		`gateway.yaml:4:17: store.driver: "mysql" is not a driver: use sqlite or postgres`,
		`gateway.yaml:6:8: tokens.alg: "none" is not supported: use RS256, ES256 or EdDSA`,
		`gateway.yaml:7:15: tokens.access_ttl: duration "15" has no unit: write e.g. 15s or 15m`,
		`gateway.yaml:8:16: scopes[1]: scope "a b" is not an RFC 6749 scope token: use printable ASCII without spaces, '"' or '\'`,
		`gateway.yaml:10:11: routes[0].name: route name "Map" must be lower-case letters, digits, '_' and '-' (it is a metrics label)`,
		`gateway.yaml:11:11: routes[0].path: path "mapdata" must start with /`,
		`gateway.yaml:12:15: routes[0].upstream: "/local" must be an absolute http or https URL`,
		`gateway.yaml:13:20: routes[0].scopes[1]: unknown scope "charts": declare it under scopes:`,
		`gateway.yaml:14:5: unknown key "secret" in routes[0]`,
		`gateway.yaml:15:11: routes[1].name: route name "Map" must be lower-case letters, digits, '_' and '-' (it is a metrics label)`,
		`gateway.yaml:16:11: routes[1].path: "/portal/x" collides with the gateway's own /portal`,
		`gateway.yaml:19:5: clients[0].name: required`,
		`gateway.yaml:19:9: clients[0].id: "Demo": a client id is 1 to 64 lower-case letters, digits, dashes and spaces, not starting or ending with a space`,
		`gateway.yaml:20:14: clients[0].grants[0]: grant password is for first-party clients only: set first_party: true`,
		`gateway.yaml:21:13: clients[0].secret: environment variable UNSET_SECRET is not set`,
		`gateway.yaml:23:5: trusted_issuers[0]: set exactly one of jwks_url, jwks and jwks_file`,
		`gateway.yaml:24:18: trusted_issuers[0].algorithms[0]: "HS256" is not allowed: only asymmetric algorithms (RS*, PS*, ES*, EdDSA)`,
		`gateway.yaml:25:14: log.level: "loud" is not a level: use debug, info, warn or error`,
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	got := strings.Split(ps.Error(), "\n")
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if FormatProblems(err) != strings.Join(want, "\n")+"\n" {
		t.Errorf("FormatProblems = %q", FormatProblems(err))
	}
	// The secret's variable is named, its value never (it is unset here,
	// but the rule holds for set ones: see TestSecretNeverPrints).
}

func TestJWKSFileIsReadRelativeToTheConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const jwks = `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"p1"}]}`
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/keys/partner.json", jwks)
	write("etc/keys/broken.json", `{"kty":"RSA"}`)
	if err := os.Mkdir(filepath.Join(dir, "etc/keys/dir.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	const head = "trusted_issuers:\n  - issuer: https://partner.example\n    jwks_file: "
	const tail = "\n    algorithms: [EdDSA]\n" // the key's type: an Ed25519 key is of no use under RS256

	t.Run("relative path resolves against the config directory", func(t *testing.T) {
		write("etc/ok.yaml", head+"keys/partner.json"+tail)
		c, err := Load(filepath.Join(dir, "etc/ok.yaml"), testEnv())
		if err != nil {
			t.Fatal(err)
		}
		ti := c.TrustedIssuers[0]
		if ti.JWKS != jwks || ti.JWKSFile != "keys/partner.json" {
			t.Errorf("JWKS = %q, JWKSFile = %q", ti.JWKS, ti.JWKSFile)
		}
		if err := c.Revalidate(); err != nil {
			t.Errorf("revalidate: %v", err)
		}
	})
	t.Run("absolute path is used as is", func(t *testing.T) {
		write("other/abs.yaml", head+filepath.Join(dir, "etc/keys/partner.json")+tail)
		c, err := Load(filepath.Join(dir, "other/abs.yaml"), testEnv())
		if err != nil {
			t.Fatal(err)
		}
		if c.TrustedIssuers[0].JWKS != jwks {
			t.Errorf("JWKS = %q", c.TrustedIssuers[0].JWKS)
		}
	})
	for _, tt := range []struct{ name, file, msg string }{
		{"missing file", "keys/none.json", "no such file"},
		{"a directory", "keys/dir.json", "is not a regular file"},
		{"content without keys", "keys/broken.json", `trusted_issuers[0].jwks_file: not a JWK set: the "keys" array is missing`},
	} {
		t.Run(tt.name+" is a problem at jwks_file", func(t *testing.T) {
			name := strings.ReplaceAll(tt.name, " ", "-") + ".yaml"
			write("etc/"+name, head+tt.file+tail)
			path := filepath.Join(dir, "etc", name)
			_, err := Load(path, testEnv())
			var ps Problems
			if !errors.As(err, &ps) || len(ps) != 1 {
				t.Fatalf("err = %v, want one problem", err)
			}
			if prefix := path + ":3:16: "; !strings.HasPrefix(ps[0].String(), prefix) || !strings.Contains(ps[0].Msg, tt.msg) {
				t.Errorf("got %s, want %s...%s", ps[0], prefix, tt.msg)
			}
		})
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `
scopes: [a, b]
routes:
  - &route
    name: one
    path: /one/
    upstream: http://127.0.0.1:9000
    timeout: 5s
    scopes: [a]
  - <<: *route
    name: two
    path: /two/
    scopes: [b]
  - <<: [{timeout: 7s, dial_timeout: 1s}, *route]
    name: three
    path: /three/
`[1:])
	one, two, three := c.RouteByName("one"), c.RouteByName("two"), c.RouteByName("three")
	if two.Upstream != one.Upstream || two.Timeout.D() != 5*time.Second || !slices.Equal(two.Scopes, []string{"b"}) {
		t.Errorf("route two = %+v: merged values with its own keys winning", two)
	}
	if three.Timeout.D() != 7*time.Second || three.DialTimeout.D() != time.Second || three.Upstream != one.Upstream {
		t.Errorf("route three = %+v: the earlier mapping of a merge list wins", three)
	}

	t.Run("problems in an anchored mapping point at the anchor", func(t *testing.T) {
		_, ps := parseString(t, "scopes: [a]\nroutes:\n  - &r\n    name: one\n    path: /one/\n    upstream: /x\n  - <<: *r\n    name: two\n    path: /two/\n")
		got := strings.Split(ps.Error(), "\n")
		want := []string{
			`t.yaml:6:15: routes[0].upstream: "/x" must be an absolute http or https URL`,
			`t.yaml:6:15: routes[1].upstream: "/x" must be an absolute http or https URL`,
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

// Merge keys over aliases describe exponential work in a small file (a
// billion laughs); decoding stops at a budget with one clear problem.
func TestAliasExpansionIsBounded(t *testing.T) {
	t.Parallel()
	for _, leaf := range []string{"{scopes: [a, a, a, a, a, a, a, a, a, a]}", "{}"} {
		m := "&m0 " + leaf
		for i := 1; i <= 9; i++ {
			m = fmt.Sprintf("&m%d {<<: [%s%s]}", i, m, strings.Repeat(fmt.Sprintf(", *m%d", i-1), 9))
		}
		src := "routes: [" + m + "]\n"
		// The budget, not a stopwatch, is what this checks: decoding ends
		// with the size problem instead of expanding every alias.
		_, ps := parseString(t, src)
		if len(ps) != 1 || !strings.Contains(ps[0].Msg, "config too large") {
			t.Errorf("leaf %s: want one size problem, got:\n%.2000s", leaf, ps.Error())
		}
	}
}

func TestProblemsAreCapped(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 2 * maxProblems {
		fmt.Fprintf(&b, "unknown_%d: x\n", i)
	}
	_, ps := parseString(t, b.String())
	if len(ps) != maxProblems+1 {
		t.Fatalf("got %d problems, want %d", len(ps), maxProblems+1)
	}
	last := ps[maxProblems]
	if want := fmt.Sprintf("t.yaml:%d:1: too many problems: stopped after %d", maxProblems+1, maxProblems); last.String() != want {
		t.Errorf("last problem = %s, want %s", last, want)
	}
}
