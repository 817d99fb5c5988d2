package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clearance-gw/clearance/authz/service"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// withStore loads the config and opens its store for one command.
func (c *cmdContext) withStore(ctx context.Context, fn func(cfg *config.Config, st store.Store) error) error {
	cfg, err := config.Load(c.configPath, c.env.LookupEnv)
	if err != nil {
		return err
	}
	st, err := openStoreLogged(ctx, cfg, c.logger())
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(cfg, st)
}

func (c *cmdContext) printJSON(v any) error {
	enc := json.NewEncoder(c.env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *cmdContext) table(header string, rows func(w io.Writer)) {
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	rows(tw)
	tw.Flush()
}

type clientJSON struct {
	ID             string   `json:"client_id"`
	Name           string   `json:"name"`
	Grants         []string `json:"grants"`
	Scopes         []string `json:"scopes"`
	RedirectURIs   []string `json:"redirect_uris"`
	AllowedOrigins []string `json:"allowed_origins"`
	FirstParty     bool     `json:"first_party"`
	Public         bool     `json:"public"`
	Owner          string   `json:"owner,omitempty"`
	Plan           string   `json:"plan,omitempty"`
	AccessTTL      string   `json:"access_ttl,omitempty"`
	RefreshTTL     string   `json:"refresh_ttl,omitempty"`
	CreatedAt      string   `json:"created_at"`
}

func toClientJSON(cl store.Client) clientJSON {
	j := clientJSON{
		ID: cl.ID, Name: cl.Name, Grants: nonNil(cl.Grants), Scopes: nonNil(cl.Scopes),
		RedirectURIs: nonNil(cl.RedirectURIs), AllowedOrigins: nonNil(cl.AllowedOrigins),
		FirstParty: cl.FirstParty, Public: len(cl.SecretHash) == 0, Owner: cl.Owner, Plan: cl.Plan,
		CreatedAt: cl.CreatedAt.UTC().Format(time.RFC3339),
	}
	if cl.AccessTTL > 0 {
		j.AccessTTL = cl.AccessTTL.String()
	}
	if cl.RefreshTTL > 0 {
		j.RefreshTTL = cl.RefreshTTL.String()
	}
	return j
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func runClientCreate(ctx context.Context, c *cmdContext) error {
	fs := c.flags("--id ID --name NAME [--grant G]... [--scope S]... [--redirect-uri U]... [--origin O]... [--owner USER] [--plan P] [--first-party] [--public] [--json]", `
Registers an OAuth client: a program that will ask for tokens. Prints its
client secret exactly once; only a hash is stored, so keep it now.

Grants say how the client may get tokens:
  client_credentials   a backend calling the API for itself (id + secret)
  authorization_code   a web or mobile app acting for a user who logs in
  refresh_token        exchanging a refresh token for a new access token
  implicit             a browser page getting a token directly (legacy)
  password             first-party only: your own app sending the user's
                       password
  admin                first-party only: administrators acting for a user
  a2a                  application-to-application: long-lived tokens for one
                       user, made by "clearance token a2a" or the portal's
                       Create token; an a2a token is only ever made for a
                       client with this grant, and the token endpoint serves
                       it to first-party clients only

--plan puts the client on one of the config's plans (its rate, quota and
scopes); without it the client is on its owner's plan, else default_plan.

Example:
  clearance client create --id charts-backend --name "Charts backend" \
      --grant client_credentials --scope charts`)
	id := fs.String("id", "", "client id: lowercase letters, digits, dashes and spaces")
	name := fs.String("name", "", "human-readable name, shown on consent pages")
	var grants, scopes, redirects, origins stringList
	fs.Var(&grants, "grant", "grant the client may use (repeatable)")
	fs.Var(&scopes, "scope", "scope the client may request (repeatable)")
	fs.Var(&redirects, "redirect-uri", "exact redirect URI for browser flows (repeatable)")
	fs.Var(&origins, "origin", "allowed browser origin for CORS, scheme://host[:port] (repeatable)")
	owner := fs.String("owner", "", "portal user who owns the client")
	plan := fs.String("plan", "", "plan of the client (one of the config's plans); default: its owner's, else default_plan")
	firstParty := fs.Bool("first-party", false, "the client is your own application (allows password and admin, and a2a at the token endpoint)")
	public := fs.Bool("public", false, "no secret: a browser or mobile app that cannot keep one (PKCE required)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(0, 0); err != nil {
		return err
	}
	return c.withStore(ctx, func(cfg *config.Config, st store.Store) error {
		cl, sec, err := c.commandService(cfg, st).CreateClient(ctx, service.NewClient{
			ID: *id, Name: *name, Grants: grants, Scopes: scopes, RedirectURIs: redirects,
			AllowedOrigins: origins, FirstParty: *firstParty, Owner: *owner, Plan: *plan, Public: *public,
		})
		if err != nil {
			return inFlagWords(err)
		}
		if *asJSON {
			out := map[string]string{"client_id": cl.ID}
			if sec != "" {
				out["client_secret"] = sec
			}
			return c.printJSON(out)
		}
		fmt.Fprintf(c.env.Stdout, "Client %q created.\n  client_id:     %s\n", cl.ID, cl.ID)
		if sec != "" {
			fmt.Fprintf(c.env.Stdout, "  client_secret: %s\n\nKeep the secret now: only a hash of it is stored, so it cannot be shown again.\n", sec)
		} else {
			fmt.Fprintln(c.env.Stdout, "  (public client: no secret; it must use PKCE)")
		}
		return nil
	})
}

func runClientList(ctx context.Context, c *cmdContext) error {
	fs := c.flags("[--owner USER] [--json]", "Lists registered clients.")
	owner := fs.String("owner", "", "only the clients of this portal user")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(0, 0); err != nil {
		return err
	}
	return c.withStore(ctx, func(_ *config.Config, st store.Store) error {
		cls, err := st.ListClients(ctx, *owner)
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]clientJSON, 0, len(cls))
			for _, cl := range cls {
				out = append(out, toClientJSON(cl))
			}
			return c.printJSON(out)
		}
		c.table("CLIENT ID\tNAME\tGRANTS\tSCOPES\tOWNER", func(w io.Writer) {
			for _, cl := range cls {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", cl.ID, cl.Name, strings.Join(cl.Grants, ","), strings.Join(cl.Scopes, " "), cl.Owner)
			}
		})
		return nil
	})
}

func runClientShow(ctx context.Context, c *cmdContext) error {
	fs := c.flags("ID [--json]", "Shows one client (never its secret: only a hash is stored).")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(1, 1); err != nil {
		return err
	}
	return c.withStore(ctx, func(_ *config.Config, st store.Store) error {
		cl, err := st.GetClient(ctx, c.positional[0])
		if err != nil {
			return notFound(err, "no client with id %q", c.positional[0])
		}
		j := toClientJSON(cl)
		if *asJSON {
			return c.printJSON(j)
		}
		c.table("FIELD\tVALUE", func(w io.Writer) {
			fmt.Fprintf(w, "client_id\t%s\nname\t%s\ngrants\t%s\nscopes\t%s\nredirect_uris\t%s\nallowed_origins\t%s\nfirst_party\t%v\npublic\t%v\nowner\t%s\nplan\t%s\ncreated_at\t%s\n",
				j.ID, j.Name, strings.Join(j.Grants, " "), strings.Join(j.Scopes, " "), strings.Join(j.RedirectURIs, " "),
				strings.Join(j.AllowedOrigins, " "), j.FirstParty, j.Public, j.Owner, j.Plan, j.CreatedAt)
		})
		return nil
	})
}

func runClientUpdate(ctx context.Context, c *cmdContext) error {
	fs := c.flags("ID [--name NAME] [--grant G]... [--scope S]... [--redirect-uri U]... [--origin O]... [--plan P] [--first-party[=false]] [--json]", `
Changes a client's settings. A list flag given replaces that list (repeat it
for several values; give it once as "" to empty the list); a flag not given
leaves its value as it is. The client's secret does not change.

Example: enable application-to-application tokens for a backend:
  clearance client update charts-backend --grant client_credentials --grant a2a`)
	name := fs.String("name", "", "human-readable name, shown on consent pages")
	var grants, scopes, redirects, origins stringList
	fs.Var(&grants, "grant", "grant the client may use (repeatable; replaces the list)")
	fs.Var(&scopes, "scope", "scope the client may request (repeatable; replaces the list)")
	fs.Var(&redirects, "redirect-uri", "exact redirect URI for browser flows (repeatable; replaces the list)")
	fs.Var(&origins, "origin", "allowed browser origin for CORS (repeatable; replaces the list)")
	var plan optString
	fs.Var(&plan, "plan", `plan of the client (one of the config's plans; "" for its owner's, else default_plan)`)
	firstParty := fs.Bool("first-party", false, "the client is your own application (--first-party=false to clear)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(1, 1); err != nil {
		return err
	}
	id := c.positional[0]
	var change service.ClientChange
	list := func(l stringList) *[]string {
		out := []string{}
		for _, v := range l {
			if v != "" {
				out = append(out, v)
			}
		}
		return &out
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			change.Name = name
		case "grant":
			change.Grants = list(grants)
		case "scope":
			change.Scopes = list(scopes)
		case "redirect-uri":
			change.RedirectURIs = list(redirects)
		case "origin":
			change.AllowedOrigins = list(origins)
		case "plan":
			change.Plan = &plan.v
		case "first-party":
			change.FirstParty = firstParty
		}
	})
	if change == (service.ClientChange{}) {
		return errors.New("nothing to change: give --name, --grant, --scope, --redirect-uri, --origin, --plan or --first-party")
	}
	return c.withStore(ctx, func(cfg *config.Config, st store.Store) error {
		cl, err := c.commandService(cfg, st).UpdateClient(ctx, id, change)
		if err != nil {
			return inFlagWords(notFound(err, "no client with id %q", id))
		}
		if *asJSON {
			return c.printJSON(toClientJSON(cl))
		}
		fmt.Fprintf(c.env.Stdout, "Client %q updated; grants: %s; scopes: %s.\n", cl.ID,
			orNone(strings.Join(cl.Grants, " ")), orNone(strings.Join(cl.Scopes, " ")))
		return nil
	})
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func runClientDelete(ctx context.Context, c *cmdContext) error {
	fs := c.flags("ID [--json]", `
Deletes a client and revokes every token issued to it or through it: its
client_credentials tokens, application-to-application tokens and every
user's sessions. Running gateways refuse them within a second; a client
created later with the same id does not bring them back.`)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(1, 1); err != nil {
		return err
	}
	id := c.positional[0]
	return c.withStore(ctx, func(cfg *config.Config, st store.Store) error {
		err := c.commandService(cfg, st).DeleteClient(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no client with id %q", id)
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return c.printJSON(map[string]any{"client_id": id, "deleted": true})
		}
		fmt.Fprintf(c.env.Stdout, "Client %q deleted; every token issued to it or through it is revoked.\n", id)
		return nil
	})
}

func runUserDelete(ctx context.Context, c *cmdContext) error {
	fs := c.flags("NAME [--json]", `
Deletes a user with the clients they own and their subscriptions, and
revokes every token issued to them or through their clients: their
sessions on every client, their application-to-application tokens, their
clients' tokens. Running gateways refuse them within a second, and their
portal login ends at once.`)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(1, 1); err != nil {
		return err
	}
	name := c.positional[0]
	return c.withStore(ctx, func(cfg *config.Config, st store.Store) error {
		err := c.commandService(cfg, st).DeleteUser(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no user named %q", name)
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return c.printJSON(map[string]any{"user": name, "deleted": true})
		}
		fmt.Fprintf(c.env.Stdout, "User %q deleted with their clients; every token issued to them or through their clients is revoked.\n", name)
		return nil
	})
}

func runUserAdd(ctx context.Context, c *cmdContext) error {
	fs := c.flags("NAME [--admin] [--scope S]... [--plan P] [--json] < password", `
Creates a user who can log in to the developer portal and the login page of
browser flows. The password is read from standard input (one line), never
from the command line, where other users of the machine could see it:
  printf '%s\n' "$PASSWORD" | clearance user add alice

--scope entitles the user's portal clients to a scope beyond the config's
portal.scopes. --plan puts the user's clients (those without a plan of
their own) on one of the config's plans, whose scopes join the
entitlement; without it they are on default_plan. A user name cannot be a client's id (compared
case-insensitively): both appear as the sub of tokens.`)
	admin := fs.Bool("admin", false, "the user may obtain tokens for other users (admin grant)")
	var scopes stringList
	fs.Var(&scopes, "scope", "scope the user's portal clients may be given beyond portal.scopes (repeatable)")
	plan := fs.String("plan", "", "plan of the user's clients (one of the config's plans); default: default_plan")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(1, 1); err != nil {
		return err
	}
	name := c.positional[0]
	pw, err := c.readPassword()
	if err != nil {
		return err
	}
	return c.withStore(ctx, func(cfg *config.Config, st store.Store) error {
		u, err := c.commandService(cfg, st).CreateUser(ctx, service.NewUser{Name: name, Password: pw, Admin: *admin,
			Scopes: scopes, Plan: *plan})
		if err != nil {
			return err
		}
		entitled := nonNil(u.Scopes)
		if *asJSON {
			return c.printJSON(map[string]any{"user": name, "admin": *admin, "scopes": entitled, "plan": *plan})
		}
		fmt.Fprintf(c.env.Stdout, "User %q created.\n", name)
		return nil
	})
}

type sessionJSON struct {
	ID        string `json:"session_id"`
	ClientID  string `json:"client_id"`
	Subject   string `json:"subject"`
	Kind      string `json:"kind"`
	Scope     string `json:"scope"`
	CreatedAt string `json:"created_at"`
	ExpiresAt string `json:"expires_at"`
}

func runSessionsList(ctx context.Context, c *cmdContext) error {
	fs := c.flags("--client ID [--json]", `
Lists a client's current sessions: each refresh-token family (a user's login
through that client) and each application-to-application token, with its
expiry. Revoke one with "clearance sessions revoke SESSION_ID".`)
	client := fs.String("client", "", "client id")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(0, 0); err != nil {
		return err
	}
	if *client == "" {
		return errors.New("--client is required")
	}
	return c.withStore(ctx, func(_ *config.Config, st store.Store) error {
		if _, err := st.GetClient(ctx, *client); err != nil {
			return notFound(err, "no client with id %q", *client)
		}
		ss, err := st.ListSessions(ctx, *client, c.env.Now().UTC())
		if err != nil {
			return err
		}
		out := make([]sessionJSON, 0, len(ss))
		for _, s := range ss {
			out = append(out, sessionJSON{s.ID, s.ClientID, s.Subject, s.Kind, s.Scope,
				s.CreatedAt.UTC().Format(time.RFC3339), s.ExpiresAt.UTC().Format(time.RFC3339)})
		}
		if *asJSON {
			return c.printJSON(out)
		}
		c.table("SESSION ID\tSUBJECT\tKIND\tSCOPE\tCREATED\tEXPIRES", func(w io.Writer) {
			for _, s := range out {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Subject, s.Kind, s.Scope, s.CreatedAt, s.ExpiresAt)
			}
		})
		return nil
	})
}

func runSessionsRevoke(ctx context.Context, c *cmdContext) error {
	fs := c.flags("SESSION_ID [--json]", `
Revokes a session: its refresh tokens stop working at once, and every running
gateway refuses its access tokens within a second.`)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(1, 1); err != nil {
		return err
	}
	return c.withStore(ctx, func(cfg *config.Config, st store.Store) error {
		if err := c.commandService(cfg, st).RevokeSession(ctx, c.positional[0]); err != nil {
			return notFound(err, "no session with id %q", c.positional[0])
		}
		if *asJSON {
			return c.printJSON(map[string]any{"session_id": c.positional[0], "revoked": true})
		}
		fmt.Fprintf(c.env.Stdout, "Session %q revoked.\n", c.positional[0])
		return nil
	})
}

// inFlagWords restates a client validation error in the words of the
// command line: the flag to pass rather than the configuration key to set.
func inFlagWords(err error) error {
	var v *service.ValidationError
	if !errors.As(err, &v) {
		return err
	}
	// The flags of "client create" by the field they set.
	clientFlags := map[string]string{
		"id": "--id", "name": "--name", "grants": "--grant", "scopes": "--scope",
		"redirect_uris": "--redirect-uri", "allowed_origins": "--origin",
		"first_party": "--first-party", "owner": "--owner", "plan": "--plan",
	}
	parts := make([]string, len(v.Fields))
	for i, f := range v.Fields {
		detail := strings.ReplaceAll(f.Detail, "set first_party: true", "add --first-party")
		field, _, _ := strings.Cut(f.Field, "[") // grants[0] is the first --grant
		if flag, ok := clientFlags[field]; ok {
			field = flag
		} else {
			field = f.Field
		}
		parts[i] = field + ": " + detail
	}
	return errors.New(strings.Join(parts, "; "))
}

// notFound states a missing record once, in the words of the command
// line ("no client with id \"x\""), instead of the layers of context the
// store and service wrap around store.ErrNotFound. Other errors pass
// through unchanged.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf(format, args...)
	}
	return err
}
