package testissuer

import (
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// fetchSet reads the issuer's JWKS over HTTP.
func fetchSet(t *testing.T, iss *Issuer) jwk.Set {
	t.Helper()
	res, err := http.Get(iss.JWKSURL + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	set, err := jwk.Parse(b)
	if err != nil {
		t.Fatalf("JWKS %s: %v", b, err)
	}
	return set
}

func TestMintedTokenVerifiesWithThePublishedSet(t *testing.T) {
	iss := New(t, "kid-7")
	set := fetchSet(t, iss)
	if set.Len() != 1 {
		t.Fatalf("%d keys published", set.Len())
	}
	k, _ := set.Key(0)
	if k.KeyID() != "kid-7" || k.Algorithm().String() != "EdDSA" {
		t.Fatalf("published key kid %q alg %q", k.KeyID(), k.Algorithm())
	}
	if _, ok := k.Get("d"); ok {
		t.Fatal("the JWKS publishes the private key")
	}
	now := time.Now().Truncate(time.Second)
	raw := iss.Mint(t, map[string]any{"iss": iss.URL, "sub": "alice", "aud": []string{"api"},
		"iat": now, "exp": now.Add(time.Hour), "scope": "charts"})
	tok, err := jwt.Parse([]byte(raw), jwt.WithKeySet(set), jwt.WithAudience("api"), jwt.WithIssuer(iss.URL))
	if err != nil {
		t.Fatal(err)
	}
	if scope, _ := tok.Get("scope"); tok.Subject() != "alice" || scope != "charts" || !tok.Expiration().Equal(now.Add(time.Hour)) {
		t.Fatalf("claims sub %q scope %v exp %v", tok.Subject(), scope, tok.Expiration())
	}
	msg, err := jws.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if h.Type() != "at+jwt" || h.KeyID() != "kid-7" || h.Algorithm().String() != "EdDSA" {
		t.Fatalf("header typ %q kid %q alg %q", h.Type(), h.KeyID(), h.Algorithm())
	}
	if n := iss.Fetches(); n != 1 {
		t.Fatalf("Fetches() = %d after one fetch", n)
	}
}

func TestSignKeepsTheRawHeaderAndPayload(t *testing.T) {
	iss := New(t, "k1")
	header, payload := `{"alg":"EdDSA","kid":"k1","x":1}`, `{"sub":"a","sub":"b"}`
	raw := iss.Sign(t, header, payload)
	pub, err := jwk.PublicKeyOf(iss.Key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := jws.Verify([]byte(raw), jws.WithKey(pub.Algorithm(), pub))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != payload {
		t.Fatalf("payload %q, want %q", got, payload)
	}
	msg, err := jws.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if x, _ := msg.Signatures()[0].ProtectedHeaders().Get("x"); x != float64(1) {
		t.Fatalf("header x = %v", x)
	}
}

func TestMintRejectsAClaimOfTheWrongType(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Mint(ft, NewKey(t, "k"), map[string]any{"exp": struct{}{}})
	}()
	<-done
	if !ft.failed {
		t.Fatal("an exp of the wrong type was signed")
	}
}

// fatalRecorder records Fatal calls instead of failing the test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(string, ...any) { f.failed = true; runtime.Goexit() }

func (f *fatalRecorder) Fatal(...any) { f.failed = true; runtime.Goexit() }
