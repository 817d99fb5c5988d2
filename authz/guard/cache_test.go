package guard

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func (f *fixture) cacheCounts() (hits, misses float64) {
	return testutil.ToFloat64(f.metrics.cacheHits.WithLabelValues("token")),
		testutil.ToFloat64(f.metrics.cacheMisses.WithLabelValues("token"))
}

func TestTokenCache(t *testing.T) {
	t.Run("hit counted and same principal", func(t *testing.T) {
		f := newFixture(t)
		tok := mint(t, f.rsa, claims(idpIssuer))
		first, err := f.guard.Check(bearerRequest(tok), nil)
		if err != nil {
			t.Fatal(err)
		}
		second, err := f.guard.Check(bearerRequest(tok), nil)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(first) != fmt.Sprint(second) {
			t.Fatalf("cached principal %+v differs from %+v", second, first)
		}
		if h, m := f.cacheCounts(); h != 1 || m != 1 {
			t.Fatalf("hits, misses = %v, %v; want 1, 1", h, m)
		}
	})
	t.Run("entry not used past exp", func(t *testing.T) {
		f := newFixture(t)
		tok := mint(t, f.rsa, claims(idpIssuer))
		if err := f.check(t, tok); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(t0.Add(time.Hour + 30*time.Second)) // exp + leeway
		assertErr(t, f.check(t, tok), errExpired)
		if h, m := f.cacheCounts(); h != 0 || m != 2 {
			t.Fatalf("hits, misses = %v, %v; want 0, 2", h, m)
		}
		if f.guard.state.Load().tokens.Len() != 0 {
			t.Fatal("expired entry kept")
		}
	})
	t.Run("revoked token refused even when cached", func(t *testing.T) {
		revs := &fakeRevocations{}
		f := newFixture(t, withRevocations(revs))
		tok := mint(t, f.rsa, claims(idpIssuer))
		if err := f.check(t, tok); err != nil {
			t.Fatal(err)
		}
		revs.revoke("jti-1")
		assertErr(t, f.check(t, tok), errRevoked)
		if h, _ := f.cacheCounts(); h != 1 {
			t.Fatalf("hits = %v, want 1: the revocation must be found on the cached path", h)
		}
	})
	t.Run("revoked session of a local token", func(t *testing.T) {
		revs := &fakeRevocations{sids: map[string]bool{"s-9": true}}
		f := newFixture(t, withRevocations(revs))
		c := claims(localIssuer)
		c["sid"] = "s-9"
		assertErr(t, f.check(t, mint(t, f.local, c)), errRevoked)
	})
	t.Run("disabled", func(t *testing.T) {
		f := newFixture(t, withCacheSize(0))
		tok := mint(t, f.rsa, claims(idpIssuer))
		for range 3 {
			if err := f.check(t, tok); err != nil {
				t.Fatal(err)
			}
		}
		if h, m := f.cacheCounts(); h != 0 || m != 0 {
			t.Fatalf("hits, misses = %v, %v; want 0, 0", h, m)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		f := newFixture(t, withCacheSize(2))
		for i := range 5 {
			c := claims(idpIssuer)
			c["jti"] = fmt.Sprint(i)
			if err := f.check(t, mint(t, f.ec, c)); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.guard.state.Load().tokens.Len(); n != 2 {
			t.Fatalf("cache holds %d entries, want 2", n)
		}
	})
}

// Both paths, verified and cached, apply one rule: valid while the clock
// (truncated to the second) is before exp + leeway.
func TestClockBoundaries(t *testing.T) {
	exp := t0.Add(time.Hour)
	nbf := t0.Add(10 * time.Minute)
	const leeway = 30 * time.Second
	tests := []struct {
		name string
		at   time.Time
		nbf  bool // token carries nbf
		want *Error
	}{
		{"exp-1s", exp.Add(-time.Second), false, nil},
		{"exp", exp, false, nil},
		{"exp+leeway-1s", exp.Add(leeway - time.Second), false, nil},
		{"exp+leeway-1ns", exp.Add(leeway - time.Nanosecond), false, nil},
		{"exp+leeway", exp.Add(leeway), false, errExpired},
		{"exp+leeway+1s", exp.Add(leeway + time.Second), false, errExpired},
		{"nbf-leeway-1s", nbf.Add(-leeway - time.Second), true, errNotYetValid},
		{"nbf-leeway", nbf.Add(-leeway), true, nil},
		{"nbf", nbf, true, nil},
	}
	for _, cached := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/cached=%v", tt.name, cached), func(t *testing.T) {
				size := 0
				if cached {
					size = 10
				}
				f := newFixture(t, withCacheSize(size))
				c := claims(idpIssuer)
				c["exp"] = exp.Unix()
				if tt.nbf {
					c["nbf"] = nbf.Unix()
				}
				tok := mint(t, f.rsa, c)
				if cached && !tt.nbf {
					// verified (and cached) well before the boundary
					if err := f.check(t, tok); err != nil {
						t.Fatal(err)
					}
				}
				f.clock.Set(tt.at)
				err := f.check(t, tok)
				if tt.want == nil {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				assertErr(t, err, tt.want)
			})
		}
	}
}

func TestUnusualClaims(t *testing.T) {
	f := newFixture(t, withCacheSize(0))
	raw := func(payload string) string { return mintRaw(t, f.rsa, []byte(payload), "at+jwt") }
	base := `"iss":"` + idpIssuer + `","aud":"` + idpAudience + `","sub":"p"`
	future := fmt.Sprint(t0.Add(time.Hour).Unix())

	many := make([]string, 500)
	for i := range many {
		many[i] = fmt.Sprintf(`"s%d"`, i)
	}
	tests := []struct {
		name    string
		tok     string
		want    *Error
		nScopes int
	}{
		{"negative exp", raw(`{` + base + `,"exp":-1}`), errMalformedToken, 0}, // jwx refuses it as a NumericDate
		{"exp zero", raw(`{` + base + `,"exp":0}`), errExpired, 0},
		{"exp in the far future", raw(`{` + base + `,"exp":253402300799}`), nil, 0},
		{"enormous exp", raw(`{` + base + `,"exp":1e300}`), errMalformedToken, 0},
		{"exp as a string", raw(`{` + base + `,"exp":"tomorrow"}`), errMalformedToken, 0},
		{"fractional exp", raw(`{` + base + `,"exp":` + future + `.5}`), nil, 0},
		{"iss not a string", raw(`{"iss":7,"exp":` + future + `}`), errMalformedToken, 0},
		{"payload not JSON", raw(`not json`), errMalformedToken, 0},
		{"payload a JSON array", raw(`[1,2]`), errMalformedToken, 0},
		{"non-UTF-8 subject", raw("{" + base[:len(base)-2] + "\xff\xfe\"" + `,"exp":` + future + `}`), nil, 0},
		{"non-UTF-8 scope", raw(`{` + base + `,"exp":` + future + ",\"scope\":\"a\xffb c\"}"), nil, 2},
		{"scp with a non-string", raw(`{` + base + `,"exp":` + future + `,"scp":["a",1]}`), errBadScopeClaim, 0},
		{"scp with a space inside", raw(`{` + base + `,"exp":` + future + `,"scp":["a b"]}`), errBadScopeClaim, 0},
		{"scp as a string", raw(`{` + base + `,"exp":` + future + `,"scp":"a b c"}`), nil, 3},
		{"scp an object", raw(`{` + base + `,"exp":` + future + `,"scp":{"a":1}}`), errBadScopeClaim, 0},
		{"500 scopes in scp", raw(`{` + base + `,"exp":` + future + `,"scp":[` + strings.Join(many, ",") + `]}`), nil, 500},
		{"10,000 scopes", raw(`{` + base + `,"exp":` + future + `,"scope":"` + strings.Repeat("s ", 10000) + `"}`), errTooLarge, 0},
		{"client_id not a string", raw(`{` + base + `,"exp":` + future + `,"client_id":["x"]}`), errBadClaim, 0},
		{"duplicate iss", raw(`{"iss":"https://evil.example",` + base + `,"exp":` + future + `}`), nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.guard.verifyCached(t.Context(), f.guard.state.Load(), tt.tok)
			if tt.want != nil {
				assertErr(t, err, tt.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Issuer != idpIssuer || len(p.Scopes) != tt.nScopes {
				t.Fatalf("principal %+v, want issuer %s and %d scopes", p, idpIssuer, tt.nScopes)
			}
		})
	}
}

func TestFailureMetrics(t *testing.T) {
	f := newFixture(t)
	c := claims(idpIssuer)
	c["exp"] = t0.Add(-time.Hour).Unix()
	c["iat"] = t0.Add(-2 * time.Hour).Unix()
	_ = f.check(t, mint(t, f.rsa, c))
	_ = f.check(t, mint(t, f.rsa, c))
	_ = f.check(t, "a.b.c")
	_, _ = f.guard.Check(bearerRequest(mint(t, f.rsa, claims(idpIssuer))), nil) // no failure
	want := `
# HELP clearance_auth_failures_total Requests refused by token checks, by reason.
# TYPE clearance_auth_failures_total counter
clearance_auth_failures_total{reason="expired"} 2
clearance_auth_failures_total{reason="malformed"} 1
`
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want), "clearance_auth_failures_total"); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.GatherAndLint(f.reg); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}
