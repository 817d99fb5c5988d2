// Package secret makes and checks the gateway's secrets: client secrets,
// opaque tokens (refresh tokens, authorization codes) and user passwords.
//
// Client secrets and opaque tokens are 256-bit random values, so a plain
// SHA-256 is a sufficient hash and is compared in constant time. Passwords
// are low-entropy, so they are hashed with argon2id into a PHC string.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/clearance-gw/clearance/internal/b64canon"
)

// randomBytes is the size of generated secrets and tokens: 256 bits.
const randomBytes = 32

// NewClientSecret returns a new client secret: 32 random bytes, base64url
// without padding (only unreserved URL characters, so every client library
// sends it intact).
func NewClientSecret() (string, error) { return random("client secret") }

// NewToken returns a new opaque token (refresh token, authorization code):
// 32 random bytes, base64url without padding.
func NewToken() (string, error) { return random("token") }

func random(what string) (string, error) {
	b := make([]byte, randomBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate %s: %w", what, err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashSecret returns the SHA-256 of a client secret or opaque token, the
// only form in which the store keeps it.
func HashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// EqualHash compares two hashes in constant time. Two empty hashes are not
// equal: a client without a secret never authenticates with one.
func EqualHash(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare(a, b) == 1
}

// Argon2id parameters of new password hashes: 32 MiB, 2 passes, 2 lanes,
// about 40-55 ms on a 2-core server. This exceeds OWASP's m=19 MiB, t=2
// profile while keeping the memory of concurrent logins bounded.
const (
	argonMemory  = 32 * 1024 // KiB
	argonTime    = 2
	argonThreads = 2
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds accepted when verifying, so a crafted hash string cannot make
// verification allocate or spin without limit.
const (
	maxMemory  = 256 * 1024 // KiB (256 MiB, eight times the default)
	maxTime    = 64
	maxThreads = 64
	maxSaltLen = 64
	maxKeyLen  = 64
	minKeyLen  = 16
	minSaltLen = 8
)

// ErrMalformedHash is returned by VerifyPassword for a hash string that is
// not an argon2id PHC string this package accepts.
var ErrMalformedHash = errors.New("malformed password hash")

// HashPassword hashes pw with argon2id and a random salt into a PHC string:
// $argon2id$v=19$m=32768,t=2,p=2$<salt>$<hash> (standard base64, no padding).
func HashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generate password salt: %w", err)
	}
	p := phc{memory: argonMemory, time: argonTime, threads: argonThreads, salt: salt}
	p.key = argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, argonKeyLen)
	return p.String(), nil
}

// VerifyPassword reports whether pw matches the PHC string, comparing in
// constant time with the parameters the string names. A malformed or
// out-of-bounds string is an error wrapping ErrMalformedHash.
func VerifyPassword(hash, pw string) (bool, error) {
	p, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// NeedsRehash reports whether a valid hash was made with weaker parameters
// than HashPassword uses today (so a login may upgrade it).
func NeedsRehash(hash string) bool {
	p, err := parsePHC(hash)
	if err != nil {
		return true
	}
	return p.memory < argonMemory || p.time < argonTime || len(p.key) < argonKeyLen
}

type phc struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func (p phc) String() string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads,
		b64.EncodeToString(p.salt), b64.EncodeToString(p.key))
}

func parsePHC(s string) (phc, error) {
	var p phc
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, fmt.Errorf("%w: want 5 $-separated fields", ErrMalformedHash)
	}
	if parts[1] != "argon2id" {
		return p, fmt.Errorf("%w: algorithm %q is not argon2id", ErrMalformedHash, parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, fmt.Errorf("%w: unsupported version %q", ErrMalformedHash, parts[2])
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return p, fmt.Errorf("%w: want parameters m,t,p", ErrMalformedHash)
	}
	var err error
	if p.memory, err = param(params[0], "m", maxMemory); err != nil {
		return p, err
	}
	if p.time, err = param(params[1], "t", maxTime); err != nil {
		return p, err
	}
	threads, err := param(params[2], "p", maxThreads)
	if err != nil {
		return p, err
	}
	p.threads = uint8(threads)
	if p.memory < 8*uint32(p.threads) {
		return p, fmt.Errorf("%w: memory below 8 KiB per lane", ErrMalformedHash)
	}
	// Only the canonical spelling: a hash string is accepted only as it
	// prints back (no line breaks, no stray padding bits).
	if p.salt, err = b64canon.Decode(base64.RawStdEncoding, parts[4]); err != nil || len(p.salt) < minSaltLen || len(p.salt) > maxSaltLen {
		return p, fmt.Errorf("%w: bad salt", ErrMalformedHash)
	}
	if p.key, err = b64canon.Decode(base64.RawStdEncoding, parts[5]); err != nil || len(p.key) < minKeyLen || len(p.key) > maxKeyLen {
		return p, fmt.Errorf("%w: bad hash", ErrMalformedHash)
	}
	return p, nil
}

// param parses "name=N" with 1 <= N <= max.
func param(s, name string, max uint32) (uint32, error) {
	v, ok := strings.CutPrefix(s, name+"=")
	if !ok {
		return 0, fmt.Errorf("%w: want %s=", ErrMalformedHash, name)
	}
	// Digits only: ParseUint would accept "+", "_" and other forms.
	if v == "" || len(v) > 10 || strings.TrimLeft(v, "0123456789") != "" || (len(v) > 1 && v[0] == '0') {
		return 0, fmt.Errorf("%w: bad %s", ErrMalformedHash, name)
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < 1 || n > uint64(max) {
		return 0, fmt.Errorf("%w: %s out of range", ErrMalformedHash, name)
	}
	return uint32(n), nil
}
