package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadConfig feeds arbitrary bytes to the loader. Properties: it never
// panics or hangs; it returns exactly one of a config and an error; the
// error is Problems, each with a position (line and column >= 1), the file
// name and a message; a returned config passes validation again.
func FuzzLoadConfig(f *testing.F) {
	full, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	seeds := []string{
		string(full), // every key, valid
		"",           // empty
		"{}\n",       // all defaults
		"profile: capa\nroutes:\n  - {name: a, path: /a/, upstream: 'http://u', scopes: [user]}\n",
		"listen: [\n",                       // syntax error
		"- a\n- b\n",                        // not a mapping
		"listen: ':1'\nlisten: ':2'\n",      // duplicate key
		"issuer: ${NOPE}${\n",               // unset and unterminated variables
		"a: &a [*a]\n",                      // self-referencing alias
		"routes: [&r {<<: [*r]}]\n",         // alias to an enclosing node
		"store: {<<: {driver: postgres}}\n", // merge key
		"trusted_issuers:\n  - {issuer: 'https://i', jwks_file: k.json}\n",
		"? [a]\n: b\n",         // complex key
		"leeway: 1e400s\n",     // overflowing duration
		"tokens: !!binary x\n", // odd tag
		"a: b\n---\nc: d\n",    // two documents
		"\xff\xfe",             // not UTF-8
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	lookup := env(map[string]string{
		"DATABASE_URL": "postgres://db/gw",
		"DEMO_SECRET":  "0123456789abcdef-secret",
	})
	// jwks_file reads come from memory: the fuzzer must not read the disk.
	readFile := func(path string) ([]byte, error) {
		if filepath.Base(path) == "partner.jwks.json" {
			return []byte(`{"keys":[]}`), nil
		}
		return nil, errors.New("not found")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse("fuzz.yaml", data, lookup, readFile)
		if (c == nil) == (err == nil) {
			t.Fatalf("config %v and error %v: want exactly one", c != nil, err)
		}
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error %T %v is not a non-empty Problems", err, err)
			}
			for _, p := range ps {
				if p.File != "fuzz.yaml" || p.Line < 1 || p.Col < 1 || p.Msg == "" {
					t.Fatalf("malformed problem %#v", p)
				}
			}
			return
		}
		if err := c.Revalidate(); err != nil {
			t.Fatalf("a loaded config fails revalidation:\n%v", err)
		}
	})
}

func BenchmarkParseFullConfig(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	lookup := testEnv()
	readFile := func(string) ([]byte, error) { return []byte(`{"keys":[]}`), nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parse("full.yaml", data, lookup, readFile); err != nil {
			b.Fatal(err)
		}
	}
}
