package issuer_test

import (
	"net/url"
	"strings"
	"testing"
)

// respell returns s, unpadded base64url whose last character has unused
// bits, with the lowest of them set: jwx decodes it to the same bytes.
func respell(t *testing.T, s string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	if len(s)%4 == 0 || i < 0 || i&1 != 0 {
		t.Fatalf("%q has no unused bits to set", s)
	}
	return s[:len(s)-1] + string(alphabet[i|1])
}

// Introspection answers for an access token only as it was minted: another
// spelling of its header or signature is inactive, as the gateway's
// verifier refuses it.
func TestIntrospectRefusesOtherSpellings(t *testing.T) {
	fx := newFixture(t)
	at := fx.passwordTokens("app", appSecret).str("access_token")
	introspect := func(token string) any {
		t.Helper()
		r := fx.endpoint("/introspect", url.Values{"token": {token}}, "app", appSecret)
		if r.status != 200 {
			t.Fatalf("introspect: %d %s", r.status, r.raw)
		}
		return r.body["active"]
	}
	if introspect(at) != true {
		t.Fatal("the minted token is inactive")
	}
	parts := strings.Split(at, ".")
	for i, name := range []string{"header", "payload", "signature"} {
		if len(parts[i])%4 == 0 {
			continue // no unused bits in this segment
		}
		other := append([]string(nil), parts...)
		other[i] = respell(t, parts[i])
		if introspect(strings.Join(other, ".")) != false {
			t.Errorf("the token with its %s respelled is active", name)
		}
	}
}
