package guard

import (
	"strings"
	"testing"
)

// respell returns tok with the lowest unused bit of segment i's last
// base64url character set: the same bytes to a lenient decoder, and to
// jwx, which checks the signature over the header as decoded. ok is false
// when that segment's length leaves no unused bits.
func respell(tok string, i int) (string, bool) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	parts := strings.Split(tok, ".")
	seg := parts[i]
	j := strings.IndexByte(alphabet, seg[len(seg)-1])
	if len(seg)%4 == 0 || j < 0 || j&1 != 0 {
		return "", false
	}
	parts[i] = seg[:len(seg)-1] + string(alphabet[j|1])
	return strings.Join(parts, "."), true
}

// A signed token is accepted only as it was signed: the same header,
// payload or signature bytes spelled with stray padding bits are another
// token string, refused as malformed before jwx sees it.
func TestVerifyRefusesNonCanonicalSegments(t *testing.T) {
	fx := newFixture(t)
	tokens := map[string]string{
		"RS256": mint(t, fx.rsa, claims(idpIssuer)),
		"ES256": mint(t, fx.ec, claims(idpIssuer)),
		"local": mint(t, fx.local, claims(localIssuer)),
	}
	respelled := 0
	for name, tok := range tokens {
		if _, _, err := fx.guard.verify(t.Context(), fx.guard.state.Load(), tok); err != nil {
			t.Fatalf("%s: the minted token is refused: %v", name, err)
		}
		for i, seg := range []string{"header", "payload", "signature"} {
			other, ok := respell(tok, i)
			if !ok {
				continue
			}
			respelled++
			_, _, err := fx.guard.verify(t.Context(), fx.guard.state.Load(), other)
			if err == nil {
				t.Errorf("%s: accepted with its %s respelled", name, seg)
			} else if err != errMalformedToken {
				t.Errorf("%s, %s respelled: %v, want the malformed-token error", name, seg, err)
			}
		}
	}
	if respelled < 6 {
		t.Fatalf("only %d segments could be respelled", respelled)
	}
}
