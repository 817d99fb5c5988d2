package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// maxJWKSFile bounds a jwks_file: a key set is a few kilobytes.
const maxJWKSFile = 1 << 20

// Load reads and parses the config file at path. lookupEnv resolves
// ${NAME} references (os.LookupEnv in production). A read failure is
// wrapped ("load config: ..."); anything wrong with the content is
// reported as Problems, all at once.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(path, data, lookupEnv)
}

// Parse parses data as the config file named file (used in problem
// positions, and as the base of relative jwks_file paths, which are read
// here). It returns a complete, validated Config, or Problems and no Config.
func Parse(file string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	return parse(file, data, lookupEnv, readFileLimited)
}

func parse(file string, data []byte, lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	root, probs := parseYAML(file, data)
	if len(probs) > 0 {
		return nil, tidy(probs)
	}

	c := &Config{File: file}
	d := newDecoder(file, lookupEnv)
	// The profile's values go in first; decoding the file then overwrites
	// exactly the keys it has.
	if n := lookupKey(root, "profile"); n != nil && n.Kind == yaml.ScalarNode {
		if name, errs := expand(n.Value, lookupEnv); len(errs) == 0 {
			applyProfile(name, c)
		}
	}
	d.mapping(root, reflect.ValueOf(c).Elem(), "")
	if d.exhausted {
		return nil, tidy(d.probs) // the half-decoded rest would only add noise
	}
	applyDefaults(c, d.set)
	if c.Store.Driver == "sqlite" {
		c.Store.DSN = Secret(ResolveSQLiteDSN(c.Store.DSN.Reveal(), filepath.Dir(file)))
	}
	loadJWKSFiles(c, d, readFile)

	probs = append(d.probs, validate(c, file, root, d.set, d.bad)...)
	if len(probs) > 0 {
		return nil, tidy(probs)
	}
	return c, nil
}

// parseYAML reads exactly one YAML document whose root is a mapping.
func parseYAML(file string, data []byte) (root *yaml.Node, probs []Problem) {
	defer func() {
		// yaml.v3 is archived upstream; a panic on odd input must still end
		// as a problem, not a crash.
		if r := recover(); r != nil {
			root, probs = nil, []Problem{{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("invalid YAML: %v", r)}}
		}
	}()
	if line, col, bad := invalidUTF8(data); bad {
		return nil, []Problem{{File: file, Line: line, Col: col, Msg: "invalid YAML: the file must be UTF-8"}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []Problem{{File: file, Line: 1, Col: 1, Msg: "empty config: nothing to load"}}
		}
		return nil, []Problem{syntaxProblem(file, err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, []Problem{problemAt(file, &next, "a config file holds one YAML document: remove the extra ---")}
	case !errors.Is(err, io.EOF):
		return nil, []Problem{syntaxProblem(file, err)}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, []Problem{problemAt(file, &doc, "empty config: nothing to load")}
	}
	root = doc.Content[0]
	if r := resolve(root); r == nil || r.Kind != yaml.MappingNode {
		return nil, []Problem{problemAt(file, root, fmt.Sprintf("config must be a mapping of keys, got %s", kindName(root)))}
	}
	return root, nil
}

// syntaxProblem turns a yaml.v3 error ("yaml: line 3: did not find
// expected key") into a Problem. yaml.v3 reports no column (so it is 1), and
// its parser (not its scanner) errors give a 0-based line: those are
// shifted to the 1-based line of the construct that failed.
func syntaxProblem(file string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil && n > 0 {
				line, msg = n, text
			}
		}
	}
	if parserError(msg) {
		line++
	}
	return Problem{File: file, Line: max(line, 1), Col: 1, Msg: "invalid YAML: " + msg}
}

// parserError reports whether msg is one of yaml.v3's parser (as opposed to
// scanner) problems, whose line numbers are 0-based.
func parserError(msg string) bool {
	switch msg {
	case "did not find expected <stream-start>",
		"did not find expected <document start>",
		"did not find expected node content",
		"did not find expected '-' indicator",
		"did not find expected key",
		"did not find expected ',' or ']'",
		"did not find expected ',' or '}'",
		"found duplicate %YAML directive",
		"found incompatible YAML document",
		"found duplicate %TAG directive",
		"found undefined tag handle":
		return true
	}
	return false
}

// invalidUTF8 returns the position of the first byte that is not UTF-8.
func invalidUTF8(data []byte) (line, col int, ok bool) {
	line, col = 1, 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return line, col, true
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		data = data[size:]
	}
	return 0, 0, false
}

// lookupKey returns the value of key in mapping n, or nil.
func lookupKey(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return resolve(n.Content[i+1])
		}
	}
	return nil
}

// ResolveSQLiteDSN returns the sqlite DSN dsn with a relative file path
// made relative to dir, the directory of the config file (the rule of
// jwks_file): "data/x.db" and "file:data/x.db?_pragma=..." become
// dir/data/x.db and file:dir/data/x.db?_pragma=.... An empty DSN,
// ":memory:" (and "file::memory:"), absolute paths, "file:" URIs with an
// absolute path ("file:/x.db", "file:///x.db") and a dir of "." are left
// as they are. Loading a config applies it to store.dsn, so every user of
// the config agrees on the file.
func ResolveSQLiteDSN(dsn, dir string) string {
	rest, isURI := strings.CutPrefix(dsn, "file:")
	path, query, hasQuery := strings.Cut(rest, "?")
	if path == "" || dir == "" || dir == "." || strings.HasPrefix(path, ":memory:") ||
		filepath.IsAbs(path) || strings.HasPrefix(path, "/") {
		return dsn
	}
	out := filepath.Join(dir, path)
	if isURI {
		out = "file:" + out
	}
	if hasQuery {
		out += "?" + query
	}
	return out
}

// loadJWKSFiles reads each trusted issuer's jwks_file (relative to the
// config file's directory) into JWKS.
func loadJWKSFiles(c *Config, d *decoder, readFile func(string) ([]byte, error)) {
	for i := range c.TrustedIssuers {
		t := &c.TrustedIssuers[i]
		if t.JWKSFile == "" || t.JWKS != "" {
			continue // none, or both: validation reports it
		}
		path := t.JWKSFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(c.File), path)
		}
		data, err := readFile(path)
		if err != nil {
			d.probs = append(d.probs, problemAt(d.file, d.set[&t.JWKSFile],
				fmt.Sprintf("trusted_issuers[%d].jwks_file: %v", i, err)))
			d.bad[&t.JWKS] = true
			continue
		}
		t.JWKS = string(data)
	}
}

// readFileLimited reads a regular file of at most maxJWKSFile bytes; it
// refuses devices and pipes, which could block or never end.
func readFileLimited(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > maxJWKSFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxJWKSFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJWKSFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJWKSFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxJWKSFile)
	}
	return data, nil
}
