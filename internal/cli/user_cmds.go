package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/service"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// userJSON is a user as the commands print it: never the password hash.
type userJSON struct {
	Name      string   `json:"name"`
	Admin     bool     `json:"admin"`
	Scopes    []string `json:"scopes"`
	Plan      string   `json:"plan,omitempty"`
	CreatedAt string   `json:"created_at"`
}

func toUserJSON(u store.User) userJSON {
	return userJSON{Name: u.Name, Admin: u.Admin, Scopes: nonNil(u.Scopes), Plan: u.Plan, CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339)}
}

func runUserUpdate(ctx context.Context, c *cmdContext) error {
	fs := c.flags("NAME [--scope S]... [--clear-scopes] [--plan P] [--password-stdin] [--json]", `
Changes a user's entitlements or password. --scope replaces the scopes the
user's portal clients may be given beyond the config's portal.scopes;
--clear-scopes empties that list. --plan puts the user's clients that have
no plan of their own on one of the config's plans (--plan "" back on
default_plan); running gateways apply it within a second. --password-stdin
sets a new password read from standard input (one line), never from the
command line:
  printf '%s\n' "$NEW_PASSWORD" | clearance user update alice --password-stdin
A flag not given leaves its value as it is.

The token endpoint reads entitlements at every issuance: the user's portal
clients stop getting a scope taken away here from their next token on
(refreshed ones included).`)
	var scopes stringList
	fs.Var(&scopes, "scope", "scope the user's portal clients may be given beyond portal.scopes (repeatable; replaces the list)")
	clearScopes := fs.Bool("clear-scopes", false, "the user's portal clients get portal.scopes only")
	var plan optString
	fs.Var(&plan, "plan", `plan of the user's clients (one of the config's plans; "" for default_plan)`)
	passwordStdin := fs.Bool("password-stdin", false, "set a new password, read from standard input (one line)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(1, 1); err != nil {
		return err
	}
	name := c.positional[0]
	switch {
	case *clearScopes && len(scopes) > 0:
		return errors.New("--scope and --clear-scopes cannot be given together")
	case !*clearScopes && len(scopes) == 0 && !plan.set && !*passwordStdin:
		return errors.New("nothing to change: give --scope, --clear-scopes, --plan or --password-stdin")
	}
	var password *string
	if *passwordStdin {
		pw, err := c.readPassword()
		if err != nil {
			return err
		}
		password = &pw
	}
	return c.withStore(ctx, func(cfg *config.Config, st store.Store) error {
		change := service.UserChange{Password: password}
		if *clearScopes || len(scopes) > 0 {
			list := []string(scopes)
			change.Scopes = &list
		}
		if plan.set {
			change.Plan = &plan.v
		}
		u, err := c.commandService(cfg, st).UpdateUser(ctx, name, change)
		if err != nil {
			return notFound(err, "no user named %q", name)
		}
		entitled := u.Scopes
		if *asJSON {
			return c.printJSON(toUserJSON(u))
		}
		if password != nil && change.Scopes == nil && change.Plan == nil {
			fmt.Fprintf(c.env.Stdout, "User %q updated; new password set.\n", name)
			return nil
		}
		list := strings.Join(entitled, " ")
		if list == "" {
			list = "none beyond portal.scopes"
		}
		pl := u.Plan
		if pl == "" {
			pl = "default"
		}
		fmt.Fprintf(c.env.Stdout, "User %q updated; scopes: %s; plan: %s.\n", name, list, pl)
		return nil
	})
}

func runUserList(ctx context.Context, c *cmdContext) error {
	fs := c.flags("[--json]", "Lists login users with their entitlements (never their password hashes).")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(0, 0); err != nil {
		return err
	}
	return c.withStore(ctx, func(_ *config.Config, st store.Store) error {
		users, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		out := make([]userJSON, 0, len(users))
		for _, u := range users {
			out = append(out, toUserJSON(u))
		}
		if *asJSON {
			return c.printJSON(out)
		}
		c.table("NAME\tADMIN\tSCOPES\tPLAN\tCREATED", func(w io.Writer) {
			for _, u := range out {
				fmt.Fprintf(w, "%s\t%v\t%s\t%s\t%s\n", u.Name, u.Admin, strings.Join(u.Scopes, " "), u.Plan, u.CreatedAt)
			}
		})
		return nil
	})
}

// optString is a string flag that remembers whether it was given, so
// that "--plan ”" (back to the default) differs from no --plan.
type optString struct {
	v   string
	set bool
}

func (o *optString) String() string     { return o.v }
func (o *optString) Set(v string) error { o.v, o.set = v, true; return nil }

// readPassword reads one line of standard input as a password (the
// newline, and a carriage return before it, are not part of it).
func (c *cmdContext) readPassword() (string, error) {
	line, err := bufio.NewReader(io.LimitReader(c.env.Stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
