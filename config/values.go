package config

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

const redacted = "REDACTED"

// String returns REDACTED: a secret never prints.
func (Secret) String() string { return redacted }

// GoString returns a redacted Go literal, so %#v does not print the value.
func (Secret) GoString() string { return `config.Secret("REDACTED")` }

// Format writes REDACTED for every verb (%v, %s, %q, %x, %+v, %#v ...).
func (Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue redacts the secret in slog output.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON redacts the secret, so a config dumped as JSON leaks nothing.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Reveal returns the secret's value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

// String prints the duration in Go syntax ("15m0s").
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML lets plain yaml.v3 decoding read a Go duration too.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a duration, got %s", n.Line, kindName(n))
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML lets plain yaml.v3 decoding read one string or a list.
func (s *StringOrSet) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = StringOrSet{n.Value}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*s = list
	return nil
}

// parseDuration reads Go duration syntax and explains the usual mistakes:
// a bare number (YAML's 30 is not 30s) and junk.
func parseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty duration: write it in Go syntax, e.g. 30s, 15m, 8h")
	}
	if _, err := strconv.ParseFloat(t, 64); err == nil && t != "0" {
		return 0, fmt.Errorf("duration %s has no unit: write e.g. %ss or %sm", quote(t), t, t)
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%s is not a duration: write it in Go syntax, e.g. 30s, 15m, 8h", quote(t))
	}
	return d, nil
}

// quote quotes a value for a message, cut to a readable length.
func quote(s string) string {
	const max = 60
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "the scalar " + quote(n.Value)
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	return "nothing"
}
