package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/clearance-gw/clearance/internal/bench"
)

// serveRole runs this binary as the upstream or the bare proxy: it prints
// "listening ADDR" on stdout and serves until ctx ends or stdin closes
// (the driver exited).
func serveRole(ctx context.Context, o *options) error {
	var h http.Handler
	if o.role == "upstream" {
		h = bench.Upstream()
	} else {
		u, err := url.Parse(o.upstream)
		if err != nil || u.Host == "" {
			return fmt.Errorf("-upstream %q is not an absolute URL", o.upstream)
		}
		h = bench.BareProxy(u)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		buf := make([]byte, 1)
		os.Stdin.Read(buf) // returns when the driver goes away
		srv.Close()
	}()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// process is a child process serving HTTP.
type process struct {
	name  string
	url   string // base URL of its (public) listener
	admin string // base URL of the admin listener (gateway only)
	cmd   *exec.Cmd
	stdin *os.File
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) stop() {
	if p.stdin != nil {
		p.stdin.Close()
	}
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// startRole re-executes this binary in a role and waits for its address.
func startRole(role string, args ...string) (*process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{"-role", role}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// The child's stdin is a pipe this process holds: when the driver
	// dies, the child sees EOF and exits.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdin = r
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	r.Close()
	p := &process{name: role, cmd: cmd, stdin: w}
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		p.stop()
		return nil, fmt.Errorf("%s did not start (%q, %v)", role, line, err)
	}
	p.url = "http://" + addr
	return p, nil
}

// buildGateway builds cmd/clearance of this module into dir.
func buildGateway(dir string) (string, error) {
	bin := filepath.Join(dir, "clearance")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/clearance-gw/clearance/cmd/clearance")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the gateway (run from inside the module, or pass -gateway): %w", err)
	}
	return bin, nil
}

// gatewaySetup is what a gateway process is started with.
type gatewaySetup struct {
	bin      string
	dir      string // its config, database and key file
	alg      string // tokens.alg
	upstream string
	jwks     string // public JWKS of the bench's own issuer (trusted_issuers)
	extra    string // appended to the config
}

const (
	gatewayIssuer = "http://gateway.bench"
	benchIssuer   = "http://issuer.bench"
	clientID      = "bench"
)

// startGateway writes a config for s and runs "clearance serve" on it,
// until /readyz answers 200. Its log goes nowhere: the access log is
// written and encoded as in production, then dropped by the kernel.
func startGateway(ctx context.Context, name string, s gatewaySetup) (*process, string, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, "", err
	}
	pub, err := freePort()
	if err != nil {
		return nil, "", err
	}
	adm, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cfg := fmt.Sprintf(`listen: %q
admin_listen: %q
issuer: %q
store: {driver: sqlite, dsn: %q}
tokens: {alg: %s, access_ttl: 1h}
scopes: [charts, airports]
routes:
  - name: charts
    path: /v1/charts/
    upstream: %s
    scopes: [charts]
clients:
  - id: %s
    name: Benchmark client
    secret: ${BENCH_CLIENT_SECRET}
    grants: [client_credentials]
    scopes: [charts, airports]
trusted_issuers:
  - issuer: %s
    jwks: '%s'
    audience: %s
    algorithms: [ES256]
%s`, pub, adm, gatewayIssuer, filepath.Join(s.dir, "clearance.db"), s.alg, s.upstream,
		clientID, benchIssuer, s.jwks, gatewayIssuer, s.extra)
	path := filepath.Join(s.dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, "", err
	}
	secret := randomSecret()
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, "", err
	}
	defer devnull.Close()
	cmd := exec.Command(s.bin, "serve", "--config", path)
	cmd.Env = append(os.Environ(), "BENCH_CLIENT_SECRET="+secret)
	cmd.Stdout, cmd.Stderr = devnull, devnull
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	p := &process{name: name, cmd: cmd, url: "http://" + pub, admin: "http://" + adm}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(p.admin + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, secret, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return nil, "", fmt.Errorf("gateway %s not ready (config %s)", name, path)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomSecret() string {
	return rand.Text() + rand.Text()
}
