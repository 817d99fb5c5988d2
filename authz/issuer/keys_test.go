package issuer_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/clearance-gw/clearance/authz/signing"
	"github.com/clearance-gw/clearance/authz/store/sqlite"
	"github.com/clearance-gw/clearance/config"
)

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestParseKEK(t *testing.T) {
	good := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"32 bytes of standard base64", good, true},
		{"with a trailing newline", good + "\n", true},
		{"empty", "", false},
		{"16 bytes", base64.StdEncoding.EncodeToString(make([]byte, 16)), false},
		{"33 bytes", base64.StdEncoding.EncodeToString(make([]byte, 33)), false},
		{"base64url alphabet", base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32)), false},
		{"not base64", "this is not base64 at all!!", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := signing.ParseKEK(tt.in)
			if tt.ok != (err == nil) {
				t.Fatalf("ParseKEK = %v", err)
			}
			if tt.ok && len(k) != 32 {
				t.Fatalf("len = %d", len(k))
			}
			if !tt.ok && strings.Contains(err.Error(), tt.in) && tt.in != "" {
				t.Error("the error echoes the key")
			}
		})
	}
}

func TestKeysAreGeneratedOnceAndSealed(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			fx := newFixture(t, withConfig(func(c *config.Config) { c.Tokens.Alg = alg }))
			keys, err := fx.st.ListSigningKeys(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || keys[0].Alg != alg || keys[0].ID != fx.keys.SigningKeyID() {
				t.Fatalf("stored keys = %+v", keys)
			}
			// The stored private key is sealed: it is not a JWK or DER of the key.
			if json.Valid(keys[0].PrivateSealed) || len(keys[0].PrivateSealed) < 32 {
				t.Error("private key stored in the clear")
			}
			pub, err := jwk.ParseKey(keys[0].PublicJWK)
			if err != nil {
				t.Fatal(err)
			}
			if isPrivate(pub) || pub.KeyID() != keys[0].ID {
				t.Error("public JWK holds private material")
			}
			if got := fx.keys.Algorithms(); len(got) != 1 || got[0] != alg {
				t.Errorf("Algorithms = %v", got)
			}
		})
	}
}

func isPrivate(k jwk.Key) bool {
	b, _ := json.Marshal(k)
	return strings.Contains(string(b), `"d":`)
}

func TestRestartKeepsClientsUsersSessionsAndKeys(t *testing.T) {
	fx := newFixture(t)
	auth := []string{"Authorization", basic("app", appSecret)}
	r := fx.form(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}}, auth...)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	kid := fx.keys.SigningKeyID()
	before := fx.verify(r.str("access_token"))

	fx.restart()

	if fx.keys.SigningKeyID() != kid {
		t.Errorf("kid after restart = %q, want %q", fx.keys.SigningKeyID(), kid)
	}
	fx.verify(r.str("access_token")) // the old token still verifies against the new JWKS
	if fx.activeSessions() != 1 {
		t.Errorf("sessions after restart = %d", fx.activeSessions())
	}
	n := fx.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}, auth...)
	if n.status != 200 {
		t.Fatalf("refresh after restart: %d %s", n.status, n.raw)
	}
	if claim(fx.verify(n.str("access_token")), "sid") != claim(before, "sid") {
		t.Error("the session changed across the restart")
	}
	// The revocation of the old access token survived too (read back from the store).
	if !tokenRevoked(fx.revs, before) {
		t.Error("old access token not revoked")
	}
	fx.restart()
	if !tokenRevoked(fx.revs, before) {
		t.Error("revocation lost across a restart")
	}
}

func TestWrongKEKIsAClearError(t *testing.T) {
	fx := newFixture(t)
	fx.stop()
	fx.kek = make([]byte, signing.KEKSize)
	st := openStore(t, fx.path)
	ko := signing.KeyringOptionsFor(fx.cfg, fx.kek)
	_, err := signing.NewKeyring(context.Background(), st, ko)
	if !errors.Is(err, signing.ErrWrongKEK) || !strings.Contains(err.Error(), "CLEARANCE_KEY_ENCRYPTION_KEY") {
		t.Fatalf("err = %v, want ErrWrongKEK naming the variable", err)
	}
	if _, err := signing.NewKeyring(context.Background(), st, signing.KeyringOptions{KEK: []byte("short")}); err == nil {
		t.Error("a short KEK was accepted")
	}
	if _, err := signing.NewKeyring(context.Background(), st, signing.KeyringOptions{KEK: fx.kek, Alg: "HS256"}); err == nil {
		t.Error("HS256 was accepted")
	}
}

func TestRotationPublishesAtOnceAndDropsAfterTheLongestLifetime(t *testing.T) {
	fx := newFixture(t)
	var published [][]string
	fx.keys.OnChange(func(s jwk.Set) { published = append(published, kids(s)) })
	oldKID := fx.keys.SigningKeyID()
	old := fx.form(url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic("backend", backendSecret))

	if err := fx.keys.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	newKID := fx.keys.SigningKeyID()
	if newKID == oldKID {
		t.Fatal("Rotate did not change the signing key")
	}
	if got := kids(fx.keys.PublicSet()); len(got) != 2 {
		t.Fatalf("published after rotate = %v, want both keys", got)
	}
	fx.verify(old.str("access_token")) // the old key still verifies
	nt := fx.form(url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic("backend", backendSecret))
	if got := kidOf(t, fx.verify(nt.str("access_token")), nt.str("access_token")); got != newKID {
		t.Errorf("new token kid = %q, want %q", got, newKID)
	}

	// The old key stays published for a2a_ttl + leeway.
	keep := signing.MaxTokenLifetime(fx.cfg)
	if keep != 8760*time.Hour+30*time.Second {
		t.Fatalf("MaxTokenLifetime = %v", keep)
	}
	for _, step := range []struct {
		advance time.Duration
		want    int
	}{{keep - time.Second, 2}, {time.Second, 1}} {
		fx.clock.Advance(step.advance)
		if err := fx.keys.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := kids(fx.keys.PublicSet()); len(got) != step.want {
			t.Errorf("published keys = %v, want %d", got, step.want)
		}
	}
	if got := kids(fx.keys.PublicSet()); len(got) != 1 || got[0] != newKID {
		t.Errorf("published = %v, want only %s", got, newKID)
	}
	if len(published) != 3 {
		t.Errorf("OnChange calls = %v, want initial, rotate, drop", published)
	}
}

func TestReloadSeesAnotherInstancesRotation(t *testing.T) {
	fx := newFixture(t)
	ko := signing.KeyringOptionsFor(fx.cfg, fx.kek)
	ko.Now = fx.clock.Now
	other, err := signing.NewKeyring(context.Background(), fx.st, ko)
	if err != nil {
		t.Fatal(err)
	}
	if other.SigningKeyID() != fx.keys.SigningKeyID() {
		t.Fatal("a second instance generated its own key")
	}
	if err := other.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	changed := 0
	fx.keys.OnChange(func(jwk.Set) { changed++ })
	if err := fx.keys.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fx.keys.SigningKeyID() != other.SigningKeyID() || changed != 2 {
		t.Errorf("after reload kid %q (want %q), OnChange calls %d", fx.keys.SigningKeyID(), other.SigningKeyID(), changed)
	}
}

func TestChangingTheAlgorithmRotates(t *testing.T) {
	fx := newFixture(t)
	oldKID := fx.keys.SigningKeyID()
	fx.cfg.Tokens.Alg = "EdDSA"
	fx.restart()
	if fx.keys.SigningKeyID() == oldKID {
		t.Fatal("the key did not change with the algorithm")
	}
	r := fx.form(url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic("backend", backendSecret))
	fx.verify(r.str("access_token"))
	if got := len(kids(fx.keys.PublicSet())); got != 2 {
		t.Errorf("published %d keys, want the ES256 one kept", got)
	}
}

func kidOf(t *testing.T, _ jwt.Token, raw string) string {
	msg, err := jws.ParseString(raw)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Signatures()[0].ProtectedHeaders().KeyID()
}

func kids(s jwk.Set) []string {
	var out []string
	for i := range s.Len() {
		k, _ := s.Key(i)
		out = append(out, k.KeyID())
	}
	return out
}

// TestRotationPublishesBeforeSigning: with an activation delay, a rotated-in
// key is published at once on every instance but signs only after the
// delay, so no instance ever sees a token signed by a key it has not loaded.
func TestRotationPublishesBeforeSigning(t *testing.T) {
	fx := newFixture(t)
	const activation = 2 * time.Second
	ko := signing.KeyringOptionsFor(fx.cfg, fx.kek)
	ko.Now, ko.Activation = fx.clock.Now, activation
	a, err := signing.NewKeyring(context.Background(), fx.st, ko)
	if err != nil {
		t.Fatal(err)
	}
	b, err := signing.NewKeyring(context.Background(), fx.st, ko)
	if err != nil {
		t.Fatal(err)
	}
	oldKID := a.SigningKeyID()
	if err := a.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, k := range []*signing.Keyring{a, b} {
		if got := kids(k.PublicSet()); len(got) != 2 {
			t.Fatalf("published right after rotate = %v, want both keys", got)
		}
		if k.SigningKeyID() != oldKID {
			t.Fatalf("signing with %q before the activation delay, want the old %q", k.SigningKeyID(), oldKID)
		}
	}
	newKID := kids(a.PublicSet())
	for _, step := range []struct {
		advance  time.Duration
		oldSigns bool
	}{{activation - time.Second, true}, {time.Second, false}} {
		fx.clock.Advance(step.advance)
		for _, k := range []*signing.Keyring{a, b} {
			if err := k.Reload(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := k.SigningKeyID() == oldKID; got != step.oldSigns {
				t.Errorf("after %v: old key signs = %v, want %v (published %v)", step.advance, got, step.oldSigns, newKID)
			}
		}
	}
	if got := kids(a.PublicSet()); len(got) != 2 {
		t.Errorf("the retired key must stay published: %v", got)
	}
}
