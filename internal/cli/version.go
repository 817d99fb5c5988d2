package cli

import (
	"context"
	"fmt"
	"runtime/debug"
)

// runVersion prints the module version the binary was built from, and the
// commit when the build recorded one.
func runVersion(_ context.Context, c *cmdContext) error {
	c.flags("", "Prints the version of this clearance binary.")
	if err := c.parse(0, 0); err != nil {
		return err
	}
	fmt.Fprintf(c.env.Stdout, "clearance %s\n", version())
	return nil
}

func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev + dirty
	}
	return v + " " + info.GoVersion
}
