package proxy

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clearance-gw/clearance/internal/routepath"
)

func TestStripQueryParam(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty query", "", ""},
		{"no token", "a=1&b=%2F&c", "a=1&b=%2F&c"},
		{"only the token", "access_token=x", ""},
		{"token first", "access_token=x&a=1", "a=1"},
		{"token last", "a=1&access_token=x", "a=1"},
		{"token in the middle", "a=1&access_token=x&b=2", "a=1&b=2"},
		{"several tokens", "access_token=x&a=1&access_token=y&b=2&access_token=z", "a=1&b=2"},
		{"token without value", "a=1&access_token&b=2", "a=1&b=2"},
		{"token with empty value", "access_token=&b=2", "b=2"},
		{"encoded key", "access%5Ftoken=x&b=2", "b=2"},
		{"fully encoded key", "%61%63%63%65%73%73%5f%74%6f%6b%65%6e=x&b=2", "b=2"},
		{"similar names kept", "access_tokens=1&xaccess_token=2&access_token_hint=3", "access_tokens=1&xaccess_token=2&access_token_hint=3"},
		{"key is case sensitive", "Access_Token=1", "Access_Token=1"},
		{"token as a value kept", "next=access_token", "next=access_token"},
		{"empty pairs kept", "a=1&&access_token=x&&b", "a=1&&&b"},
		{"semicolon pair with the token dropped", "a=1;access_token=x&b=2", "b=2"},
		{"semicolon pair without the token kept", "a=1;c=3&b=2", "a=1;c=3&b=2"},
		{"undecodable key kept", "%zz=1&access_token=x", "%zz=1"},
		{"plus in key", "access+token=1", "access+token=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := stripQueryParam(tc.in, tokenParam); got != tc.want {
				t.Errorf("stripQueryParam(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzStripQueryParam checks the token parameter is gone whatever the
// query, that the other pairs survive unchanged and in order, and that the
// parsed result agrees with url.ParseQuery minus the parameter.
func FuzzStripQueryParam(f *testing.F) {
	for _, s := range []string{
		"",                                    // nothing
		"a=1&b=2",                             // no token
		"access_token=abc",                    // only the token
		"a=1&access_token=abc&b=%2F",          // token in the middle
		"access%5Ftoken=abc",                  // encoded key
		"access_token=1;a=2",                  // semicolon
		"&&access_token&&",                    // empty pairs
		"%zz&access_token=1",                  // undecodable
		"a+b=c+d&access_token=x%20y&e=%E2%82", // pluses and bad escapes in values
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		out := stripQueryParam(q, tokenParam)

		// No pair of the result names the parameter, however parsed.
		for _, seg := range strings.Split(out, "&") {
			if queryPairHasKey(seg, tokenParam) {
				t.Fatalf("stripQueryParam(%q) = %q keeps the token in %q", q, out, seg)
			}
		}
		parsed, _ := url.ParseQuery(out)
		if _, ok := parsed[tokenParam]; ok {
			t.Fatalf("stripQueryParam(%q) = %q: ParseQuery finds the token", q, out)
		}

		// The kept pairs are exactly the input's other pairs, in order.
		var want []string
		for _, seg := range strings.Split(q, "&") {
			if !queryPairHasKey(seg, tokenParam) {
				want = append(want, seg)
			}
		}
		if got := strings.Join(want, "&"); got != out {
			t.Fatalf("stripQueryParam(%q) = %q, want %q", q, out, got)
		}

		// For queries Go parses cleanly, the values agree with ParseQuery.
		in, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		delete(in, tokenParam)
		if !maps.EqualFunc(in, parsed, slices.Equal) {
			t.Fatalf("stripQueryParam(%q) = %q parses to %v, want %v", q, out, parsed, in)
		}
	})
}

func TestValidRequestID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"", false},
		{"a", true},
		{strings.Repeat("x", 128), true},
		{strings.Repeat("x", 129), false},
		{"with space", true},
		{"tab\tinside", false},
		{"newline\n", false},
		{"del\x7f", false},
		{"utf8-é", false},
		{`!"#$%&'()*+,-./:;<=>?@[\]^_{|}~`, true},
	}
	for _, tc := range tests {
		if got := validRequestID(tc.id); got != tc.want {
			t.Errorf("validRequestID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

// FuzzValidRequestID checks the id filter against a simple reference and
// that every accepted id is a legal header value.
func FuzzValidRequestID(f *testing.F) {
	f.Add("abc-123")                // ordinary
	f.Add("")                       // empty
	f.Add(strings.Repeat("z", 129)) // too long
	f.Add("a\r\nX-Injected: 1")     // header injection
	f.Add("\u00e9")                 // non-ASCII
	f.Fuzz(func(t *testing.T, s string) {
		ref := len(s) >= 1 && len(s) <= 128 && strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e }) < 0
		got := validRequestID(s)
		if got != ref {
			t.Fatalf("validRequestID(%q) = %v, reference %v", s, got, ref)
		}
		if got && !validHeaderValue(s) {
			t.Fatalf("accepted id %q is not a valid header value", s)
		}
	})
}

// FuzzRouteMatch checks the table against a brute-force reference: the
// chosen route is the longest prefix that ends on a segment boundary of the
// canonical path, and stripping it from the forwarded path leaves an
// absolute path that means what the canonical path has below the prefix.
func FuzzRouteMatch(f *testing.F) {
	for _, s := range []string{"/mapdata", "/mapdata/x", "/mapdataX", "/a/b/c/d", "//a/../mapdata/air/", "/", "*", "",
		"/MapData;v=1/Air/x", "/a/;x/b/c/d"} {
		f.Add(s)
	}
	prefixes := []string{"/mapdata", "/mapdata/air", "/a/b/c", "/reports"}
	tab := &table{routes: map[string]*route{}}
	for _, p := range prefixes {
		tab.routes[p] = &route{prefix: p, depth: routepath.SegmentCount(p)}
	}
	f.Fuzz(func(t *testing.T, p string) {
		canonical, err := routepath.Canonical(p)
		if err != nil {
			return
		}
		got := tab.match(canonical)
		var want string
		if canonical != "" {
			for _, pre := range prefixes {
				if (canonical == pre || strings.HasPrefix(canonical, pre+"/")) && len(pre) > len(want) {
					want = pre
				}
			}
		}
		switch {
		case want == "" && got != nil:
			t.Fatalf("match(%q) = %q, want none", canonical, got.prefix)
		case want != "" && (got == nil || got.prefix != want):
			t.Fatalf("match(%q) = %v, want %q", canonical, got, want)
		}
		if got == nil {
			return
		}
		clean := cleanPath(p)
		u := &url.URL{Path: p}
		fp, raw := forwardPath(u, clean)
		if cleanPath(fp) != clean {
			t.Fatalf("forward path %q of %q does not clean to %q", fp, p, clean)
		}
		sp, _ := stripRoutePrefix(fp, raw, got.depth)
		if !strings.HasPrefix(sp, "/") {
			t.Fatalf("stripping %q from %q gave %q", got.prefix, fp, sp)
		}
		if c, _ := routepath.Canonical(sp); c != "/"+strings.TrimPrefix(canonical[len(got.prefix):], "/") {
			t.Fatalf("stripping %q from %q gave %q (canonical %q), canonical path %q", got.prefix, fp, sp, c, canonical)
		}
	})
}

func TestStripRoutePrefix(t *testing.T) {
	for _, tc := range []struct {
		p, raw     string
		depth      int
		want, raw2 string
	}{
		{"/v1/charts/EDDF", "", 2, "/EDDF", ""},
		{"/V1/Charts;x=1/EDDF", "", 2, "/EDDF", ""},
		{"/v1/charts", "", 2, "/", ""},
		{"/v1/charts/a b", "/v1/charts/a%20b", 2, "/a b", "/a%20b"},
		{"/v1/charts/a/b", "/v1/charts/a%2Fb", 2, "/a/b", "/a%2Fb"},
	} {
		got, raw := stripRoutePrefix(tc.p, tc.raw, tc.depth)
		if got != tc.want || raw != tc.raw2 {
			t.Errorf("stripRoutePrefix(%q, %q, %d) = %q, %q; want %q, %q", tc.p, tc.raw, tc.depth, got, raw, tc.want, tc.raw2)
		}
	}
}

func TestDotSegmentParamRefused(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("forwarded %q", r.URL.Path)
	})
	pub := testRoute("pub", "/pub/", up.URL)
	pub.Public = true
	g := newGateway(t, testConfig(pub), testGuard())
	res, err := http.Get(g.URL + "/pub/..;/private")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", res.StatusCode)
	}
}

// TestSpellingsOfAProtectedPath puts a protected route under a public
// catch-all: no spelling of the protected path that an upstream server
// would resolve to it reaches the upstream without a token.
func TestSpellingsOfAProtectedPath(t *testing.T) {
	up := newUpstream(t, nil)
	all := testRoute("all", "/", up.URL)
	all.Public = true
	admin := testRoute("admin", "/v1/admin/", up.URL)
	admin.Scopes = []string{"query_mapdata"}
	g := newGateway(t, testConfig(all, admin), testGuard())

	for _, target := range []string{
		"/V1/ADMIN/users",
		"/v1/Admin/users",
		"/v1/admin;x=1/users",
		"/v1/admin;/users",
		"/v1/admin%3Bx/users",
		"/v1/admin%3bx/users",
		"/v1/;x/admin/users",
		"/v1%2Fadmin/users",
		"/v1/x/%2e%2e/admin/users",
	} {
		t.Run("token required "+target, func(t *testing.T) {
			before := up.count()
			resp, body := g.get(t, target)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d %s, want 401", resp.StatusCode, body)
			}
			if up.count() != before {
				t.Errorf("forwarded as %q", up.last(t).RequestURI)
			}
		})
	}
	for _, target := range []string{
		"/v1/x/..%5cadmin/users",
		"/v1/x/..%5Cadmin/users",
		"/v1/x/..\\admin/users",
		"/v1/public%5c",
		"/v1/x/..;/admin/users",
	} {
		t.Run("refused "+target, func(t *testing.T) {
			before := up.count()
			resp, body := g.get(t, target)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("status %d %q %s, want 400 JSON", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if e := jsonError(t, body); e["error"] != "invalid_request" || e["error_description"] == "" {
				t.Errorf("body %s", body)
			}
			if up.count() != before {
				t.Errorf("forwarded as %q", up.last(t).RequestURI)
			}
		})
	}
	t.Run("with a token the client's spelling is forwarded", func(t *testing.T) {
		resp, body := g.get(t, "/V1/ADMIN;x=1/users", "Authorization", "Bearer "+tokAlice)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d %s", resp.StatusCode, body)
		}
		if s := up.last(t); s.RequestURI != "/V1/ADMIN;x=1/users" || s.Header.Get("X-Auth-Subject") != "alice" {
			t.Errorf("upstream got %q as %q", s.RequestURI, s.Header.Get("X-Auth-Subject"))
		}
	})
	t.Run("other paths stay public", func(t *testing.T) {
		if resp, body := g.get(t, "/v1/administrators"); resp.StatusCode != http.StatusOK {
			t.Errorf("status %d %s", resp.StatusCode, body)
		}
	})
}
