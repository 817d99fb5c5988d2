package signing

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// The derivation is pinned: changing it would sign every user out of the
// portal on upgrade.
func TestCookieKey(t *testing.T) {
	kek := bytes.Repeat([]byte{7}, KEKSize)
	const want = "6d005619bc907fc113d7b8870f335d470b4d6db11affc7ad06085a6208195a5c"
	if got := hex.EncodeToString(CookieKey(kek)); got != want {
		t.Fatalf("CookieKey = %s, want %s", got, want)
	}
	other := bytes.Repeat([]byte{8}, KEKSize)
	if bytes.Equal(CookieKey(kek), CookieKey(other)) {
		t.Fatal("two KEKs give one cookie key")
	}
	if bytes.Contains(CookieKey(kek), kek[:8]) {
		t.Fatal("the cookie key shows the KEK")
	}
}
