package routepath

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"/", "/", nil},
		{"/v1/charts/EDDF", "/v1/charts/eddf", nil},
		{"/v1/charts/", "/v1/charts", nil},
		{"/V1/ADMIN/users", "/v1/admin/users", nil},
		{"/v1/Charts", "/v1/charts", nil},
		{"/v1/charts;x=1/EDDF", "/v1/charts/eddf", nil},
		{"/v1/admin;x=1/users", "/v1/admin/users", nil},
		{"/v1/admin;/users", "/v1/admin/users", nil},
		{"/v1/;x/admin", "/v1/admin", nil},
		{"/v1/a;b;c/d;e", "/v1/a/d", nil},
		{"/v1/x/../admin;y/users", "/v1/admin/users", nil},
		{"//v1//charts/./EDDF/", "/v1/charts/eddf", nil},
		{"/v1/public/../charts", "/v1/charts", nil},
		{"/../../v1", "/v1", nil},
		{"/v1/\u00c9t\u00e9", "/v1/\u00c9t\u00e9", nil}, // only ASCII is folded
		{"/v1/x/..\\admin/users", "", ErrBackslash},
		{"\\v1", "", ErrBackslash},
		{"v1/x", "", nil}, // not absolute: no route
		{"/v1\\", "", ErrBackslash},
		{"/v1/public/..;/admin", "", ErrDotParam},
		{"/v1/public/.;x/admin", "", ErrDotParam},
		{"/v1/..;", "", ErrDotParam},
		{"/v1/a..;/x", "/v1/a../x", nil},
		{"/v1/admin/;/..", "/v1/admin", nil}, // forwarded as /v1/admin
		{"/v1/;x/../admin", "/v1/admin", nil},
		{"*", "", nil},
		{"", "", nil},
	} {
		got, err := Canonical(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Canonical(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestCanonicalOfRequestTargets runs the spellings of the security review
// through url parsing as net/http does: every one is the protected path or
// refused.
func TestCanonicalOfRequestTargets(t *testing.T) {
	for target, want := range map[string]string{
		"/V1/ADMIN/users":        "/v1/admin/users",
		"/v1/admin;x=1/users":    "/v1/admin/users",
		"/v1/admin%3Bx/users":    "/v1/admin/users",
		"/v1/admin%3bx/users":    "/v1/admin/users",
		"/v1%2fadmin/users":      "/v1/admin/users",
		"/v1/x/%2e%2e/admin":     "/v1/admin",
		"/v1/x/..%2Fadmin/users": "/v1/admin/users",
		"/v1/x/..%5cadmin/users": "error",
		"/v1/x/..%5Cadmin/users": "error",
		"/v1/x/..\\admin/users":  "error",
		"/v1/x/%2e%2e%3b/admin":  "error",
	} {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatalf("%q: %v", target, err)
		}
		got, err := Canonical(u.Path)
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("%q: canonical %q, want %q", target, got, want)
		}
	}
}

func TestCanonicalDoesNotAllocateWhenCanonical(t *testing.T) {
	p := strings.Clone("/v1/charts/eddf")
	if n := testing.AllocsPerRun(100, func() { Canonical(p) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func TestMatch(t *testing.T) {
	routes := map[string]string{"/v1/charts": "charts", "/v1": "v1", "/v1/charts/eddf/apt": "apt"}
	for _, tc := range []struct{ path, want string }{
		{"/v1/charts/eddf", "charts"},
		{"/v1/charts", "charts"},
		{"/v1/chartsx", "v1"},
		{"/v1/charts/eddf/apt/1", "apt"},
		{"/v2", ""},
		{"/", ""},
		{"", ""},
	} {
		got, _ := Match(routes, tc.path)
		if got != tc.want {
			t.Errorf("Match(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
	routes["/"] = "root"
	if got, _ := Match(routes, "/v2"); got != "root" {
		t.Errorf("root route: %q", got)
	}
	if _, ok := Match(routes, ""); ok {
		t.Error("a path that is not absolute matched")
	}
}

func TestPrefixLen(t *testing.T) {
	for _, tc := range []struct {
		p    string
		n    int
		rest string
	}{
		{"/v1/charts/EDDF", 2, "/EDDF"},
		{"/V1/Charts;x=1/EDDF", 2, "/EDDF"},
		{"/v1/;x/charts/EDDF", 2, "/EDDF"},
		{"/v1/charts/;x/EDDF", 2, "/;x/EDDF"},
		{"/v1/charts", 2, ""},
		{"/v1/charts/", 2, "/"},
		{"/v1/charts/a/", 2, "/a/"},
		{"/x", 0, "/x"},
	} {
		if got := tc.p[PrefixLen(tc.p, tc.n):]; got != tc.rest {
			t.Errorf("PrefixLen(%q, %d): rest %q, want %q", tc.p, tc.n, got, tc.rest)
		}
	}
}

func TestSegmentCount(t *testing.T) {
	for p, want := range map[string]int{"/": 0, "": 0, "/v1": 1, "/v1/charts": 2} {
		if got := SegmentCount(p); got != want {
			t.Errorf("SegmentCount(%q) = %d, want %d", p, got, want)
		}
	}
}
