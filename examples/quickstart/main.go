// Command quickstart shows Clearance working end to end on one machine: it
// starts the sample aviation data API, a demo token issuer and the gateway
// (with the repository's gateway.yaml), then prints curl lines that fetch
// data through the gateway, and the 401s a missing or wrong token gets.
//
//	go run ./examples/quickstart          # run until Ctrl-C
//	go run ./examples/quickstart --check  # run every printed call, verify, exit
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/clearance-gw/clearance/examples/upstream"
	"github.com/clearance-gw/clearance/internal/cli"
)

const (
	upstreamAddr = "127.0.0.1:9000"
	issuerAddr   = "127.0.0.1:9001"
	demoIssuer   = "http://" + issuerAddr + "/demo-issuer"
	audience     = "http://localhost:8080"
)

func main() {
	check := flag.Bool("check", false, "make every call the quickstart prints, verify the answers, and exit")
	config := flag.String("config", "gateway.yaml", "gateway configuration to run")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *config, *check, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, configPath string, check bool, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// 1. The sample API the gateway protects.
	if err := serve(ctx, upstreamAddr, upstream.NewHandler()); err != nil {
		return fmt.Errorf("sample API: %w", err)
	}
	// 2. A demo issuer. (Clearance will issue tokens itself; until then the
	// quickstart signs demo tokens with a key it makes now, and gateway.yaml
	// trusts this issuer's published public key.)
	iss, err := newDemoIssuer()
	if err != nil {
		return err
	}
	if err := serve(ctx, issuerAddr, iss); err != nil {
		return fmt.Errorf("demo issuer: %w", err)
	}
	// 3. The gateway itself, exactly as "clearance serve" runs it.
	started := make(chan cli.Addrs, 1)
	done := make(chan int, 1)
	env := cli.OSEnv()
	env.Stdout, env.Stderr = io.Discard, io.Discard
	env.Started = func(a cli.Addrs) { started <- a }
	go func() { done <- cli.Run(ctx, []string{"serve", "--config", configPath}, env) }()
	var addrs cli.Addrs
	select {
	case addrs = <-started:
	case code := <-done:
		return fmt.Errorf("the gateway exited with code %d (run: go run ./cmd/clearance check --config %s)", code, configPath)
	case <-time.After(30 * time.Second):
		return errors.New("the gateway did not start within 30s")
	}

	full, err := iss.mint("demo-backend", "airports charts", time.Hour)
	if err != nil {
		return err
	}
	narrow, err := iss.mint("demo-backend", "charts", time.Hour)
	if err != nil {
		return err
	}
	gw := "http://" + addrs.Public
	calls := []call{
		{"A public route needs no token", gw + "/v1/status", "", 200},
		{"Airport data with a token that has the airports scope", gw + "/v1/airports/EDDF", full, 200},
		{"No token: 401, and WWW-Authenticate tells the client why", gw + "/v1/airports/EDDF", "", 401},
		{"A token without the airports scope: 401 insufficient_scope", gw + "/v1/airports/EDDF", narrow, 401},
		{"A forged token: 401 invalid_token", gw + "/v1/charts/EDDF", "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.AAAA", 401},
		{"Charts with the narrow token", gw + "/v1/charts/EDDF", narrow, 200},
	}
	fmt.Fprintf(out, "Clearance is running.\n  gateway:    %s\n  admin:      http://%s/metrics\n  sample API: http://%s (behind the gateway)\n\n", gw, addrs.Admin, upstreamAddr)
	fmt.Fprintf(out, "Two demo access tokens (valid 1 hour); paste these lines into your shell:\n  export TOKEN=%s\n  export NARROW=%s\n\n", full, narrow)
	for _, c := range calls {
		fmt.Fprintf(out, "# %s (expect %d)\n%s\n\n", c.title, c.want, c.curl(full, narrow))
	}
	if check {
		for _, c := range calls {
			got, err := c.do(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", c.title, err)
			}
			if got != c.want {
				return fmt.Errorf("%s: got %d, want %d", c.title, got, c.want)
			}
			fmt.Fprintf(out, "ok  %d  %s\n", got, c.title)
		}
		cancel()
		<-done
		return nil
	}
	fmt.Fprintln(out, "Press Ctrl-C to stop.")
	if code := <-done; code != 0 {
		return fmt.Errorf("the gateway exited with code %d", code)
	}
	return nil
}

type call struct {
	title string
	url   string
	token string
	want  int
}

func (c call) curl(full, narrow string) string {
	switch {
	case c.token == "":
		return fmt.Sprintf("curl -i %s", c.url)
	case c.token == full:
		return fmt.Sprintf("curl -i -H \"Authorization: Bearer $TOKEN\" %s", c.url)
	case c.token == narrow:
		return fmt.Sprintf("curl -i -H \"Authorization: Bearer $NARROW\" %s", c.url)
	}
	return fmt.Sprintf("curl -i -H \"Authorization: Bearer %s\" %s", c.token, c.url)
}

func (c call) do(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return 0, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}

// serve listens on addr and serves h until ctx ends.
func serve(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return nil
}

// issuerKeys signs demo tokens with an Ed25519 key made at start and
// publishes its public key as a JWKS.
type issuerKeys struct {
	key  jwk.Key
	jwks []byte
}

func newDemoIssuer() (*issuerKeys, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	k, err := jwk.FromRaw(priv)
	if err != nil {
		return nil, err
	}
	k.Set(jwk.KeyIDKey, "demo-1")
	k.Set(jwk.AlgorithmKey, jwa.EdDSA)
	pub, err := jwk.PublicKeyOf(k)
	if err != nil {
		return nil, err
	}
	set := jwk.NewSet()
	set.AddKey(pub)
	b, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	return &issuerKeys{key: k, jwks: b}, nil
}

func (d *issuerKeys) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/demo-issuer/jwks.json" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(d.jwks)
}

func (d *issuerKeys) mint(client, scope string, ttl time.Duration) (string, error) {
	now := time.Now()
	tok, err := jwt.NewBuilder().Issuer(demoIssuer).Subject(client).Audience([]string{audience}).
		IssuedAt(now).Expiration(now.Add(ttl)).JwtID(fmt.Sprint(now.UnixNano())).
		Claim("client_id", client).Claim("scope", strings.TrimSpace(scope)).Build()
	if err != nil {
		return "", err
	}
	h := jws.NewHeaders()
	h.Set(jws.TypeKey, "at+jwt")
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA, d.key, jws.WithProtectedHeaders(h)))
	return string(b), err
}
