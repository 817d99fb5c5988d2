package issuer

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/clearance-gw/clearance/authz/claims"
	"github.com/clearance-gw/clearance/config"
)

// jwxClaims encodes a's claims the way mint did before it wrote them
// itself: a jwx token, JSON-encoded. It is the reference appendClaims must
// match byte for byte.
func jwxClaims(t *testing.T, cfg *config.Config, a *accessToken) []byte {
	t.Helper()
	b := jwt.NewBuilder().
		Issuer(cfg.Issuer).
		Subject(a.subject).
		Audience([]string{cfg.Tokens.Audience}).
		IssuedAt(a.issuedAt).
		Expiration(a.expiresAt).
		JwtID(a.jti).
		Claim("client_id", a.clientID).
		Claim("scope", a.scope)
	if a.sessionID != "" {
		b = b.Claim("sid", a.sessionID)
	}
	if a.sessionGen > 0 {
		b = b.Claim(claims.SessionGen, a.sessionGen)
	}
	if a.actor != "" {
		b = b.Claim("act", map[string]string{"sub": a.actor})
	}
	if !a.clientCreated.IsZero() {
		b = b.Claim(claims.ClientCreated, a.clientCreated.UnixMicro())
	}
	if !a.userCreated.IsZero() {
		b = b.Claim(claims.UserCreated, a.userCreated.UnixMicro())
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The claims mint writes are the bytes jwx wrote for every shape of token
// the grants mint.
func TestAppendClaimsIsWhatJWXWrites(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	created := time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC)
	plain := &config.Config{Issuer: "https://gw.example", Tokens: config.Tokens{Audience: "https://api.example"}}
	odd := &config.Config{Issuer: "https://gw.example/a?b=<c>&d=\"e\"", Tokens: config.Tokens{Audience: ""}}
	for name, c := range map[string]struct {
		cfg *config.Config
		a   accessToken
	}{
		"client_credentials": {plain, accessToken{jti: "j1", clientID: "backend", subject: "backend", scope: "user fmsdata",
			issuedAt: now, expiresAt: now.Add(time.Hour), clientCreated: created}},
		"client declared in the config": {plain, accessToken{jti: "j1", clientID: "backend", subject: "backend", scope: "",
			issuedAt: now, expiresAt: now.Add(time.Hour)}},
		"session": {plain, accessToken{jti: "j2", clientID: "app", subject: "alice", scope: "user", sessionID: "s1", sessionGen: 7,
			issuedAt: now, expiresAt: now.Add(8 * time.Hour), clientCreated: created, userCreated: created.Add(time.Second)}},
		"admin": {plain, accessToken{jti: "j3", clientID: "app", subject: "alice", scope: "user", sessionID: "s2", sessionGen: 1,
			actor: "root", issuedAt: now, expiresAt: now.Add(time.Minute), clientCreated: created, userCreated: created}},
		"user only": {plain, accessToken{jti: "j4", clientID: "app", subject: "bob", scope: "user",
			issuedAt: now, expiresAt: now.Add(time.Minute), userCreated: created}},
		"strings to escape": {odd, accessToken{jti: "j5", clientID: "my client <1>", subject: "émile \"the\" user\n", scope: "a&b",
			actor: "ro\\ot\u2028", sessionID: "s\x01", issuedAt: now, expiresAt: now.Add(time.Hour), clientCreated: created}},
		"times not on a second": {plain, accessToken{jti: "j6", clientID: "c", subject: "c", scope: "user",
			issuedAt: now.Add(900 * time.Millisecond), expiresAt: now.Add(time.Hour + 100*time.Millisecond)}},
	} {
		t.Run(name, func(t *testing.T) {
			got := appendClaims(nil, c.cfg, &c.a)
			if want := jwxClaims(t, c.cfg, &c.a); string(got) != string(want) {
				t.Fatalf("claims\n%s\njwx's\n%s", got, want)
			}
		})
	}
}
