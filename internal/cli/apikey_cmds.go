package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/clearance-gw/clearance/authz/service"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

func runAPIKeyCreate(ctx context.Context, c *cmdContext) error {
	fs := c.flags("--name NAME [--json]", `
Makes an admin API key: what your own systems (signup, billing, support
tools) send as "Authorization: Bearer KEY" to the admin API under
/admin/api/v1 on the admin listener. The key is printed exactly once; only
a hash of it is stored, shared by every gateway on the store. Revoke it
with "clearance apikey revoke NAME".

Example:
  clearance apikey create --name billing`)
	name := fs.String("name", "", "a name for the key (lower-case letters, digits, dashes): who uses it")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(0, 0); err != nil {
		return err
	}
	return c.withStore(ctx, func(cfg *config.Config, st store.Store) error {
		key, err := c.commandService(cfg, st).CreateAPIKey(ctx, *name)
		if err != nil {
			if v, ok := errors.AsType[*service.ValidationError](err); ok {
				return fmt.Errorf("--%s", v.Error())
			}
			return err
		}
		if *asJSON {
			return c.printJSON(map[string]string{"name": *name, "key": key})
		}
		fmt.Fprintf(c.env.Stdout, "Admin API key %q created:\n  %s\n\nKeep it now: only a hash of it is stored, so it cannot be shown again.\n", *name, key)
		return nil
	})
}

func runAPIKeyList(ctx context.Context, c *cmdContext) error {
	fs := c.flags("[--json]", "Lists the admin API keys by name (never the keys: only hashes are stored).")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(0, 0); err != nil {
		return err
	}
	return c.withStore(ctx, func(cfg *config.Config, st store.Store) error {
		keys, err := c.commandService(cfg, st).ListAPIKeys(ctx)
		if err != nil {
			return err
		}
		type keyJSON struct {
			Name      string `json:"name"`
			CreatedAt string `json:"created_at"`
		}
		out := make([]keyJSON, 0, len(keys))
		for _, k := range keys {
			out = append(out, keyJSON{k.Name, k.CreatedAt.UTC().Format(time.RFC3339)})
		}
		if *asJSON {
			return c.printJSON(out)
		}
		c.table("NAME\tCREATED", func(w io.Writer) {
			for _, k := range out {
				fmt.Fprintf(w, "%s\t%s\n", k.Name, k.CreatedAt)
			}
		})
		return nil
	})
}

func runAPIKeyRevoke(ctx context.Context, c *cmdContext) error {
	fs := c.flags("NAME [--json]", `
Revokes an admin API key: every gateway refuses it from the next request
(each request checks the key set in the store).`)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(1, 1); err != nil {
		return err
	}
	name := c.positional[0]
	return c.withStore(ctx, func(cfg *config.Config, st store.Store) error {
		err := c.commandService(cfg, st).RevokeAPIKey(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no admin API key named %q", name)
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return c.printJSON(map[string]any{"name": name, "revoked": true})
		}
		fmt.Fprintf(c.env.Stdout, "Admin API key %q revoked.\n", name)
		return nil
	})
}
