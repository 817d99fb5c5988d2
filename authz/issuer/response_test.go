package issuer

import (
	"encoding/json"
	"testing"
)

// appendTokenResponse writes what encoding/json writes for a
// tokenResponse, byte for byte: field order, refresh_token omitted when
// empty, strings escaped alike (HTML characters, control characters,
// invalid UTF-8, U+2028).
func TestAppendTokenResponseIsEncodingJSON(t *testing.T) {
	for _, r := range []tokenResponse{
		{AccessToken: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", TokenType: "Bearer", ExpiresIn: 900, Scope: "charts airports"},
		{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 3600, RefreshToken: "r-_0", Scope: ""},
		{AccessToken: "", TokenType: "Bearer", ExpiresIn: 0, Scope: "charts"},
		{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: -1, RefreshToken: "x", Scope: `<a&b> "q" \ é ` + "\u2028\x01\xff"},
		{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 1 << 40, Scope: "ünïcode"},
	} {
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendTokenResponse([]byte("prefix"), &r); string(got) != "prefix"+string(want) {
			t.Errorf("appendTokenResponse(%+v)\n got %s\nwant prefix%s", r, got, want)
		}
	}
}

func FuzzAppendTokenResponse(f *testing.F) {
	f.Add("a.b.c", "r", "charts", int64(900))
	f.Add("", "", "<&>\u2028", int64(-5))
	f.Fuzz(func(t *testing.T, access, refresh, scope string, expires int64) {
		r := tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: expires, RefreshToken: refresh, Scope: scope}
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendTokenResponse(nil, &r); string(got) != string(want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}
