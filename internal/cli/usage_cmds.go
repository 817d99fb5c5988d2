package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/clearance-gw/clearance/authz/metering"
	"github.com/clearance-gw/clearance/authz/metering/planview"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// maxUsageDays bounds --days (about 13 months).
const maxUsageDays = 400

type usageDayJSON struct {
	Date     string `json:"date"`
	Requests int64  `json:"requests"`
}

type usageJSON struct {
	ClientID    string         `json:"client_id"`
	Issuer      string         `json:"issuer,omitempty"`
	Plan        string         `json:"plan"`
	Rate        string         `json:"rate,omitempty"`
	Quota       string         `json:"quota,omitempty"`
	QuotaUsed   int64          `json:"quota_used"`
	QuotaLeft   *int64         `json:"quota_left"` // null: unlimited
	QuotaResets string         `json:"quota_resets_at,omitempty"`
	Days        []usageDayJSON `json:"days"`
}

// clientUsage builds the usage report of a local client under the plan
// it is on (its own, else its owner's, else default_plan).
func clientUsage(ctx context.Context, cfg *config.Config, st store.Store, c store.Client, days int, now time.Time) (metering.Report, error) {
	var owner store.User
	if c.Owner != "" {
		u, err := st.GetUser(ctx, c.Owner)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return metering.Report{}, err
		}
		owner = u
	}
	return metering.BuildReport(ctx, st, cfg, metering.StoreKey("", c.ID), planview.ExplicitPlan(c, owner), days, now)
}

func runUsage(ctx context.Context, c *cmdContext) error {
	fs := c.flags("--client ID [--issuer URL] [--days N] [--json]", `
Shows a client's metered requests per UTC day, the plan it is on and what
is left of its quota (SPEC §11). The counts are those every gateway has
written to the store: at most about a second behind.

--issuer shows a trusted issuer's client instead (its tokens' iss and
client_id), which is on default_plan.`)
	client := fs.String("client", "", "client id")
	iss := fs.String("issuer", "", "the trusted issuer of the client (default: the gateway's own clients)")
	days := fs.Int("days", 30, fmt.Sprintf("days to show, today included (1 to %d)", maxUsageDays))
	asJSON := fs.Bool("json", false, "print JSON")
	if err := c.parse(0, 0); err != nil {
		return err
	}
	switch {
	case *client == "":
		return errors.New("--client is required")
	case *days < 1 || *days > maxUsageDays:
		return fmt.Errorf("--days %d: give 1 to %d", *days, maxUsageDays)
	}
	return c.withStore(ctx, func(cfg *config.Config, st store.Store) error {
		now := c.env.Now()
		var rep metering.Report
		var err error
		if *iss != "" {
			if cfg.TrustedIssuerFor(*iss) == nil {
				return fmt.Errorf("--issuer %q is not one of the config's trusted_issuers", *iss)
			}
			rep, err = metering.BuildReport(ctx, st, cfg, metering.StoreKey(*iss, *client), "", *days, now)
		} else {
			cl, gerr := st.GetClient(ctx, *client)
			if errors.Is(gerr, store.ErrNotFound) {
				return fmt.Errorf("no client with id %q", *client)
			}
			if gerr != nil {
				return gerr
			}
			rep, err = clientUsage(ctx, cfg, st, cl, *days, now)
		}
		if err != nil {
			return err
		}
		out := usageJSON{ClientID: *client, Issuer: *iss, Plan: rep.Plan, Rate: rep.Rate, Quota: rep.Quota,
			QuotaUsed: rep.QuotaUsed, Days: make([]usageDayJSON, 0, len(rep.Days))}
		if rep.Quota != "" {
			out.QuotaLeft = &rep.QuotaLeft
			out.QuotaResets = rep.QuotaResets.Format(time.RFC3339)
		}
		for _, d := range rep.Days {
			out.Days = append(out.Days, usageDayJSON{Date: d.Day.Format(time.DateOnly), Requests: d.Requests})
		}
		if *asJSON {
			return c.printJSON(out)
		}
		plan := out.Plan
		if plan == "" {
			plan = "none (not metered)"
		}
		fmt.Fprintf(c.env.Stdout, "Client:  %s\nPlan:    %s\n", *client, plan)
		if out.Rate != "" {
			fmt.Fprintf(c.env.Stdout, "Rate:    %s\n", out.Rate)
		}
		if out.QuotaLeft != nil {
			fmt.Fprintf(c.env.Stdout, "Quota:   %s: %d used, %d left until %s\n", out.Quota, out.QuotaUsed, *out.QuotaLeft, out.QuotaResets)
		} else {
			fmt.Fprintln(c.env.Stdout, "Quota:   unlimited")
		}
		fmt.Fprintln(c.env.Stdout)
		c.table("DATE\tREQUESTS", func(w io.Writer) {
			for _, d := range out.Days {
				fmt.Fprintf(w, "%s\t%d\n", d.Date, d.Requests)
			}
		})
		return nil
	})
}
