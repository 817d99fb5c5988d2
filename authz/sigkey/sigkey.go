// Package sigkey says which JSON Web Keys and signature algorithms the
// gateway accepts for verifying tokens. It is the one copy of that rule:
// the guard reads every key set through it (its own keys, inline sets,
// fetched JWKS documents), and config validation checks an inline or file
// key set of trusted_issuers with it, so that "clearance check" refuses
// exactly the sets a running gateway would refuse.
package sigkey

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// MinRSABits is the smallest RSA modulus accepted for RS* and PS*.
const MinRSABits = 2048

// DefaultAlgorithm is the algorithm of an issuer that configures none.
const DefaultAlgorithm = jwa.RS256

// Accepted reports whether alg is an asymmetric JWS algorithm the gateway
// verifies. "none" and the HMAC algorithms never are.
func Accepted(alg jwa.SignatureAlgorithm) bool {
	switch alg {
	case jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512,
		jwa.ES256, jwa.ES384, jwa.ES512, jwa.EdDSA:
		return true
	}
	return false
}

// ParseAlgorithms turns configured algorithm names into algorithms, in
// order and without repeats; no names means DefaultAlgorithm.
func ParseAlgorithms(names []string) ([]jwa.SignatureAlgorithm, error) {
	if len(names) == 0 {
		return []jwa.SignatureAlgorithm{DefaultAlgorithm}, nil
	}
	out := make([]jwa.SignatureAlgorithm, 0, len(names))
	for _, n := range names {
		a := jwa.SignatureAlgorithm(n)
		if !Accepted(a) {
			return nil, fmt.Errorf("algorithm %q is not accepted (use RS*, PS*, ES256/384/512 or EdDSA)", n)
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// Key is one verification key, in its raw crypto form.
type Key struct {
	KID string
	Alg jwa.SignatureAlgorithm // "" when the set left it open between several configured algorithms
	Raw any                    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// Read checks that k can verify signatures under one of algs and returns
// it. A key meant for another use, a symmetric key, a key whose alg does
// not fit its type or is not among algs is refused. A key without alg gets
// the one configured algorithm that fits it (Alg stays "" when several
// do). strict (the gateway's own keys) also requires kid and alg.
func Read(k jwk.Key, algs []jwa.SignatureAlgorithm, strict bool) (Key, error) {
	if use := k.KeyUsage(); use != "" && use != jwk.ForSignature.String() {
		return Key{}, fmt.Errorf("use %q is not sig", use)
	}
	if k.KeyType() == jwa.OctetSeq {
		return Key{}, errors.New("symmetric keys are never accepted")
	}
	raw, err := jwk.PublicRawKeyOf(k)
	if err != nil {
		return Key{}, fmt.Errorf("public key: %w", err)
	}
	key := Key{KID: k.KeyID(), Raw: raw}
	if strict && key.KID == "" {
		return Key{}, errors.New("no kid")
	}
	if a := k.Algorithm().String(); a != "" {
		alg := jwa.SignatureAlgorithm(a)
		if err := Pairs(alg, raw); err != nil {
			return Key{}, err
		}
		if len(algs) > 0 && !slices.Contains(algs, alg) {
			return Key{}, fmt.Errorf("alg %s is not configured for the issuer", alg)
		}
		key.Alg = alg
		return key, nil
	}
	if strict {
		return Key{}, errors.New("no alg")
	}
	var fit []jwa.SignatureAlgorithm
	for _, a := range algs {
		if Pairs(a, raw) == nil {
			fit = append(fit, a)
		}
	}
	switch len(fit) {
	case 0:
		return Key{}, fmt.Errorf("no configured algorithm fits a %s key", k.KeyType())
	case 1:
		key.Alg = fit[0]
	}
	return key, nil
}

// Pairs reports whether raw is a key alg can verify with: the right type,
// curve and size.
func Pairs(alg jwa.SignatureAlgorithm, raw any) error {
	switch alg {
	case jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512:
		k, ok := raw.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an RSA key, not %T", alg, raw)
		}
		if k.N == nil || k.N.BitLen() < MinRSABits {
			return fmt.Errorf("%s needs an RSA key of at least %d bits", alg, MinRSABits)
		}
		return nil
	case jwa.ES256, jwa.ES384, jwa.ES512:
		k, ok := raw.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s needs an EC key, not %T", alg, raw)
		}
		want := elliptic.P256()
		switch alg {
		case jwa.ES384:
			want = elliptic.P384()
		case jwa.ES512:
			want = elliptic.P521()
		}
		if k.Curve != want {
			return fmt.Errorf("%s needs curve %s", alg, want.Params().Name)
		}
		return nil
	case jwa.EdDSA:
		if _, ok := raw.(ed25519.PublicKey); !ok {
			return fmt.Errorf("EdDSA needs an Ed25519 key, not %T", raw)
		}
		return nil
	default:
		return fmt.Errorf("algorithm %q is not accepted", alg)
	}
}

// CheckSet checks a JWK set document as a trusted issuer's inline key set
// is used: it must parse, and at least one of its keys must be usable
// under the algorithm names (Read, not strict). The error says why each
// key was refused.
func CheckSet(doc string, algNames []string) error {
	algs, err := ParseAlgorithms(algNames)
	if err != nil {
		return err
	}
	set, err := jwk.ParseString(doc)
	if err != nil {
		return fmt.Errorf("not a usable JWK set: %w", err)
	}
	var why []string
	for i := range set.Len() {
		k, ok := set.Key(i)
		if !ok {
			continue
		}
		if _, err := Read(k, algs, false); err != nil {
			why = append(why, fmt.Sprintf("key %d (kid %q): %v", i, k.KeyID(), err))
			continue
		}
		return nil
	}
	if len(why) == 0 {
		return errors.New("no usable signing keys: the set is empty")
	}
	return fmt.Errorf("no usable signing keys for algorithms %s: %s", joinAlgs(algs), strings.Join(why, "; "))
}

func joinAlgs(algs []jwa.SignatureAlgorithm) string {
	s := make([]string, len(algs))
	for i, a := range algs {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
