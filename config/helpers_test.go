package config

import (
	"errors"
	"testing"
)

// env is a fixed environment for tests.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// testEnv holds the variables the test configs reference.
func testEnv() func(string) (string, bool) {
	return env(map[string]string{
		"DATABASE_URL": "postgres://gw:pw@db/clearance",
		"DEMO_SECRET":  "s3cr3t-demo-value-0123456789",
		"EMPTY":        "",
		"HOST":         "api.example.com",
		"PORT":         "9443",
		"SIZE":         "500",
		"BOOL":         "true",
	})
}

// noFiles is a readFile for tests that must not touch the disk.
func noFiles(path string) ([]byte, error) { return nil, errors.New("no files in this test: " + path) }

// parseString parses src as t.yaml and returns the config or the problems.
func parseString(t *testing.T, src string) (*Config, Problems) {
	t.Helper()
	c, err := parse("t.yaml", []byte(src), testEnv(), noFiles)
	if err == nil {
		if c == nil {
			t.Fatal("parse returned neither a config nor an error")
		}
		return c, nil
	}
	if c != nil {
		t.Fatalf("parse returned a config and an error: %v", err)
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("parse error is %T (%v), want Problems", err, err)
	}
	return nil, ps
}

// mustParse parses src and fails the test on any problem.
func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, ps := parseString(t, src)
	if ps != nil {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	return c
}

// ed25519JWKS is a JWK set with one usable Ed25519 public key (for issuers
// with algorithms: [EdDSA]).
const ed25519JWKS = `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"p1"}]}`
