package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/subscription"
	"github.com/clearance-gw/clearance/config"
)

func runSubscriptionAdd(ctx context.Context, c *cmdContext) error {
	fs := c.flags("--user NAME --type TYPE --name NAME --from DATE --until DATE [--json]", `
Gives a user a subscription. A route with "subscription: TYPE" admits the
user's tokens only while one of that type is active (from <= now <= until),
and GET /v1/subscriptions/valid lists the active ones.

Dates are RFC 3339 (2026-01-31T12:00:00Z) or a day (2026-01-31, UTC); a day
given to --until lasts to its end (23:59:59).

Example:
  clearance subscription add --user alice --type fmsdata \
      --name "Navigation Data" --from 2026-01-01 --until 2027-12-31`)
	user := fs.String("user", "", "user name (the sub of the user's tokens)")
	kind := fs.String("type", "", "subscription type, as routes name it (e.g. fmsdata)")
	name := fs.String("name", "", "display name (default: the type)")
	from := fs.String("from", "", "first day or instant it is valid")
	until := fs.String("until", "", "last day or instant it is valid")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(0, 0); err != nil {
		return err
	}
	switch {
	case *user == "" || *kind == "" || *from == "" || *until == "":
		return errors.New("--user, --type, --from and --until are required")
	case strings.TrimSpace(*user) != *user || len(*user) > 256:
		return fmt.Errorf("invalid user name %q", *user)
	}
	if len(*kind) > 128 || strings.ContainsFunc(*kind, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("--type %q: use a word without spaces, as the routes name it", *kind)
	}
	if *name == "" {
		*name = *kind
	}
	active, err := subscription.ParseDate(*from, false)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	expiry, err := subscription.ParseDate(*until, true)
	if err != nil {
		return fmt.Errorf("--until: %w", err)
	}
	if expiry.Before(active) {
		return fmt.Errorf("--until (%s) is before --from (%s)", expiry.Format(time.RFC3339), active.Format(time.RFC3339))
	}
	return c.withStore(ctx, func(cfg *config.Config, st store.Store) error {
		if _, err := st.GetUser(ctx, *user); errors.Is(err, store.ErrNotFound) {
			fmt.Fprintf(c.env.Stderr, "note: %q is not a login user of this gateway; the subscription applies to tokens whose subject is %q\n", *user, *user)
		} else if err != nil {
			return err
		}
		s, err := st.AddSubscription(ctx, store.Subscription{User: *user, Type: *kind, Name: *name, DateActive: active, DateExpiry: expiry})
		if err != nil {
			return err
		}
		if types := routeSubscriptionTypes(cfg); !slices.Contains(types, *kind) {
			// Added all the same: the routes may come with the next reload.
			routes := "no route of " + c.configPath + " requires a subscription"
			if len(types) > 0 {
				routes = "the routes of " + c.configPath + " require " + strings.Join(types, ", ")
			}
			fmt.Fprintf(c.env.Stderr, "warning: no route requires subscription type %q; %s (a typo? the subscription was added all the same)\n", *kind, routes)
		}
		if *asJSON {
			return c.printJSON(subscription.ViewOf(s, c.env.Now()))
		}
		fmt.Fprintf(c.env.Stdout, "Subscription %d added: %s has %s (%q) from %s until %s.\n", s.ID, s.User, s.Type, s.Name,
			s.DateActive.Format(time.RFC3339), s.DateExpiry.Format(time.RFC3339))
		return nil
	})
}

func runSubscriptionList(ctx context.Context, c *cmdContext) error {
	fs := c.flags("--user NAME [--json]", "Lists a user's subscriptions, active or not.")
	user := fs.String("user", "", "user name")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(0, 0); err != nil {
		return err
	}
	if *user == "" {
		return errors.New("--user is required")
	}
	return c.withStore(ctx, func(_ *config.Config, st store.Store) error {
		subs, err := st.ListSubscriptions(ctx, *user)
		if err != nil {
			return err
		}
		now := c.env.Now()
		out := make([]subscription.View, 0, len(subs))
		for _, s := range subs {
			out = append(out, subscription.ViewOf(s, now))
		}
		if *asJSON {
			return c.printJSON(out)
		}
		c.table("ID\tTYPE\tNAME\tFROM\tUNTIL\tACTIVE", func(w io.Writer) {
			for _, s := range out {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%v\n", s.ID, s.Type, s.Name, s.DateActive, s.DateExpiry, s.Active)
			}
		})
		return nil
	})
}

func runSubscriptionRemove(ctx context.Context, c *cmdContext) error {
	fs := c.flags("ID [--json]", `
Removes a subscription (IDs are shown by "clearance subscription list").
Routes requiring it refuse the user's tokens from the next request on (with a
remote subscriptions source, the remote service decides instead).`)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(1, 1); err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.positional[0], 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("%q is not a subscription id", c.positional[0])
	}
	return c.withStore(ctx, func(_ *config.Config, st store.Store) error {
		if err := st.RemoveSubscription(ctx, id); err != nil {
			return fmt.Errorf("subscription %d: %w", id, err)
		}
		if *asJSON {
			return c.printJSON(map[string]any{"id": id, "removed": true})
		}
		fmt.Fprintf(c.env.Stdout, "Subscription %d removed.\n", id)
		return nil
	})
}

// routeSubscriptionTypes returns the subscription types the routes of cfg
// require, sorted, each once.
func routeSubscriptionTypes(cfg *config.Config) []string {
	var types []string
	for _, r := range cfg.Routes {
		if r.Subscription != "" && !slices.Contains(types, r.Subscription) {
			types = append(types, r.Subscription)
		}
	}
	slices.Sort(types)
	return types
}
