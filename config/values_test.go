package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	lookup := env(map[string]string{"HOST": "api.example.com", "PORT": "9443", "EMPTY": "", "DOLLAR": "$HOME"})
	tests := []struct {
		name, in, want string
		errs           []string
	}{
		{"no reference", "plain", "plain", nil},
		{"whole value", "${HOST}", "api.example.com", nil},
		{"part of a value", "https://${HOST}:${PORT}/v1", "https://api.example.com:9443/v1", nil},
		{"set but empty", "a${EMPTY}b", "ab", nil},
		{"double dollar escapes", "pa$$word", "pa$word", nil},
		{"escaped reference stays literal", "$${HOST}", "${HOST}", nil},
		{"lone dollar is kept", "cost: 5$ or $x", "cost: 5$ or $x", nil},
		{"trailing dollar is kept", "abc$", "abc$", nil},
		{"values are not expanded again", "${DOLLAR}", "$HOME", nil},
		{"unset", "${NOPE}", "", []string{"environment variable NOPE is not set"}},
		{"every unset variable is reported", "${A}-${HOST}-${B}", "", []string{
			"environment variable A is not set", "environment variable B is not set"}},
		{"unterminated", "x${HOST", "", []string{`unterminated "${": close it with "}" or write "$$" for a literal dollar`}},
		{"empty name", "${}", "", []string{`invalid environment variable name "" in ${...}`}},
		{"name with a dash", "${MY-VAR}", "", []string{`invalid environment variable name "MY-VAR" in ${...}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, errs := expand(tt.in, lookup)
			if !slices.Equal(errs, tt.errs) {
				t.Fatalf("errors = %q, want %q", errs, tt.errs)
			}
			if tt.errs == nil && got != tt.want {
				t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEnvExpandsIntoEveryScalarType(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `
issuer: https://${HOST}:${PORT}
token_cache_size: ${SIZE}
leeway: ${SIZE}ms
store: {driver: postgres, dsn: "${DATABASE_URL}"}
scopes: ["${EMPTY}x"]
tokens: {refresh_on_every_grant: "${BOOL}"}
`[1:])
	if c.Issuer != "https://api.example.com:9443" || c.Tokens.Audience != c.Issuer {
		t.Errorf("issuer = %q, audience = %q", c.Issuer, c.Tokens.Audience)
	}
	if c.TokenCacheSize != 500 || c.Leeway.D() != 500*time.Millisecond {
		t.Errorf("token_cache_size = %d, leeway = %v", c.TokenCacheSize, c.Leeway)
	}
	if c.Store.DSN.Reveal() != "postgres://gw:pw@db/clearance" || !slices.Equal(c.Scopes, []string{"x"}) {
		t.Errorf("dsn = %q, scopes = %q", c.Store.DSN.Reveal(), c.Scopes)
	}
	if !c.Tokens.RefreshOnEveryGrant {
		t.Error("refresh_on_every_grant from ${BOOL} = false")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	const value = "s3cr3t-demo-value-0123456789"
	c := mustParse(t, "clients:\n  - {id: demo, name: Demo, secret: '${DEMO_SECRET}', grants: [client_credentials]}\n")
	cl := c.Clients[0]
	if cl.Secret.Reveal() != value {
		t.Fatalf("Reveal = %q", cl.Secret.Reveal())
	}

	for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%d", "%10s"} {
		for what, arg := range map[string]any{"secret": cl.Secret, "client": cl, "pointer": &cl, "config": c} {
			if out := fmt.Sprintf(verb, arg); strings.Contains(out, value) || !strings.Contains(out, "REDACTED") {
				t.Errorf("%s of the %s = %s", verb, what, out)
			}
		}
	}
	if s := cl.Secret.String(); s != "REDACTED" {
		t.Errorf("String() = %q", s)
	}

	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("loaded", "secret", cl.Secret, "client", cl, slog.Any("config", c))
	}
	if out := buf.String(); strings.Contains(out, value) || strings.Count(out, "REDACTED") < 4 {
		t.Errorf("slog output leaks or misses the redaction:\n%s", out)
	}

	js, err := json.Marshal(cl)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), value) || !strings.Contains(string(js), `"Secret":"REDACTED"`) {
		t.Errorf("json = %s", js)
	}
}

func TestSecretProblemsNeverEchoTheValue(t *testing.T) {
	t.Parallel()
	_, ps := parseString(t, "clients:\n  - id: demo\n    name: d\n    secret: sh0rt-s3cret\n")
	if len(ps) != 1 || strings.Contains(ps.Error(), "sh0rt-s3cret") {
		t.Errorf("problems = %v", ps)
	}
}

func TestDurationParsing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"15m", 15 * time.Minute, ""},
		{"8760h", 8760 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{" 2s ", 2 * time.Second, ""},
		{"0", 0, ""},
		{"-1ms", -time.Millisecond, ""},
		{"30", 0, `duration "30" has no unit: write e.g. 30s or 30m`},
		{"1.5", 0, `duration "1.5" has no unit`},
		{"", 0, "empty duration"},
		{"soon", 0, `"soon" is not a duration`},
		{"15 minutes", 0, `"15 minutes" is not a duration`},
		{"1d", 0, `"1d" is not a duration`},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseDuration(%q) error = %v, want %q", tt.in, err, tt.err)
		}
	}
	if s := Duration(90 * time.Second).String(); s != "1m30s" {
		t.Errorf("String = %q", s)
	}
}

// The value types also work with plain yaml.v3 decoding, for callers that
// read fragments of config outside Load.
func TestValueTypesDecodeWithPlainYAML(t *testing.T) {
	t.Parallel()
	var v struct {
		D Duration    `yaml:"d"`
		A StringOrSet `yaml:"a"`
		B StringOrSet `yaml:"b"`
	}
	if err := yaml.Unmarshal([]byte("d: 90s\na: one\nb: [x, y]\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.D.D() != 90*time.Second || !slices.Equal(v.A, []string{"one"}) || !slices.Equal(v.B, []string{"x", "y"}) {
		t.Errorf("decoded %+v", v)
	}
	for _, bad := range []string{"d: 90\n", "d: [1s]\n", "b: {k: v}\n"} {
		if err := yaml.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%q decoded without error", bad)
		}
	}
}
