package guard

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/clearance-gw/clearance/authz/revocation"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// gatewayServer answers like the proxy will: WriteError on failure, the
// principal's subject and scopes on success.
func gatewayServer(t *testing.T, g *Guard, route *config.Route) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := g.Check(r, route)
		if err != nil {
			WriteError(w, err, realm)
			return
		}
		fmt.Fprintf(w, "%s|%s|%s", p.Subject, p.ClientID, p.Scopes)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	www    string
	body   string
}

func call(t *testing.T, srv *httptest.Server, query string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/mapdata/x?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		req.Header.Add("Authorization", h)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, www: res.Header.Get("WWW-Authenticate"), body: string(b)}
}

func errBody(code, desc string) string {
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	return string(b) + "\n"
}

func invalidToken(desc string) response {
	return response{401, `Bearer realm="clearance", error="invalid_token", error_description="` + desc + `"`, errBody("invalid_token", desc)}
}

func invalidRequest(desc string) response {
	return response{400, `Bearer realm="clearance", error="invalid_request", error_description="` + desc + `"`, errBody("invalid_request", desc)}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestCheckOverHTTP(t *testing.T) {
	f := newFixture(t)
	route := &config.Route{Name: "mapdata", Path: "/mapdata/", Scopes: []string{"query_mapdata"}, InsufficientScopeStatus: 401}
	srv := gatewayServer(t, f.guard, route)

	good := mint(t, f.rsa, claims(idpIssuer))
	with := func(mod func(c map[string]any)) map[string]any {
		c := claims(idpIssuer)
		mod(c)
		return c
	}
	// a good signature over other claims
	parts := strings.Split(good, ".")
	forged := parts[0] + "." + b64(`{"iss":"`+idpIssuer+`","aud":"`+idpAudience+`","sub":"captain","exp":`+fmt.Sprint(t0.Add(time.Hour).Unix())+`,"scope":"query_mapdata"}`) + "." + parts[2]
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hsHeaders := jws.NewHeaders()
	_ = hsHeaders.Set(jws.KeyIDKey, "r1")
	payload, _ := json.Marshal(claims(idpIssuer))
	hsToken, err := jws.Sign(payload, jws.WithKey(jwa.HS256, pubPEM, jws.WithProtectedHeaders(hsHeaders)))
	if err != nil {
		t.Fatal(err)
	}
	noneHeader := b64(`{"alg":"none","kid":"r1","typ":"JWT"}`)
	unknownKid := mint(t, newSigner(t, rsaKey(), "r9", jwa.RS256), claims(idpIssuer))

	tests := []struct {
		name    string
		query   string
		headers []string
		want    response
	}{
		{name: "valid RS256 token", headers: []string{"Bearer " + good},
			want: response{200, "", "pilot-7||query_mapdata talk_tower"}},
		{name: "lowercase bearer works", headers: []string{"bearer " + good},
			want: response{200, "", "pilot-7||query_mapdata talk_tower"}},
		{name: "query parameter works", query: "access_token=" + good,
			want: response{200, "", "pilot-7||query_mapdata talk_tower"}},
		{name: "ES256 token", headers: []string{"Bearer " + mint(t, f.ec, claims(idpIssuer))},
			want: response{200, "", "pilot-7||query_mapdata talk_tower"}},
		{name: "EdDSA token with client_id", headers: []string{"Bearer " + mint(t, f.ed, with(func(c map[string]any) { c["client_id"] = "efb-app" }))},
			want: response{200, "", "pilot-7|efb-app|query_mapdata talk_tower"}},
		{name: "scp array", headers: []string{"Bearer " + mint(t, f.rsa, with(func(c map[string]any) {
			delete(c, "scope")
			c["scp"] = []string{"query_mapdata", "manage_users"}
		}))}, want: response{200, "", "pilot-7||query_mapdata manage_users"}},
		{name: "missing token", want: response{401, `Bearer realm="clearance"`, errBody("unauthorized", "a bearer token is required")}},
		{name: "basic scheme", headers: []string{"Basic dXNlcjpwYXNz"},
			want: response{401, `Bearer realm="clearance"`, errBody("unauthorized", "a bearer token is required")}},
		{name: "header and query", query: "access_token=" + good, headers: []string{"Bearer " + good},
			want: invalidRequest("token in both Authorization header and access_token parameter")},
		{name: "malformed header", headers: []string{"Bearer " + good + " extra"}, want: invalidRequest("malformed bearer token")},
		{name: "two headers", headers: []string{"Bearer " + good, "Bearer " + good}, want: invalidRequest("multiple Authorization headers")},
		// RFC 6750 §3: every 400 carries the challenge with its error code.
		{name: "bare Bearer", headers: []string{"Bearer"}, want: invalidRequest("empty bearer token")},
		{name: "Bearer and spaces", headers: []string{"Bearer   "}, want: invalidRequest("empty bearer token")},
		{name: "empty header", headers: []string{""}, want: invalidRequest("malformed Authorization header")},
		{name: "no scheme", headers: []string{"=abc"}, want: invalidRequest("malformed Authorization header")},
		{name: "tab after the scheme", headers: []string{"Bearer\t" + good}, want: invalidRequest("malformed Authorization header")},
		{name: "two query parameters", query: "access_token=" + good + "&access_token=" + good, want: invalidRequest("multiple access_token parameters")},
		{name: "empty query parameter", query: "access_token=", want: invalidRequest("empty access_token parameter")},
		{name: "oversized token", headers: []string{"Bearer " + strings.Repeat("a", MaxTokenSize+1)}, want: invalidRequest("token too large")},
		{name: "bare Bearer and a query token", query: "access_token=" + good, headers: []string{"Bearer"},
			want: invalidRequest("token in both Authorization header and access_token parameter")},
		{name: "not a JWS", headers: []string{"Bearer opaque-token"}, want: invalidToken("malformed token")},
		{name: "expired", headers: []string{"Bearer " + mint(t, f.rsa, with(func(c map[string]any) {
			c["exp"] = t0.Add(-time.Hour).Unix()
			c["iat"] = t0.Add(-2 * time.Hour).Unix()
		}))}, want: invalidToken("token expired")},
		{name: "not yet valid", headers: []string{"Bearer " + mint(t, f.rsa, with(func(c map[string]any) { c["nbf"] = t0.Add(time.Minute).Unix() }))},
			want: invalidToken("token not yet valid")},
		{name: "issued in the future", headers: []string{"Bearer " + mint(t, f.rsa, with(func(c map[string]any) { c["iat"] = t0.Add(time.Minute).Unix() }))},
			want: invalidToken("token issued in the future")},
		{name: "wrong issuer", headers: []string{"Bearer " + mint(t, f.rsa, with(func(c map[string]any) { c["iss"] = "https://evil.example" }))},
			want: invalidToken("untrusted issuer")},
		{name: "no issuer", headers: []string{"Bearer " + mint(t, f.rsa, with(func(c map[string]any) { delete(c, "iss") }))},
			want: invalidToken("untrusted issuer")},
		{name: "wrong audience", headers: []string{"Bearer " + mint(t, f.rsa, with(func(c map[string]any) { c["aud"] = "someone-else" }))},
			want: invalidToken("audience not accepted")},
		{name: "second configured audience", headers: []string{"Bearer " + mint(t, f.rsa, with(func(c map[string]any) { c["aud"] = "other-api" }))},
			want: response{200, "", "pilot-7||query_mapdata talk_tower"}},
		{name: "no audience", headers: []string{"Bearer " + mint(t, f.rsa, with(func(c map[string]any) { delete(c, "aud") }))},
			want: invalidToken("audience not accepted")},
		{name: "no expiry", headers: []string{"Bearer " + mint(t, f.rsa, with(func(c map[string]any) { delete(c, "exp") }))},
			want: invalidToken("token has no expiry")},
		{name: "bad signature", headers: []string{"Bearer " + forged}, want: invalidToken("invalid signature")},
		{name: "alg none without signature", headers: []string{"Bearer " + noneHeader + "." + b64(string(payload)) + "."},
			want: invalidToken("malformed token")},
		{name: "alg none with a signature", headers: []string{"Bearer " + noneHeader + "." + b64(string(payload)) + ".c2ln"},
			want: invalidToken("algorithm not allowed")},
		{name: "HS256 signed with the RSA public key", headers: []string{"Bearer " + string(hsToken)}, want: invalidToken("algorithm not allowed")},
		{name: "RS256 header on the EC key", headers: []string{"Bearer " + mint(t, newSigner(t, rsaKey(), "e1", jwa.RS256), claims(idpIssuer))},
			want: invalidToken("algorithm does not match the key")},
		{name: "algorithm not configured", headers: []string{"Bearer " + mint(t, newSigner(t, rsaKey(), "r1", jwa.PS256), claims(idpIssuer))},
			want: invalidToken("algorithm not allowed")},
		{name: "unknown kid", headers: []string{"Bearer " + unknownKid}, want: invalidToken("unknown key id")},
		{name: "id token type", headers: []string{"Bearer " + mintRaw(t, f.rsa, payload, "id+jwt")}, want: invalidToken("unexpected token type")},
		{name: "unknown critical header", headers: []string{"Bearer " + mintCrit(t, f.rsa, payload)}, want: invalidToken("unsupported critical header")},
		{name: "plain JWT type", headers: []string{"Bearer " + mintRaw(t, f.rsa, payload, "JWT")},
			want: response{200, "", "pilot-7||query_mapdata talk_tower"}},
		{name: "no type", headers: []string{"Bearer " + mintRaw(t, f.rsa, payload, "")},
			want: response{200, "", "pilot-7||query_mapdata talk_tower"}},
		{name: "scope claim of the wrong type", headers: []string{"Bearer " + mint(t, f.rsa, with(func(c map[string]any) { c["scope"] = 7 }))},
			want: invalidToken("malformed scope claim")},
		{name: "insufficient scope", headers: []string{"Bearer " + mint(t, f.rsa, with(func(c map[string]any) { c["scope"] = "talk_tower" }))},
			want: response{401, `Bearer realm="clearance", error="insufficient_scope", error_description="the token lacks a required scope", scope="query_mapdata"`,
				`{"error":"insufficient_scope","error_description":"the token lacks a required scope","scope":"query_mapdata"}` + "\n"}},
		{name: "no scope at all", headers: []string{"Bearer " + mint(t, f.rsa, with(func(c map[string]any) { delete(c, "scope") }))},
			want: response{401, `Bearer realm="clearance", error="insufficient_scope", error_description="the token lacks a required scope", scope="query_mapdata"`,
				`{"error":"insufficient_scope","error_description":"the token lacks a required scope","scope":"query_mapdata"}` + "\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := call(t, srv, tt.query, tt.headers...)
			if got != tt.want {
				t.Fatalf("got\n %d %q\n %s\nwant\n %d %q\n %s", got.status, got.www, got.body, tt.want.status, tt.want.www, tt.want.body)
			}
		})
	}
}

func TestScopePolicy(t *testing.T) {
	f := newFixture(t)
	tok := mint(t, f.rsa, claims(idpIssuer)) // query_mapdata talk_tower
	tests := []struct {
		name  string
		route config.Route
		want  response
	}{
		{name: "all scopes present", route: config.Route{Scopes: []string{"query_mapdata", "talk_tower"}, InsufficientScopeStatus: 401},
			want: response{200, "", "pilot-7||query_mapdata talk_tower"}},
		{name: "one of all missing, 401", route: config.Route{Scopes: []string{"query_mapdata", "manage_users"}, InsufficientScopeStatus: 401},
			want: response{401, `Bearer realm="clearance", error="insufficient_scope", error_description="the token lacks a required scope", scope="query_mapdata manage_users"`,
				`{"error":"insufficient_scope","error_description":"the token lacks a required scope","scope":"query_mapdata manage_users"}` + "\n"}},
		{name: "one of all missing, 403", route: config.Route{Scopes: []string{"manage_users"}, InsufficientScopeStatus: 403},
			want: response{403, `Bearer realm="clearance", error="insufficient_scope", error_description="the token lacks a required scope", scope="manage_users"`,
				`{"error":"insufficient_scope","error_description":"the token lacks a required scope","scope":"manage_users"}` + "\n"}},
		{name: "any scopes, one present", route: config.Route{AnyScopes: []string{"manage_users", "talk_tower"}, InsufficientScopeStatus: 401},
			want: response{200, "", "pilot-7||query_mapdata talk_tower"}},
		{name: "any scopes, none present", route: config.Route{AnyScopes: []string{"manage_users", "access_archive"}, InsufficientScopeStatus: 403},
			want: response{403, `Bearer realm="clearance", error="insufficient_scope", error_description="the token has none of the accepted scopes", scope="manage_users access_archive"`,
				`{"error":"insufficient_scope","error_description":"the token has none of the accepted scopes","scope":"manage_users access_archive"}` + "\n"}},
		{name: "all and any together", route: config.Route{Scopes: []string{"query_mapdata"}, AnyScopes: []string{"x", "talk_tower"}, InsufficientScopeStatus: 401},
			want: response{200, "", "pilot-7||query_mapdata talk_tower"}},
		{name: "status left zero means 401", route: config.Route{Scopes: []string{"x"}},
			want: response{401, `Bearer realm="clearance", error="insufficient_scope", error_description="the token lacks a required scope", scope="x"`,
				`{"error":"insufficient_scope","error_description":"the token lacks a required scope","scope":"x"}` + "\n"}},
		{name: "no scopes required", route: config.Route{InsufficientScopeStatus: 401},
			want: response{200, "", "pilot-7||query_mapdata talk_tower"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := gatewayServer(t, f.guard, &tt.route)
			if got := call(t, srv, "", "Bearer "+tok); got != tt.want {
				t.Fatalf("got\n %d %q\n %s\nwant\n %d %q\n %s", got.status, got.www, got.body, tt.want.status, tt.want.www, tt.want.body)
			}
		})
	}
}

func TestPublicRouteNeedsNoToken(t *testing.T) {
	f := newFixture(t)
	p, err := f.guard.Check(httptest.NewRequest(http.MethodGet, "/", nil), &config.Route{Public: true, Scopes: []string{"x"}})
	if err != nil || p.Subject != "" {
		t.Fatalf("Check = %+v, %v", p, err)
	}
}

func TestLocalTokens(t *testing.T) {
	f := newFixture(t)
	c := claims(localIssuer)
	c["sid"] = "session-42"
	c["client_id"] = "demo-backend"
	c["act"] = map[string]any{"sub": "admin-1"}
	c[ClaimClientCreated], c[ClaimUserCreated] = t0.Add(-time.Hour).UnixMicro()+7, t0.Add(-time.Minute).UnixMicro()+9
	p, err := f.guard.Check(bearerRequest(mint(t, f.local, c)), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Principal{Issuer: localIssuer, Subject: "pilot-7", ClientID: "demo-backend", Scopes: ScopeSet{"query_mapdata", "talk_tower"},
		Expiry: t0.Add(time.Hour), IssuedAt: t0, JTI: "jti-1", SessionID: "session-42", Actor: "admin-1", Local: true,
		ClientCreated: t0.Add(-time.Hour).UnixMicro() + 7, UserCreated: t0.Add(-time.Minute).UnixMicro() + 9}
	if fmt.Sprint(p) != fmt.Sprint(want) {
		t.Fatalf("principal\n %+v\nwant\n %+v", p, want)
	}

	t.Run("signed through jwt.Sign", func(t *testing.T) {
		if _, err := f.guard.Check(bearerRequest(mintJWT(t, f.local, localIssuer, localAudience, t0.Add(time.Hour))), nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("audience of the gateway is required", func(t *testing.T) {
		_, err := f.guard.Check(bearerRequest(mintJWT(t, f.local, localIssuer, idpAudience, t0.Add(time.Hour))), nil)
		assertErr(t, err, errAudience)
	})
	t.Run("a trusted issuer's key does not sign local tokens", func(t *testing.T) {
		_, err := f.guard.Check(bearerRequest(mint(t, f.rsa, claims(localIssuer))), nil)
		assertErr(t, err, errUnknownKeyID)
	})
	t.Run("sid of trusted issuers is ignored", func(t *testing.T) {
		c := claims(idpIssuer)
		c["sid"] = "s"
		p, err := f.guard.Check(bearerRequest(mint(t, f.rsa, c)), nil)
		if err != nil || p.SessionID != "" || p.Local {
			t.Fatalf("Check = %+v, %v", p, err)
		}
	})
	t.Run("malformed act claim", func(t *testing.T) {
		c := claims(localIssuer)
		c["act"] = "admin-1"
		_, err := f.guard.Check(bearerRequest(mint(t, f.local, c)), nil)
		assertErr(t, err, errBadClaim)
	})
	for _, bad := range []any{"1748779200000000", 1.5, -3, 0, float64(1<<53 + 2), true, map[string]any{}} {
		t.Run(fmt.Sprintf("malformed creation claims: %v", bad), func(t *testing.T) {
			for _, name := range []string{ClaimClientCreated, ClaimUserCreated} {
				c := claims(localIssuer)
				c[name] = bad
				_, err := f.guard.Check(bearerRequest(mint(t, f.local, c)), nil)
				assertErr(t, err, errBadClaim)
			}
		})
	}
	t.Run("creation claims of trusted issuers are ignored", func(t *testing.T) {
		c := claims(idpIssuer)
		c[ClaimClientCreated], c[ClaimUserCreated] = 5, "x"
		p, err := f.guard.Check(bearerRequest(mint(t, f.rsa, c)), nil)
		if err != nil || p.ClientCreated != 0 || p.UserCreated != 0 {
			t.Fatalf("Check = %+v, %v", p, err)
		}
	})
	t.Run("withdrawn local key", func(t *testing.T) {
		tok := mint(t, f.local, claims(localIssuer))
		if _, err := f.guard.Check(bearerRequest(tok), nil); err != nil {
			t.Fatal(err)
		}
		next := rsaSigner(t, "g2")
		if err := f.guard.SetLocalKeys(publicSet(t, next)); err != nil {
			t.Fatal(err)
		}
		_, err := f.guard.Check(bearerRequest(tok), nil)
		assertErr(t, err, errUnknownKeyID)
		if _, err := f.guard.Check(bearerRequest(mint(t, next, claims(localIssuer))), nil); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCutoffsOfDeletedClientsAndUsers: a deleted client's or user's local
// tokens are refused, also from the verified-token cache: those that carry
// the deleted incarnation's creation time, even when issued after the
// deletion, and those without creation claims issued up to the deletion
// rounded up to the second. A new client or user of that name (created
// after the cutoff) has its tokens accepted at once, in the same second. A
// trusted issuer's tokens naming the same client or subject are another
// tenant's.
func TestCutoffsOfDeletedClientsAndUsers(t *testing.T) {
	revs := revocation.New(noRevocations{}, revocation.Options{})
	f := newFixture(t, withRevocations(revs))
	cut := t0.Add(1500 * time.Millisecond) // both deletions, at t0+1.5s
	before, after := cut.Add(-time.Hour).UnixMicro(), cut.UnixMicro()+1
	token := func(s signer, iss, client, sub string, iat time.Time, clientMade, userMade int64) string {
		c := claims(iss)
		c["client_id"], c["sub"], c["iat"] = client, sub, iat.Unix()
		c["jti"] = fmt.Sprint("jti-", client, sub, iat.Unix(), clientMade, userMade)
		if clientMade != 0 {
			c[ClaimClientCreated] = clientMade
		}
		if userMade != 0 {
			c[ClaimUserCreated] = userMade
		}
		return mint(t, s, c)
	}
	type check struct {
		tok     string
		refused bool
	}
	checks := map[string]check{
		"the old client's token":                         {token(f.local, localIssuer, "app", "app", t0, before, 0), true},
		"the old client's token signed after the delete": {token(f.local, localIssuer, "app", "app", t0.Add(3*time.Second), before, 0), true},
		"the new client's token, in the same second":     {token(f.local, localIssuer, "app", "app", t0.Add(time.Second), after, 0), false},
		"the old user's token":                           {token(f.local, localIssuer, "first-party", "alice", t0, before, before), true},
		"the old user's token signed after the delete":   {token(f.local, localIssuer, "first-party", "alice", t0.Add(3*time.Second), before, before), true},
		"the new user's token, in the same second":       {token(f.local, localIssuer, "first-party", "alice", t0.Add(time.Second), before, after), false},
		"a client named after the deleted user":          {token(f.local, localIssuer, "alice", "alice", t0.Add(time.Second), after, 0), false},
		"no claims: issued before":                       {token(f.local, localIssuer, "app", "app", t0, 0, 0), true},
		"no claims: issued in the cutoff second":         {token(f.local, localIssuer, "app", "app", t0.Add(2*time.Second), 0, 0), true},
		"no claims: issued after":                        {token(f.local, localIssuer, "app", "app", t0.Add(3*time.Second), 0, 0), false},
		"no claims: a user's token in the cutoff second": {token(f.local, localIssuer, "first-party", "alice", t0.Add(2*time.Second), 0, 0), true},
		"a trusted issuer's app":                         {token(f.rsa, idpIssuer, "app", "app", t0, before, 0), false},
		"a trusted issuer's alice":                       {token(f.rsa, idpIssuer, "other", "alice", t0, before, before), false},
	}
	f.clock.Set(t0.Add(4 * time.Second))
	for name, c := range checks { // all good, and cached
		if _, err := f.guard.Check(bearerRequest(c.tok), nil); err != nil {
			t.Fatalf("%s before the deletions: %v", name, err)
		}
	}
	revs.Add(store.Revocation{ClientID: "app", Cutoff: cut, ExpiresAt: cut.Add(2 * time.Hour)})
	revs.Add(store.Revocation{Subject: "alice", Cutoff: cut, ExpiresAt: cut.Add(2 * time.Hour)})
	for name, c := range checks {
		t.Run(name, func(t *testing.T) {
			_, err := f.guard.Check(bearerRequest(c.tok), nil)
			if c.refused {
				assertErr(t, err, errRevoked)
			} else if err != nil {
				t.Fatalf("refused: %v", err)
			}
		})
	}
	if h, _ := f.cacheCounts(); h < float64(len(checks)) {
		t.Fatalf("cache hits = %v: the cutoffs must be applied on the cached path", h)
	}
}

func TestSetLocalKeysRefusesUnusableKeys(t *testing.T) {
	f := newFixture(t)
	noAlg := newSigner(t, rsaKey(), "x", jwa.RS256)
	_ = noAlg.key.Remove("alg")
	noKid := newSigner(t, rsaKey(), "x", jwa.RS256)
	_ = noKid.key.Remove("kid")
	mismatch := newSigner(t, rsaKey(), "x", jwa.ES256)
	for name, s := range map[string]signer{"no alg": noAlg, "no kid": noKid, "alg does not fit key": mismatch} {
		t.Run(name, func(t *testing.T) {
			if err := f.guard.SetLocalKeys(publicSet(t, s)); err == nil {
				t.Fatal("SetLocalKeys accepted the set")
			}
			// the previous keys stay
			if _, err := f.guard.Check(bearerRequest(mint(t, f.local, claims(localIssuer))), nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("private keys are reduced to public ones", func(t *testing.T) {
		set := publicSet(t)
		_ = set.AddKey(f.local.key)
		if err := f.guard.SetLocalKeys(set); err != nil {
			t.Fatal(err)
		}
		if _, err := f.guard.Check(bearerRequest(mint(t, f.local, claims(localIssuer))), nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no local keys", func(t *testing.T) {
		if err := f.guard.SetLocalKeys(nil); err != nil {
			t.Fatal(err)
		}
		_, err := f.guard.Check(bearerRequest(mint(t, f.local, claims(localIssuer))), nil)
		assertErr(t, err, errLocalKeysMissing)
		if err := f.guard.Ready(t.Context()); err == nil || !strings.Contains(err.Error(), "local signing keys") {
			t.Fatalf("Ready = %v", err)
		}
	})
}

func assertErr(t *testing.T, err error, want *Error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want %v", err, err, want)
	}
	if e.Status != want.Status || e.Code != want.Code || e.Description != want.Description || e.Reason != want.Reason {
		t.Fatalf("error %d %q %q (%s), want %d %q %q (%s)", e.Status, e.Code, e.Description, e.Reason, want.Status, want.Code, want.Description, want.Reason)
	}
}
