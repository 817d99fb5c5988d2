package websession

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/http"
	"time"

	"github.com/clearance-gw/clearance/internal/b64canon"
)

// FlashTTL is how long a flash waits to be shown.
const FlashTTL = 2 * time.Minute

// SetFlash stores a one-time value (a new client secret, a new token) for
// the next GET of path by user, sealed with AES-256-GCM in a short-lived
// cookie scoped to path: every instance sharing the key can show it, the
// browser cannot read it, and TakeFlash deletes it, so a reload of the page
// does not show it again. path must lie below one of the codec's paths.
func (c *Codec) SetFlash(w http.ResponseWriter, path, user, value string) error {
	if !c.under(path) {
		return fmt.Errorf("websession: flash path %q is not below the cookie paths %q", path, c.paths)
	}
	aead, err := c.flashAEAD()
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("generate flash nonce: %w", err)
	}
	exp := c.now().Add(FlashTTL)
	plain := binary.BigEndian.AppendUint64(nil, uint64(exp.Unix()))
	plain = append(plain, value...)
	sealed := aead.Seal(nonce, nonce, plain, flashAD(path, user))
	v := b64.EncodeToString(sealed)
	if len(v) > maxCookieLen {
		return fmt.Errorf("websession: flash value of %d bytes is too long", len(value))
	}
	http.SetCookie(w, c.cookie(FlashCookie, v, path, exp))
	return nil
}

// TakeFlash returns the flash set for path and user, if r carries one that
// has not expired, and deletes it from the browser (w).
func (c *Codec) TakeFlash(w http.ResponseWriter, r *http.Request, path, user string) (string, bool) {
	ck, err := r.Cookie(FlashCookie)
	if err != nil {
		return "", false
	}
	http.SetCookie(w, c.expired(FlashCookie, path))
	if len(ck.Value) > maxCookieLen {
		return "", false
	}
	sealed, err := b64canon.Decode(b64, ck.Value)
	if err != nil {
		return "", false
	}
	aead, err := c.flashAEAD()
	if err != nil || len(sealed) < aead.NonceSize() {
		return "", false
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], flashAD(path, user))
	if err != nil || len(plain) < 8 {
		return "", false
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(plain[:8])), 0)
	if !c.now().Before(exp) {
		return "", false
	}
	return string(plain[8:]), true
}

func (c *Codec) flashAEAD() (cipher.AEAD, error) {
	block, err := aes.NewCipher(c.flashKey)
	if err != nil {
		return nil, fmt.Errorf("flash cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("flash cipher: %w", err)
	}
	return aead, nil
}

func flashAD(path, user string) []byte {
	return []byte("flash\x00" + path + "\x00" + user)
}
