// Package testgateway runs "clearance serve" in-process for tests outside
// package cli (whose own tests cannot import a package that imports it):
// the gateway listens on the ports its config names (127.0.0.1:0 in
// tests), and stops when the test ends.
package testgateway

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/internal/cli"
	"github.com/clearance-gw/clearance/internal/testlog"
)

// How long the gateway may take to start and to stop.
const (
	startLimit = 30 * time.Second
	stopLimit  = 10 * time.Second
)

// Options shape one run.
type Options struct {
	// LookupEnv is what ${VAR} in the config sees; nil means no variables.
	LookupEnv func(string) (string, bool)
	// Now is the gateway's clock; nil means time.Now.
	Now func() time.Time
	// LogOnFailure writes the gateway's log to the test's log at the end
	// of a failed test.
	LogOnFailure bool
}

// Gateway is a running "clearance serve".
type Gateway struct {
	// Addrs are the listeners' host:port addresses.
	Addrs cli.Addrs
	// Logs is everything the gateway has logged so far.
	Logs *testlog.Buffer
	// Reload asks the gateway to reload its config, as SIGHUP does.
	Reload chan<- struct{}

	stopOnce sync.Once
	stop     func()
}

// Start runs serve on configPath and waits until it listens; a gateway
// that exits or does not start within 30 s fails the test. It stops when
// the test ends, if Stop has not stopped it before.
func Start(t testing.TB, configPath string, opts Options) *Gateway {
	t.Helper()
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	reload := make(chan struct{}, 1)
	g := &Gateway{Logs: &testlog.Buffer{}, Reload: reload}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	started := make(chan cli.Addrs, 1)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	env := cli.Env{Stdout: io.Discard, Stderr: g.Logs, Now: now, Reload: reload,
		LookupEnv: lookup,
		Started:   func(a cli.Addrs) { started <- a }}
	go func() { done <- cli.Run(ctx, []string{"serve", "--config", configPath}, env) }()
	select {
	case g.Addrs = <-started:
	case code := <-done:
		cancel()
		t.Fatalf("serve exited with %d:\n%s", code, g.Logs.String())
	case <-time.After(startLimit):
		cancel()
		t.Fatal("serve did not start")
	}
	g.stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(stopLimit):
			t.Error("serve did not stop")
		}
	}
	t.Cleanup(func() {
		g.Stop()
		if opts.LogOnFailure && t.Failed() {
			t.Logf("gateway log:\n%s", g.Logs.String())
		}
	})
	return g
}

// Stop shuts the gateway down and waits for serve to return (10 s at the
// most, or the test fails). Calling it again does nothing.
func (g *Gateway) Stop() { g.stopOnce.Do(g.stop) }

// Public is the base URL of the public listener.
func (g *Gateway) Public() string { return "http://" + g.Addrs.Public }

// Admin is the base URL of the admin listener.
func (g *Gateway) Admin() string { return "http://" + g.Addrs.Admin }
