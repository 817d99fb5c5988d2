package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/issuer"
	"github.com/clearance-gw/clearance/authz/service"
	"github.com/clearance-gw/clearance/authz/signing"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

type keyJSON struct {
	KID       string          `json:"kid"`
	Alg       string          `json:"alg"`
	State     string          `json:"state"` // signing, retiring, retired (still published), dropped
	CreatedAt string          `json:"created_at"`
	RetiredAt string          `json:"retired_at,omitempty"`
	DropAfter string          `json:"published_until,omitempty"`
	PublicJWK json.RawMessage `json:"public_jwk"`
}

func runKeysList(ctx context.Context, c *cmdContext) error {
	fs := c.flags("[--json]", `
Lists the keys that sign access tokens. The newest key signs; a retired key
stays published in /.well-known/jwks.json until every token it signed has
expired, so clients and other gateways can still verify those tokens.

States:
  signing    signs new tokens (a key just made by "keys rotate" shows this
             at once and signs from the time "keys rotate" printed)
  retiring   the previous key, still signing for the two seconds until its
             successor takes over
  retired    signs no more; its public key stays published until PUBLISHED
             UNTIL, so the tokens it signed still verify
  dropped    past PUBLISHED UNTIL: no longer published (every token it
             signed has expired)`)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(0, 0); err != nil {
		return err
	}
	return c.withStore(ctx, func(_ *config.Config, st store.Store) error {
		keys, err := st.ListSigningKeys(ctx)
		if err != nil {
			return err
		}
		now := c.env.Now()
		out := make([]keyJSON, 0, len(keys))
		for _, k := range keys {
			j := keyJSON{KID: k.ID, Alg: k.Alg, State: "signing", CreatedAt: k.CreatedAt.UTC().Format(time.RFC3339), PublicJWK: k.PublicJWK}
			if !k.RetiredAt.IsZero() {
				j.State = "retired"
				if now.Before(k.RetiredAt) {
					j.State = "retiring" // signs until retired_at, while its successor is published
				}
				j.RetiredAt = k.RetiredAt.UTC().Format(time.RFC3339)
				j.DropAfter = k.DropAfter.UTC().Format(time.RFC3339)
				if now.After(k.DropAfter) {
					j.State = "dropped"
				}
			}
			out = append(out, j)
		}
		if *asJSON {
			return c.printJSON(out)
		}
		c.table("KID\tALG\tSTATE\tCREATED\tPUBLISHED UNTIL", func(w io.Writer) {
			for _, k := range out {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.State, k.CreatedAt, k.DropAfter)
			}
		})
		return nil
	})
}

func runKeysRotate(ctx context.Context, c *cmdContext) error {
	fs := c.flags("[--json]", `
Makes a new signing key (of tokens.alg) and retires the current one. The new
public key is published at once, and running gateways start signing with it
two seconds later, so every gateway and JWKS cache knows it before the first
token it signs. The old public key stays published until every token it
signed has expired (the longest token lifetime, an a2a token's by default).`)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(0, 0); err != nil {
		return err
	}
	return c.withStore(ctx, func(cfg *config.Config, st store.Store) error {
		logger := c.logger()
		keys, err := c.keyring(ctx, cfg, st, logger)
		if err != nil {
			return err
		}
		svc := service.New(st, service.Options{Config: func() *config.Config { return cfg }, Now: c.env.Now, Keys: keys})
		old, newKID, from, err := svc.RotateKeys(ctx)
		if err != nil {
			return err
		}
		signsFrom := from.UTC().Format(time.RFC3339)
		if *asJSON {
			return c.printJSON(map[string]string{"retired_kid": old, "signing_kid": newKID, "signs_from": signsFrom})
		}
		fmt.Fprintf(c.env.Stdout, "New signing key %s signs from %s; %s signs until then and stays published until its tokens expire.\n", newKID, signsFrom, old)
		return nil
	})
}

func runTokenA2A(ctx context.Context, c *cmdContext) error {
	fs := c.flags("--client ID --user NAME [--json]", `
Mints an application-to-application (a2a) token: a long-lived access token
(tokens.a2a_ttl, one year by default) that a client uses for one user without
any login flow. It is printed once and has no refresh token; it is listed
under "clearance sessions list --client ID" and can be revoked there.

An a2a token is only ever made for a client that has the a2a grant enabled
("clearance client create --grant a2a", or "clearance client update"); the
client need not be first-party (the token endpoint's a2a grant, where the
app sends the user's password, is for first-party clients only).`)
	client := fs.String("client", "", "client id")
	user := fs.String("user", "", "user the token acts for")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(0, 0); err != nil {
		return err
	}
	if *client == "" || *user == "" {
		return fmt.Errorf("--client and --user are required")
	}
	return c.withStore(ctx, func(cfg *config.Config, st store.Store) error {
		if _, err := st.GetClient(ctx, *client); err != nil {
			return notFound(err, "no client with id %q", *client)
		}
		if _, err := st.GetUser(ctx, *user); err != nil {
			return notFound(err, "no user named %q", *user)
		}
		logger := c.logger()
		keys, err := c.keyring(ctx, cfg, st, logger)
		if err != nil {
			return err
		}
		iss, err := issuer.New(cfg, st, keys, issuer.Options{Now: c.env.Now, Logger: logger})
		if err != nil {
			return err
		}
		tok, err := iss.MintA2A(ctx, *client, *user, "cli")
		if e, ok := errors.AsType[*issuer.A2ANotEnabledError](err); ok {
			return fmt.Errorf("client %q does not have the a2a grant: enable it with \"%s\"", e.ClientID,
				c.clientUpdateGrants(e.ClientID, append(slices.Clone(e.Grants), config.GrantA2A)))
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return c.printJSON(map[string]any{
				"access_token": tok.AccessToken, "token_type": "Bearer",
				"expires_in": int64(tok.ExpiresAt.Sub(c.env.Now()).Seconds()),
				"scope":      tok.Scope, "session_id": tok.SessionID,
			})
		}
		fmt.Fprintf(c.env.Stdout, "%s\n", tok.AccessToken)
		fmt.Fprintf(c.env.Stderr, "a2a token for %s via %s, scope %q, session %s, expires %s; it is shown only now.\n",
			*user, *client, tok.Scope, tok.SessionID, tok.ExpiresAt.UTC().Format(time.RFC3339))
		return nil
	})
}

// keyring opens the store's signing keys for a one-off command.
func (c *cmdContext) keyring(ctx context.Context, cfg *config.Config, st store.Store, logger *slog.Logger) (*signing.Keyring, error) {
	kek, err := loadKEK(cfg, c.env, logger)
	if err != nil {
		return nil, err
	}
	return openKeys(ctx, cfg, st, kek, c.env, logger)
}

// clientUpdateGrants is the command that sets a client's grants to grants,
// as the user would type it (with --config when it is not the default).
func (c *cmdContext) clientUpdateGrants(id string, grants []string) string {
	var b strings.Builder
	b.WriteString("clearance client update " + shellWord(id))
	for _, g := range grants {
		b.WriteString(" --grant " + shellWord(g))
	}
	if c.configPath != "gateway.yaml" {
		b.WriteString(" --config " + shellWord(c.configPath))
	}
	return b.String()
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
