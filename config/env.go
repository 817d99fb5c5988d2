package config

import (
	"fmt"
	"strings"
)

// expand replaces ${NAME} in s with the variable's value from lookup; $$ is
// a literal dollar and any other $ is kept as is. It returns one message per
// unset variable or malformed reference (all of them, not just the first).
func expand(s string, lookup func(string) (string, bool)) (string, []string) {
	if !hasDollar(s) {
		return s, nil
	}
	var (
		out  = make([]byte, 0, len(s))
		errs []string
	)
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			out = append(out, c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			out = append(out, '$')
			i += 2
		case '{':
			end := indexByteFrom(s, '}', i+2)
			if end < 0 {
				errs = append(errs, `unterminated "${": close it with "}" or write "$$" for a literal dollar`)
				return s, errs
			}
			name := s[i+2 : end]
			i = end + 1
			if !validEnvName(name) {
				errs = append(errs, fmt.Sprintf("invalid environment variable name %s in ${...}", quote(name)))
				continue
			}
			v, ok := lookup(name)
			if !ok {
				errs = append(errs, fmt.Sprintf("environment variable %s is not set", name))
				continue
			}
			out = append(out, v...)
		default:
			out = append(out, c)
			i++
		}
	}
	return string(out), errs
}

func hasDollar(s string) bool { return strings.IndexByte(s, '$') >= 0 }

// indexByteFrom is strings.IndexByte starting at from, with an index into s.
func indexByteFrom(s string, b byte, from int) int {
	if i := strings.IndexByte(s[from:], b); i >= 0 {
		return from + i
	}
	return -1
}

// validEnvName reports whether name is a portable environment variable
// name: a letter or underscore, then letters, digits and underscores.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
