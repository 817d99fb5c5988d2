package guard_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/config"
)

func ExampleExtractToken() {
	// A compact JWS: the guard verifies it later; extraction only checks
	// where it is and that it has the shape of one.
	const tok = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJwaWxvdC03In0.c2lnbmF0dXJl"

	r := httptest.NewRequest(http.MethodGet, "/charts/EGLL", nil)
	r.Header.Set("Authorization", "bearer "+tok) // the scheme is case-insensitive
	got, err := guard.ExtractToken(r)
	fmt.Println(got == tok, err)

	r = httptest.NewRequest(http.MethodGet, "/charts/EGLL?access_token="+tok, nil)
	got, err = guard.ExtractToken(r)
	fmt.Println(got == tok, err)

	r.Header.Set("Authorization", "Bearer "+tok)
	_, err = guard.ExtractToken(r)
	fmt.Println(err)

	_, err = guard.ExtractToken(httptest.NewRequest(http.MethodGet, "/charts/EGLL", nil))
	fmt.Println(errors.Is(err, guard.ErrMissingToken))
	// Output:
	// true <nil>
	// true <nil>
	// invalid_request: token in both Authorization header and access_token parameter
	// true
}

func ExampleGuard_Check() {
	cfg, err := config.Parse("gateway.yaml", []byte(`
issuer: https://gw.example
tokens:
  audience: https://api.example
scopes: [charts, query_mapdata]
routes:
  - name: charts
    path: /charts/
    upstream: http://127.0.0.1:9000
    scopes: [charts]
`), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The gateway's own signing key: the keyring hands the guard its
	// public half through SetLocalKeys.
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	key, _ := jwk.FromRaw(priv)
	_ = key.Set(jwk.KeyIDKey, "k1")
	_ = key.Set(jwk.AlgorithmKey, jwa.EdDSA)
	pub, _ := key.PublicKey()
	set := jwk.NewSet()
	_ = set.AddKey(pub)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, err := guard.NewGuard(ctx, cfg, guard.Options{Now: func() time.Time { return now }})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := g.SetLocalKeys(set); err != nil {
		fmt.Println(err)
		return
	}

	mint := func(scope string) string {
		t, _ := jwt.NewBuilder().Issuer("https://gw.example").Audience([]string{"https://api.example"}).
			Subject("pilot-7").Claim("client_id", "maps-app").Claim("scope", scope).
			IssuedAt(now).Expiration(now.Add(time.Hour)).JwtID("j1").Build()
		h := jws.NewHeaders()
		_ = h.Set(jws.TypeKey, "at+jwt")
		b, _ := jwt.Sign(t, jwt.WithKey(jwa.EdDSA, key, jws.WithProtectedHeaders(h)))
		return string(b)
	}
	route := cfg.RouteByName("charts")
	for _, scope := range []string{"charts query_mapdata", "query_mapdata"} {
		r := httptest.NewRequest(http.MethodGet, "/charts/EGLL", nil)
		r.Header.Set("Authorization", "Bearer "+mint(scope))
		p, err := g.Check(r, route)
		if err != nil {
			// The one writer of RFC 6750 answers.
			w := httptest.NewRecorder()
			guard.WriteError(w, err, cfg.Realm)
			fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
			continue
		}
		fmt.Println(p.Subject, p.ClientID, p.Scopes, p.Local)
	}
	// Output:
	// pilot-7 maps-app charts query_mapdata true
	// 401 Bearer realm="clearance", error="insufficient_scope", error_description="the token lacks a required scope", scope="charts"
}
