package signing

import (
	"crypto/hmac"
	"crypto/sha256"
)

// CookieKey derives the portal's cookie-signing key from the key-encryption
// key, so every instance sharing a store (and so a KEK) shares logins
// without another secret to distribute.
func CookieKey(kek []byte) []byte {
	m := hmac.New(sha256.New, kek)
	m.Write([]byte("clearance portal cookies v1"))
	return m.Sum(nil)
}
