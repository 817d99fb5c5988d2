package attack

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// respell sets the lowest unused bit of the last base64 character of s (in
// the alphabet given, trailing "=" kept): Go's and jwx's lenient decoders
// read the same bytes, so the result is another spelling of one value.
func respell(t *testing.T, alphabet, s string) string {
	t.Helper()
	body := strings.TrimRight(s, "=")
	i := strings.IndexByte(alphabet, body[len(body)-1])
	if len(body)%4 == 0 || i < 0 || i&1 != 0 {
		t.Fatalf("%q has no unused bits to set", s)
	}
	return body[:len(body)-1] + string(alphabet[i|1]) + s[len(body):]
}

const (
	urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	stdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

// TestNonCanonicalEncodingAttacks replays a valid token, client credential
// and login cookie with stray padding bits in their base64: each decodes to
// the same bytes, and each must be refused, so that one credential has one
// spelling (a cache, a log or a deny list keyed on the string cannot be
// sidestepped by respelling it).
func TestNonCanonicalEncodingAttacks(t *testing.T) {
	g := startGateway(t, gatewayOptions{})

	t.Run("bearer token with a respelled segment", func(t *testing.T) {
		tok := g.ext.token(t, g.ext.claims())
		if r := g.bearer("/v1/charts/x", tok); r.status != http.StatusOK {
			t.Fatalf("the token as signed: %d %s", r.status, r.body)
		}
		parts := strings.Split(tok, ".")
		before := g.up.count()
		for i, name := range []string{"header", "payload", "signature"} {
			if len(parts[i])%4 == 0 {
				continue // no unused bits in this segment
			}
			other := append([]string(nil), parts...)
			other[i] = respell(t, urlAlphabet, parts[i])
			r := g.bearer("/v1/charts/x", strings.Join(other, "."))
			if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("%s respelled: %d %q", name, r.status, r.header.Get("WWW-Authenticate"))
			}
		}
		if n := g.up.count() - before; n != 0 {
			t.Errorf("the upstream received %d respelled tokens", n)
		}
	})

	t.Run("Basic credentials with stray padding bits", func(t *testing.T) {
		// "canon-app:" and a 43-character secret: 53 bytes, so the base64
		// ends in one "=" after a character with 2 unused bits.
		sec := g.createClient("canon-app", "--grant", "client_credentials", "--scope", "charts")
		creds := basic("canon-app", sec)
		if !strings.HasSuffix(creds, "=") || strings.HasSuffix(creds, "==") {
			t.Fatalf("credentials %q: the test expects one padding character", creds)
		}
		post := func(authz string) response {
			t.Helper()
			req, err := http.NewRequest(http.MethodPost, g.base+"/token", strings.NewReader("grant_type=client_credentials"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", authz)
			return g.do(req)
		}
		if r := post("Basic " + creds); r.status != http.StatusOK {
			t.Fatalf("canonical credentials: %d %s", r.status, r.body)
		}
		r := post("Basic " + respell(t, stdAlphabet, creds))
		if code := parseToken(t, r).Error; r.status != http.StatusUnauthorized || code != "invalid_client" {
			t.Errorf("respelled credentials: %d %q, want 401 invalid_client", r.status, code)
		}
	})

	t.Run("session cookie with a respelled signature", func(t *testing.T) {
		g.addUser("carol", "carol password 1")
		b := g.browser()
		g.login(b, "carol", "carol password 1", "")
		base, err := url.Parse(g.base + "/portal/")
		if err != nil {
			t.Fatal(err)
		}
		var session string
		for _, ck := range b.Jar.Cookies(base) {
			if ck.Name == "clearance_session" {
				session = ck.Value
			}
		}
		if session == "" {
			t.Fatal("no session cookie after login")
		}
		if r := g.get("/portal/", "Cookie", "clearance_session="+session); r.status != http.StatusOK {
			t.Fatalf("the cookie as set: %d", r.status)
		}
		dot := strings.LastIndexByte(session, '.')
		other := session[:dot+1] + respell(t, urlAlphabet, session[dot+1:])
		if r := g.get("/portal/", "Cookie", "clearance_session="+other); r.status == http.StatusOK {
			t.Errorf("the respelled cookie is logged in: %d", r.status)
		}
	})
}
