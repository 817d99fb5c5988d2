// Package claims names the private claims of the tokens the gateway mints
// and reads them back. Both the issuer, which writes them, and the guard,
// which reads them, import it, so neither imports the other.
package claims

import (
	"encoding/json"
	"errors"
	"math"

	"github.com/lestrrat-go/jwx/v2/jwt"
)

// The private claims that name the creation time, in Unix microseconds, of
// a token's client (every token) and of its user (a token whose subject is
// a user). They tell a deleted client or user from a later one of the same
// name. RFC 9068 §2.2.3 allows such claims; a resource server that does not
// know them ignores them.
const (
	ClientCreated = "client_created"
	UserCreated   = "user_created"
)

// SessionGen is the private claim that names the generation of its
// session a token was minted in (its count of refreshes): a rotation
// revokes the generations below the new one with one entry per session.
const SessionGen = "sgen"

// ErrMalformed is returned for a claim that is present but not a positive
// integer of at most 2^53.
var ErrMalformed = errors.New("malformed claim")

// maxMicros bounds a microseconds claim: JSON numbers are exact only up to
// 2^53.
const maxMicros = 1 << 53

// Micros reads a claim holding a positive integer: Unix microseconds
// (ClientCreated, UserCreated) or a count (SessionGen). 0 when absent, ErrMalformed when it is not a positive
// integer.
func Micros(t jwt.Token, name string) (int64, error) {
	v, ok := t.Get(name)
	if !ok {
		return 0, nil
	}
	switch v := v.(type) {
	case float64:
		if v != math.Trunc(v) || v <= 0 || v > maxMicros {
			return 0, ErrMalformed
		}
		return int64(v), nil
	case json.Number:
		i, err := v.Int64()
		if err != nil || i <= 0 || i > maxMicros {
			return 0, ErrMalformed
		}
		return i, nil
	}
	return 0, ErrMalformed
}
