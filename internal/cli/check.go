package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/clearance-gw/clearance/config"
)

func runCheck(ctx context.Context, c *cmdContext) error {
	c.flags("[--config PATH]", `
Reads the configuration file and reports every problem at once, each as
FILE:LINE:COL: message. Exits 0 when the file is good, 1 when it is not.
Run it before "clearance serve" or before sending SIGHUP to a running gateway.`)
	if err := c.parse(0, 0); err != nil {
		return err
	}
	cfg, err := config.Load(c.configPath, c.env.LookupEnv)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(c.env.Stderr, p.String())
			}
			return exitCode(1)
		}
		return err
	}
	fmt.Fprintf(c.env.Stdout, "%s: ok (%d routes, %d clients, %d trusted issuers)\n",
		c.configPath, len(cfg.Routes), len(cfg.Clients), len(cfg.TrustedIssuers))
	return nil
}
