package routepath

import (
	"path"
	"strings"
	"testing"
)

// refCanonical is a plain reading of the rules: refuse a backslash and a
// "." or ".." with a parameter; resolve dot segments on a stack as the
// forwarded path does; then drop each ";parameter", skip the segments left
// empty, and fold ASCII case.
func refCanonical(p string) (string, bool) {
	if strings.Contains(p, `\`) {
		return "", false
	}
	if !strings.HasPrefix(p, "/") {
		return "", true
	}
	var stack []string
	for _, seg := range strings.Split(p, "/") {
		name, _, param := strings.Cut(seg, ";")
		if param && (name == "." || name == "..") {
			return "", false
		}
		switch seg {
		case "", ".":
		case "..":
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		default:
			stack = append(stack, seg)
		}
	}
	var out []string
	for _, seg := range stack {
		name, _, _ := strings.Cut(seg, ";")
		if name == "" {
			continue
		}
		b := []byte(name)
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[i] = c + ('a' - 'A')
			}
		}
		out = append(out, string(b))
	}
	return "/" + strings.Join(out, "/"), true
}

// refMatch is the longest route prefix that p equals or lies under, by
// comparing with every prefix.
func refMatch(routes map[string]string, p string) string {
	best, name := "", ""
	for pre, n := range routes {
		under := p == pre || pre == "/" || strings.HasPrefix(p, pre+"/")
		if p != "" && under && len(pre) > len(best) {
			best, name = pre, n
		}
	}
	return name
}

func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// FuzzCanonicalPath checks Canonical against refCanonical, and its
// properties: idempotent, never an upper-case ASCII letter, ';' or '\' in
// the result, case-blind; and that Match on the result agrees with a
// brute-force match. The seeds (and testdata/fuzz/FuzzCanonicalPath) are
// the spellings upstream servers resolve differently.
func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{
		"/v1/charts/EDDF",      // ordinary
		"/V1/ADMIN/users",      // case (IIS, ASP.NET)
		"/v1/admin;x=1/users",  // path parameter (servlet containers)
		"/v1/;x/admin",         // a segment that is only a parameter
		"/v1/x/..\\admin",      // backslash (IIS)
		"/v1/public/..;/admin", // dot segment with a parameter
		"//v1/./x/../admin/",   // dot segments, repeated and trailing slashes
		"/v1/admin/;/..",       // a parameter-only segment popped by ".."
		"*",                    // not a path
		"",
	} {
		f.Add(s)
	}
	routes := map[string]string{"/v1/admin": "admin", "/v1/charts": "charts", "/v1": "v1", "/a/b/c": "abc"}
	withRoot := map[string]string{"/": "root"}
	for k, v := range routes {
		withRoot[k] = v
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := Canonical(p)
		want, ok := refCanonical(p)
		if ok != (err == nil) || got != want {
			t.Fatalf("Canonical(%q) = %q, %v; reference %q, ok %v", p, got, err, want, ok)
		}
		if err != nil {
			if got != "" {
				t.Fatalf("Canonical(%q) = %q with error %v", p, got, err)
			}
			return
		}
		if strings.ContainsAny(got, `;\ABCDEFGHIJKLMNOPQRSTUVWXYZ`) {
			t.Fatalf("Canonical(%q) = %q", p, got)
		}
		if again, err := Canonical(got); again != got || err != nil {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", p, got, again, err)
		}
		if up, err := Canonical(upperASCII(p)); up != got || err != nil {
			t.Fatalf("case matters: %q -> %q, upper-case %q, %v", p, got, up, err)
		}
		for _, rs := range []map[string]string{routes, withRoot} {
			m, _ := Match(rs, got)
			if r := refMatch(rs, got); m != r {
				t.Fatalf("Match(%q) = %q, reference %q", got, m, r)
			}
			if m == "" {
				continue
			}
			// Below the matched prefix, the client's own spelling (as the
			// proxy forwards it) means what the canonical path has there.
			var pre string
			for k, v := range rs {
				if v == m {
					pre = k
				}
			}
			fwd := path.Clean(p)
			if strings.HasSuffix(p, "/") && fwd != "/" {
				fwd += "/"
			}
			rest := fwd[PrefixLen(fwd, SegmentCount(pre)):]
			if rest != "" && rest[0] != '/' {
				t.Fatalf("rest %q of %q below %q is not a path", rest, fwd, pre)
			}
			wantRest := got
			if pre != "/" {
				wantRest = got[len(pre):]
			}
			if cr, _ := Canonical("/" + strings.TrimPrefix(rest, "/")); cr != "/"+strings.TrimPrefix(wantRest, "/") {
				t.Fatalf("%q below %q: rest %q (canonical %q), want %q", fwd, pre, rest, cr, wantRest)
			}
		}
	})
}
