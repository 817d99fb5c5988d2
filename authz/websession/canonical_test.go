package websession

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// setPaddingBit returns s (unpadded base64url whose last character has
// unused bits) with the lowest unused bit set: a non-strict decoder maps it
// to the same bytes as s.
func setPaddingBit(t testing.TB, s string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(s)%4 == 0 {
		t.Fatalf("%q has no padding bits", s)
	}
	i := strings.IndexByte(alphabet, s[len(s)-1])
	if i < 0 || i&1 != 0 {
		t.Fatalf("%q does not end in a canonical character", s)
	}
	out := s[:len(s)-1] + string(alphabet[i|1])
	if got, err := b64.DecodeString(out); err != nil || b64.EncodeToString(got) != s {
		t.Fatalf("%q does not decode like %q", out, s)
	}
	return out
}

// A session cookie is accepted only as Login wrote it: the same signature
// with other padding bits or a line break is another cookie, and would let
// one login travel under many values.
func TestSessionRefusesNonCanonicalBase64(t *testing.T) {
	clk := newClock()
	c := newCodec(t, clk, false)
	rec := httptest.NewRecorder()
	if _, err := c.Login(rec, "alice"); err != nil {
		t.Fatal(err)
	}
	good := rec.Result().Cookies()[0].Value
	if _, ok := c.parse(good); !ok {
		t.Fatal("the cookie Login wrote is refused")
	}
	// v2.<id>.<exp>.<user created>.<user>.<signature>: the user field is
	// the last but one, the signature the last.
	parts := strings.Split(good, ".")
	n := len(parts)
	payload, sig, user := strings.Join(parts[:n-1], "."), parts[n-1], parts[n-2]
	// signed returns a cookie signed with the right key whose user field
	// is u, as if the key had signed a non-canonical payload.
	signed := func(u string) string {
		p := strings.Join(append(slices.Clone(parts[:n-2]), u), ".")
		return p + "." + b64.EncodeToString(mac(c.sessionKey, p))
	}
	tests := map[string]string{
		"signature with a padding bit set":   payload + "." + setPaddingBit(t, sig),
		"line break in the signature":        payload + "." + sig[:10] + "\n" + sig[10:],
		"trailing line break":                good + "\n",
		"signed user with a carriage return": signed(user[:2] + "\r" + user[2:]),
		"signed user with a padding bit set": signed(setPaddingBit(t, user)),
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) {
			if s, ok := c.parse(v); ok {
				t.Fatalf("parse(%q) accepted %+v", v, s)
			}
		})
	}
	t.Run("through a request", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: CookieName, Value: tests["signature with a padding bit set"]})
		if u, ok := c.User(r); ok {
			t.Fatalf("accepted as %q", u)
		}
	})
}

func TestFlashRefusesNonCanonicalBase64(t *testing.T) {
	clk := newClock()
	c := newCodec(t, clk, false)
	const path = "/portal/clients/app"
	// 12-byte nonce + 8-byte expiry + 7 bytes + 16-byte tag = 43 bytes:
	// the last base64 character carries 4 unused bits.
	set := httptest.NewRecorder()
	if err := c.SetFlash(set, path, "alice", "s3cret!"); err != nil {
		t.Fatal(err)
	}
	good := set.Result().Cookies()[0].Value
	if len(good) != 58 {
		t.Fatalf("flash cookie is %d characters, the test expects 58", len(good))
	}
	take := func(v string) (string, bool) {
		r := httptest.NewRequest("GET", path, nil)
		r.AddCookie(&http.Cookie{Name: FlashCookie, Value: v})
		return c.TakeFlash(httptest.NewRecorder(), r, path, "alice")
	}
	if v, ok := take(setPaddingBit(t, good)); ok {
		t.Fatalf("flash with a padding bit set shown: %q", v)
	}
	if v, ok := take(good); !ok || v != "s3cret!" {
		t.Fatalf("canonical flash: %q %v (%d characters)", v, ok, len(good))
	}
}
