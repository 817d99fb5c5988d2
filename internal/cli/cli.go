// Package cli is the clearance command: flag parsing, sub-commands, and the
// one place where the gateway's packages are wired together. cmd/clearance
// calls Run; the quickstart calls it too, so the wiring exists once.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/internal/gcfloor"
)

// Env is everything Run takes from the process, so tests and the quickstart
// can run the command in-process.
type Env struct {
	Stdin     io.Reader
	Stdout    io.Writer
	Stderr    io.Writer
	LookupEnv func(string) (string, bool)
	Now       func() time.Time
	// Reload delivers SIGHUP: each value asks serve to reload its config.
	Reload <-chan struct{}
	// Started, if set, is called by serve once both listeners accept
	// connections, with their addresses.
	Started func(Addrs)
	// GCFloor, when above zero, is the memory serve lets the heap use
	// before the garbage collector runs (package gcfloor), unless the
	// environment sets GOGC or GOMEMLIMIT. It sets process-wide state:
	// only a process's own Env sets it.
	GCFloor int64
}

// Addrs are the bound listener addresses of a running gateway.
type Addrs struct {
	Public string // host:port of the public listener
	Admin  string // host:port of the admin listener
}

// OSEnv returns the Env of a real process (Reload is wired by the caller).
func OSEnv() Env {
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv, Now: time.Now,
		GCFloor: gcfloor.DefaultFloor}
}

// errUsage marks an error that --help or a bad flag already explained.
var errUsage = errors.New("usage")

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, c *cmdContext) error
}

const mainUsage = `Clearance is an API gateway that checks OAuth 2.0 bearer tokens in front of
your APIs, and the OAuth 2.0 server that issues those tokens.

How it works, in one paragraph: a client application first asks Clearance's
token endpoint for an access token (a signed, short-lived JWT), proving who it
is with its client id and secret. It then calls your API through Clearance
with the header "Authorization: Bearer <token>". Clearance checks the token's
signature, expiry and scopes (the permissions it carries) and forwards good
requests to your API; bad ones get 401 or 403 without reaching it.

Usage:
  clearance <command> [flags]

Commands:
%s
Every command takes --config PATH (default gateway.yaml).
Run "clearance <command> --help" for the flags of one command.
New here? Start with: go run ./examples/quickstart
`

// Run executes the clearance command line and returns the exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.LookupEnv == nil {
		env.LookupEnv = func(string) (string, bool) { return "", false }
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	cmds := commands()
	usage := func(w io.Writer) {
		var b strings.Builder
		for _, c := range cmds {
			fmt.Fprintf(&b, "  %-22s %s\n", c.name, c.summary)
		}
		fmt.Fprintf(w, mainUsage, b.String())
	}
	if len(args) == 0 {
		usage(env.Stderr)
		return 2
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = []string{"version"}
	}
	if args[0] == "help" && len(args) > 1 {
		// "clearance help serve" is "clearance serve --help".
		args = append(append([]string{}, args[1:]...), "--help")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stdout)
		return 0
	}
	// Two-word commands ("client create") are looked up first.
	var cmd *command
	rest := args[1:]
	for i := range cmds {
		if len(args) > 1 && cmds[i].name == args[0]+" "+args[1] {
			cmd, rest = &cmds[i], args[2:]
			break
		}
	}
	if cmd == nil {
		for i := range cmds {
			if cmds[i].name == args[0] {
				cmd = &cmds[i]
				break
			}
		}
	}
	if cmd == nil {
		if group := groupOf(cmds, args[0]); group != nil {
			// "clearance client" or "clearance client --help": list the
			// group's commands.
			w, code := env.Stderr, 2
			if len(args) == 2 && isHelpFlag(args[1]) {
				w, code = env.Stdout, 0
			} else if len(args) > 1 {
				fmt.Fprintf(env.Stderr, "clearance: unknown command %q\n", args[0]+" "+args[1])
			}
			fmt.Fprintf(w, "Usage: clearance %s <command> [flags]\n\nCommands:\n", args[0])
			for _, c := range group {
				fmt.Fprintf(w, "  %-22s %s\n", c.name, c.summary)
			}
			fmt.Fprintf(w, "\nRun \"clearance %s <command> --help\" for the flags of one command.\n", args[0])
			return code
		}
		fmt.Fprintf(env.Stderr, "clearance: unknown command %q (run \"clearance --help\")\n", strings.Join(args[:min(2, len(args))], " "))
		return 2
	}
	c := &cmdContext{env: env, name: cmd.name, args: rest}
	if err := cmd.run(ctx, c); err != nil {
		if errors.Is(err, errUsage) {
			return 2
		}
		var ec exitCode
		if errors.As(err, &ec) {
			return int(ec)
		}
		fmt.Fprintf(env.Stderr, "clearance %s: %s\n", cmd.name, oneLine(err.Error()))
		return 1
	}
	return 0
}

// groupOf returns the two-word commands whose first word is word.
func groupOf(cmds []command, word string) []command {
	var group []command
	for _, c := range cmds {
		if strings.HasPrefix(c.name, word+" ") {
			group = append(group, c)
		}
	}
	return group
}

func isHelpFlag(a string) bool { return a == "-h" || a == "--h" || a == "-help" || a == "--help" }

// exitCode ends a command with that code, its message already printed.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }

// cmdContext carries one invocation: its flag set and positional arguments.
type cmdContext struct {
	env        Env
	name       string
	args       []string
	fs         *flag.FlagSet
	configPath string
	positional []string
}

// flags starts a flag set with --config; the caller adds its own flags and
// then calls parse.
func (c *cmdContext) flags(usageLine, help string) *flag.FlagSet {
	fs := flag.NewFlagSet("clearance "+c.name, flag.ContinueOnError)
	fs.SetOutput(c.env.Stderr)
	fs.StringVar(&c.configPath, "config", "gateway.yaml", "path of the gateway configuration file")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: clearance %s %s\n\n%s\n\nFlags:\n", c.name, usageLine, strings.TrimSpace(help))
		printFlags(w, fs, placeholders("--config PATH "+usageLine))
	}
	c.fs = fs
	return fs
}

// placeholderRE finds "--flag VALUE" in a usage line.
var placeholderRE = regexp.MustCompile(`--([a-z0-9-]+)[ =]([A-Z][A-Z0-9_]*)\b`)

// placeholders maps each flag of a usage line to the word standing for its
// value ("--grant G" gives grant: G).
func placeholders(usageLine string) map[string]string {
	m := map[string]string{}
	for _, sm := range placeholderRE.FindAllStringSubmatch(usageLine, -1) {
		m[sm[1]] = sm[2]
	}
	return m
}

// printFlags lists the flags of fs as the usage lines write them, with two
// dashes and the usage line's word for the value ("--config PATH"), where
// the flag package's PrintDefaults writes "-config string". The flag
// package accepts either spelling.
func printFlags(w io.Writer, fs *flag.FlagSet, words map[string]string) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if word, ok := words[f.Name]; ok {
			name = word
		} else {
			name = strings.ToUpper(name)
		}
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); isBool {
			name = ""
		}
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		switch f.DefValue {
		case "", "false", "0", "[]":
		default:
			format := " (default %s)"
			if g, ok := f.Value.(flag.Getter); ok {
				if _, isString := g.Get().(string); isString {
					format = " (default %q)"
				}
			}
			fmt.Fprintf(w, format, f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// parse parses flags anywhere among the arguments ("show ID --json" works),
// and checks the number of positional arguments.
func (c *cmdContext) parse(minPos, maxPos int) error {
	args := c.args
	for _, a := range args {
		if isHelpFlag(a) {
			c.fs.SetOutput(c.env.Stdout) // asked-for help goes to stdout
		}
	}
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitCode(0) // the flag package printed the usage
			}
			return errUsage
		}
		args = c.fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			c.positional = append(c.positional, args[1:]...)
			break
		}
		c.positional = append(c.positional, args[0])
		args = args[1:]
	}
	if len(c.positional) < minPos || (maxPos >= 0 && len(c.positional) > maxPos) {
		fmt.Fprintf(c.env.Stderr, "clearance %s: wrong number of arguments\n", c.name)
		c.fs.Usage()
		return errUsage
	}
	return nil
}
