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

const (
	gatewayIssuer = "http://gateway.bench"
	benchIssuer   = "http://issuer.bench" // the bench's own issuer, key set inline
	remoteIssuer  = "http://remote.bench" // the bench's own issuer, key set fetched
	clientID      = "bench"               // client_credentials
	appID         = "bench-app"           // password and refresh_token, first party
	meteredID     = "bench-metered"       // client_credentials, on a plan
	benchUser     = "bench-user"
	benchPassword = "bench-user-password"
	// remoteRefetch is the remote issuer's min_refetch_interval: at most
	// one JWKS fetch per this interval, whatever the tokens.
	remoteRefetch = time.Second
)

// gatewayDir is where the gateway of alg keeps its config, database and
// key file: every process of that alg, in every round, uses the same
// database, so tokens issued by one are valid at the next.
func (r *run) gatewayDir(alg string) string { return filepath.Join(r.dir, alg) }

// writeGatewayConfig writes the config of a gateway of alg listening on
// pub and adm, and returns its path.
func (r *run) writeGatewayConfig(alg, pub, adm string) (string, error) {
	dir := r.gatewayDir(alg)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
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
  - id: %s
    name: Benchmark app
    secret: ${BENCH_CLIENT_SECRET}
    grants: [password, refresh_token]
    scopes: [charts]
    first_party: true
  - id: %s
    name: Metered benchmark client
    secret: ${BENCH_CLIENT_SECRET}
    grants: [client_credentials]
    scopes: [charts]
    plan: bench
plans:
  - name: bench
    rate: 1000000/s
    quota: 1000000000/month
trusted_issuers:
  - issuer: %s
    jwks: '%s'
    audience: %s
    algorithms: [ES256]
  - issuer: %s
    jwks_url: %s
    audience: %s
    algorithms: [ES256]
    min_refetch_interval: %s
`, pub, adm, gatewayIssuer, filepath.Join(dir, "clearance.db"), alg, r.up.url,
		clientID, appID, meteredID, benchIssuer, r.key.jwks, gatewayIssuer,
		remoteIssuer, r.remote.url, gatewayIssuer, remoteRefetch)
	path := filepath.Join(dir, "gateway.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// addUser creates the bench's login user in the database of alg's
// gateway, with the command line.
func (r *run) addUser(ctx context.Context, alg string) error {
	path, err := r.writeGatewayConfig(alg, "127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, r.bin, "user", "add", benchUser, "--config", path)
	cmd.Env = append(os.Environ(), "BENCH_CLIENT_SECRET="+r.secret)
	cmd.Stdin = strings.NewReader(benchPassword + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("clearance user add: %w: %s", err, out)
	}
	return nil
}

// startGateway runs "clearance serve" for alg on fresh ports, until
// /readyz answers 200. Its log goes nowhere: the access log is written and
// encoded as in production, then dropped by the kernel.
func (r *run) startGateway(ctx context.Context, alg string) (*process, error) {
	pub, err := freePort()
	if err != nil {
		return nil, err
	}
	adm, err := freePort()
	if err != nil {
		return nil, err
	}
	path, err := r.writeGatewayConfig(alg, pub, adm)
	if err != nil {
		return nil, err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	cmd := exec.Command(r.bin, "serve", "--config", path)
	cmd.Env = append(os.Environ(), "BENCH_CLIENT_SECRET="+r.secret)
	cmd.Stdout, cmd.Stderr = devnull, devnull
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{name: "clearance-" + alg, cmd: cmd, url: "http://" + pub, admin: "http://" + adm}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := r.client.Get(p.admin + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return nil, fmt.Errorf("gateway %s not ready (config %s)", alg, path)
		}
		time.Sleep(50 * time.Millisecond)
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
