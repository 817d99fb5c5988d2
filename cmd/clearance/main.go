// Command clearance is the Clearance API gateway and OAuth 2.0 server.
// Run "clearance --help" for its commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/clearance-gw/clearance/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	env := cli.OSEnv()
	env.Reload = reload
	code := cli.Run(ctx, os.Args[1:], env)
	stop()
	os.Exit(code)
}
