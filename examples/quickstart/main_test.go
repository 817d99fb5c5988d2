package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearance-gw/clearance/config"
)

// inCopy runs the test in a temporary directory holding a copy of the
// repository's gateway.yaml, so the store the quickstart makes (data/)
// stays out of the repository.
func inCopy(t *testing.T) {
	t.Helper()
	src, err := os.ReadFile("../../gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gateway.yaml"), src, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
}

// freePorts are the quickstart's flags with every address chosen by the
// kernel, so the test runs beside anything else on the machine.
func freePorts() options {
	return options{config: "gateway.yaml", listen: "127.0.0.1:0", adminListen: "127.0.0.1:0", upstream: "127.0.0.1:0"}
}

// TestQuickstart runs the quickstart as a newcomer would, with the repository's
// gateway.yaml, and makes every call it prints.
func TestQuickstart(t *testing.T) {
	inCopy(t)
	o := freePorts()
	o.check = true
	var out bytes.Buffer
	if err := run(t.Context(), o, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "\nok  "); n != 6 {
		t.Errorf("verified %d calls, want 6:\n%s", n, out.String())
	}
	for _, want := range []string{"curl -i -H \"Authorization: Bearer $TOKEN\"", "/v1/airports/EDDF", "expect 401"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if left, _ := filepath.Glob(".quickstart-*.yaml"); len(left) != 0 {
		t.Errorf("derived configs left behind: %v", left)
	}
}

// TestQuickstartBusyPort: when an address the quickstart needs is taken,
// its error names the address, says why, and names the flag to change it;
// the gateway's own error is shown, not just an exit code.
func TestQuickstartBusyPort(t *testing.T) {
	inCopy(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()

	gw := freePorts()
	gw.listen = addr
	api := freePorts()
	api.upstream = addr
	for _, c := range []struct {
		name string
		o    options
		flag string
	}{{"gateway", gw, "-listen"}, {"sample API", api, "-upstream"}} {
		var out bytes.Buffer
		err := run(t.Context(), c.o, &out)
		if err == nil {
			t.Fatalf("%s on a busy port: no error\n%s", c.name, out.String())
		}
		for _, want := range []string{addr, "address already in use", c.flag} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s on a busy port: error %q lacks %q", c.name, err, want)
			}
		}
	}
}

// TestDeriveConfig: other ports give a config that differs from
// gateway.yaml in its addresses only, next to it, removed afterwards.
func TestDeriveConfig(t *testing.T) {
	inCopy(t)
	orig, err := config.Load("gateway.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	path, remove, err := deriveConfig("gateway.yaml", "127.0.0.1:8081", "127.0.0.1:9091", "127.0.0.1:9001")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != "." {
		t.Errorf("derived config at %s, want beside gateway.yaml", path)
	}
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8081" || cfg.AdminListen != "127.0.0.1:9091" || cfg.Issuer != "http://localhost:8081" {
		t.Errorf("listen %q, admin_listen %q, issuer %q", cfg.Listen, cfg.AdminListen, cfg.Issuer)
	}
	if len(cfg.Routes) != len(orig.Routes) || len(cfg.Routes) == 0 {
		t.Fatalf("%d routes, want %d", len(cfg.Routes), len(orig.Routes))
	}
	for i, r := range cfg.Routes {
		if r.Upstream != "http://127.0.0.1:9001" || r.Name != orig.Routes[i].Name || r.Path != orig.Routes[i].Path {
			t.Errorf("route %d: %s %s -> %s", i, r.Name, r.Path, r.Upstream)
		}
	}
	if cfg.Store.DSN.Reveal() != orig.Store.DSN.Reveal() || cfg.Tokens.Alg != orig.Tokens.Alg {
		t.Errorf("store %q alg %q, want the original's", cfg.Store.DSN.Reveal(), cfg.Tokens.Alg)
	}
	remove()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("after remove: %v", err)
	}
}
