// Package routepath is the one definition of the path a route is chosen
// by. The proxy matches requests with it and config validation compares
// route paths with it, so `clearance check` and the running gateway never
// disagree about which route a path belongs to.
//
// Upstream servers do not agree on what a path means: servlet containers
// drop ";parameters" from a segment, IIS and ASP.NET compare paths without
// regard to case, and Windows servers read "\" as "/". So that no spelling
// of a protected path reaches an upstream under a weaker route, a route
// matches the canonical path, which is the request's percent-decoded path
// (url.URL.Path) with
//
//   - dot segments and repeated slashes resolved (path.Clean), no trailing
//     slash except for the root: the path the proxy forwards;
//   - then every ";parameters" removed from its segment
//     ("/v1/charts;x=1/EDDF" is "/v1/charts/EDDF"), and a segment left
//     empty dropped; an escaped "%3B" is decoded before this, so it counts
//     as ";" too;
//   - ASCII letters in lower case ("/V1/Charts" is "/v1/charts").
//
// Percent escapes are decoded before anything else: "%2F" counts as a
// slash and "%2E" as a dot, so "/public/%2e%2e/private" is "/private".
// Two spellings are refused outright (Canonical returns an error): a
// backslash anywhere (raw, or decoded from "%5C"), and a dot segment with
// a parameter ("..;x"), which servlet containers resolve only after
// dropping the parameter.
package routepath

import (
	"errors"
	"path"
	"strings"
)

// Errors of Canonical: the request is refused with 400.
var (
	ErrBackslash = errors.New("a backslash is not allowed in a path")
	ErrDotParam  = errors.New("dot segments with path parameters are not allowed")
)

// Canonical returns the canonical form of p, a percent-decoded path as in
// url.URL.Path (see the package documentation). Any p with a backslash is
// ErrBackslash; otherwise a p that does not start with "/" (such as "*")
// gives "" and no error: it matches no route. The result never contains
// an ASCII upper-case letter, ';' or '\', and Canonical of a canonical
// path is that path. When p is already canonical Canonical does not
// allocate.
func Canonical(p string) (string, error) {
	upper, param := false, false
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			return "", ErrBackslash
		case c == ';':
			param = true
		case 'A' <= c && c <= 'Z':
			upper = true
		}
	}
	if p == "" || p[0] != '/' {
		return "", nil
	}
	if param && hasDotSegmentParam(p) {
		return "", ErrDotParam
	}
	p = path.Clean(p)
	if param {
		// After the dot segments are resolved, as the path is
		// forwarded: "/admin/;/.." is "/admin" upstream, not "/".
		p = path.Clean(stripParams(p))
	}
	if upper {
		p = lowerASCII(p)
	}
	return p, nil
}

// hasDotSegmentParam reports whether a segment of p is "." or ".."
// followed by a path parameter (";...").
func hasDotSegmentParam(p string) bool {
	for p != "" {
		var seg string
		seg, p, _ = strings.Cut(p, "/")
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			if s := seg[:i]; s == "." || s == ".." {
				return true
			}
		}
	}
	return false
}

// stripParams removes from every segment of p its first ';' and what
// follows it in that segment.
func stripParams(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for {
		seg, rest, more := strings.Cut(p, "/")
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			seg = seg[:i]
		}
		b.WriteString(seg)
		if !more {
			return b.String()
		}
		b.WriteByte('/')
		p = rest
	}
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// SegmentCount is the number of segments of a canonical path: "/" has
// none, "/v1/charts" two.
func SegmentCount(canonical string) int {
	if canonical == "/" || canonical == "" {
		return 0
	}
	return strings.Count(canonical, "/")
}

// Match returns the entry of routes, keyed by canonical prefixes ("/" for
// the root), whose prefix is the longest that canonical equals or lies
// under on a segment boundary; ok is false when none does. canonical must
// come from Canonical.
func Match[V any](routes map[string]V, canonical string) (v V, ok bool) {
	if canonical == "" {
		return v, false
	}
	p := canonical
	for {
		if v, ok = routes[p]; ok {
			return v, true
		}
		i := strings.LastIndexByte(p, '/')
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	v, ok = routes["/"]
	return v, ok
}

// PrefixLen returns how many bytes of p spell the first n segments of
// its canonical form, so that p[PrefixLen(p, n):] is what lies below a
// route prefix of n canonical segments (it starts with "/", or is empty).
// Segments that canonicalise to nothing (";x", empty) before the n-th
// count as part of the prefix; those after it stay in the rest. p must be clean as the proxy forwards it
// (path.Clean, optionally with one trailing slash) and accepted by
// Canonical.
func PrefixLen(p string, n int) int {
	i := 0 // p[i:] starts with "/" or is empty
	for n > 0 && i < len(p) {
		end := len(p)
		if j := strings.IndexByte(p[i+1:], '/'); j >= 0 {
			end = i + 1 + j
		}
		seg := p[i+1 : end]
		if k := strings.IndexByte(seg, ';'); k >= 0 {
			seg = seg[:k]
		}
		if seg != "" && seg != "." {
			n--
		}
		i = end
	}
	return i
}
