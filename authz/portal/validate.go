package portal

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/clearance-gw/clearance/config"
)

// Limits on what a portal user may register.
const (
	maxNameLen  = 100
	maxURIs     = 20
	maxURILen   = 2000
	maxOrigins  = 20
	maxOriginLn = 300
)

// normalizeClientID trims id and checks it against the rule of SPEC §5:
// 1 to 64 lower-case letters, digits, dashes and spaces.
func normalizeClientID(id string) (string, error) {
	id = strings.TrimSpace(id)
	if err := config.CheckClientID(id); err != nil {
		return "", errors.New("The identifier must be 1 to 64 lower-case letters, digits, dashes and spaces.")
	}
	return id, nil
}

func normalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", errors.New("Give the client a name.")
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxNameLen:
		return "", fmt.Errorf("The name must be at most %d characters.", maxNameLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", errors.New("The name must not contain control characters.")
	}
	return name, nil
}

// splitLines returns the non-empty trimmed lines of s, without duplicates.
func splitLines(s string) []string {
	var out []string
	seen := map[string]bool{}
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" || seen[line] {
			continue
		}
		seen[line] = true
		out = append(out, line)
	}
	return out
}

// parseRedirectURIs checks one redirect URI per line: absolute, no
// fragment, no white space (they are matched exactly, RFC 6749 §3.1.2).
func parseRedirectURIs(s string) ([]string, []string) {
	uris := splitLines(s)
	var problems []string
	if len(uris) > maxURIs {
		problems = append(problems, fmt.Sprintf("At most %d redirect URIs.", maxURIs))
	}
	for _, u := range uris {
		if err := checkRedirectURI(u); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return uris, problems
}

func checkRedirectURI(s string) error {
	if len(s) > maxURILen {
		return fmt.Errorf("Redirect URI %.60q… is longer than %d characters.", s, maxURILen)
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 || !utf8.ValidString(s) {
		return fmt.Errorf("Redirect URI %q must not contain spaces or control characters.", s)
	}
	if err := config.CheckRedirectURI(s); err != nil {
		return fmt.Errorf("Redirect URI %q must be absolute (scheme://host/path) and have no #fragment.", s)
	}
	u, _ := url.Parse(s)
	if u.User != nil {
		return fmt.Errorf("Redirect URI %q must not contain a user name or password.", s)
	}
	switch strings.ToLower(u.Scheme) {
	case "javascript", "data", "vbscript", "file", "blob":
		return fmt.Errorf("Redirect URI %q uses a scheme that cannot receive a redirect.", s)
	}
	return nil
}

// parseOrigins checks one CORS origin per line, scheme://host[:port]. It
// writes them as browsers send them: lower case, no trailing slash, no
// default port.
func parseOrigins(s string) ([]string, []string) {
	var out, problems []string
	seen := map[string]bool{}
	lines := splitLines(s)
	if len(lines) > maxOrigins {
		problems = append(problems, fmt.Sprintf("At most %d allowed origins.", maxOrigins))
	}
	for _, line := range lines {
		o, err := normalizeOrigin(line)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out, problems
}

func normalizeOrigin(s string) (string, error) {
	bad := fmt.Errorf("Origin %q must be scheme://host[:port], e.g. https://app.example.com, with no path.", s)
	if len(s) > maxOriginLn || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", bad
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("Origin %q must start with http:// or https://.", s)
	}
	if u.Path == "/" {
		u.Path = ""
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	if port := u.Port(); (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		u.Host = strings.TrimSuffix(u.Host, ":"+port)
	}
	o := u.String()
	if err := config.CheckOrigin(o); err != nil {
		return "", bad
	}
	if p := u.Port(); p != "" {
		if n, ok := portNumber(p); !ok || n == 0 {
			return "", bad
		}
	}
	return o, nil
}

func portNumber(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n <= 65535
}
