package signing

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/clearance-gw/clearance/authz/store"
)

// memKeys is a KeyStore in memory.
type memKeys struct {
	mu   sync.Mutex
	keys []store.SigningKey
}

func (m *memKeys) AddSigningKey(_ context.Context, k store.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = append(m.keys, k)
	return nil
}

func (m *memKeys) ListSigningKeys(context.Context) ([]store.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]store.SigningKey(nil), m.keys...), nil
}

func (m *memKeys) RetireSigningKey(_ context.Context, kid string, retiredAt, dropAfter time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if m.keys[i].ID == kid {
			m.keys[i].RetiredAt, m.keys[i].DropAfter = retiredAt, dropAfter
		}
	}
	return nil
}

func newTestKeyring(t *testing.T, alg string) *Keyring {
	t.Helper()
	kek := make([]byte, KEKSize)
	rand.Read(kek)
	k, err := NewKeyring(t.Context(), &memKeys{}, KeyringOptions{Alg: alg, KEK: kek, Retain: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// SignClaims makes the token jwx makes of the same claims: the same
// header and payload bytes (and, for the deterministic RS256 and EdDSA,
// the same signature), verifiable with the published key.
func TestSignClaimsIsWhatJWXSigns(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			k := newTestKeyring(t, alg)
			tok, err := jwt.NewBuilder().Issuer("https://gw.example/<&>").Subject("alice é").
				Audience([]string{"https://api.example"}).IssuedAt(time.Unix(1700000000, 0)).
				Expiration(time.Unix(1700003600, 0)).JwtID("jti-1").Claim("scope", "user fmsdata").Build()
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.Sign(tok)
			if err != nil {
				t.Fatal(err)
			}

			st := k.state.Load()
			h := jws.NewHeaders()
			h.Set(jws.TypeKey, "at+jwt")
			h.Set(jws.KeyIDKey, st.kid)
			want, err := jwt.Sign(tok, jwt.WithKey(st.alg, st.signer, jws.WithProtectedHeaders(h)))
			if err != nil {
				t.Fatal(err)
			}
			g, w := strings.Split(string(got), "."), strings.Split(string(want), ".")
			if len(g) != 3 || g[0] != w[0] || g[1] != w[1] {
				t.Fatalf("token\n%s\njwx's\n%s", got, want)
			}
			if alg != "ES256" && g[2] != w[2] {
				t.Fatalf("signature %s, jwx's %s", g[2], w[2])
			}
			msg, err := jws.Verify(got, jws.WithKeySet(k.PublicSet(), jws.WithRequireKid(true)))
			if err != nil {
				t.Fatalf("verify with the published keys: %v", err)
			}
			if claims, _ := json.Marshal(tok); string(msg) != string(claims) {
				t.Fatalf("payload %s", msg)
			}
			parsed, err := jws.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			ph := parsed.Signatures()[0].ProtectedHeaders()
			if ph.Algorithm() != jwa.SignatureAlgorithm(alg) || ph.KeyID() != st.kid || ph.Type() != "at+jwt" {
				t.Fatalf("header %v %v %v", ph.Algorithm(), ph.KeyID(), ph.Type())
			}
		})
	}
}
