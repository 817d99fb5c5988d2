// Command quickstart shows Clearance working end to end on one machine: it
// starts the sample aviation data API and the gateway (with the repository's
// gateway.yaml and its embedded store), registers a demo client, then prints
// the curl lines that fetch a token and call the API through the gateway,
// and the 401s a missing or wrong token gets.
//
//	go run ./examples/quickstart          # run until Ctrl-C
//	go run ./examples/quickstart --check  # run every printed call, verify, exit
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/clearance-gw/clearance/examples/upstream/sampleapi"
	"github.com/clearance-gw/clearance/internal/cli"
)

const (
	upstreamAddr = "127.0.0.1:9000"
	demoClient   = "demo-backend"
	// The demo portal login. A fixed password is fine for a gateway that
	// listens on loopback only; never reuse it elsewhere.
	demoUser     = "demo"
	demoPassword = "demo-password"
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
	if err := serve(ctx, upstreamAddr, sampleapi.NewHandler()); err != nil {
		return fmt.Errorf("sample API: %w", err)
	}
	// 2. A demo client, registered as an operator would with
	// "clearance client create". Its secret is shown once, so a client left
	// by an earlier run is deleted and made again.
	env := cli.OSEnv()
	env.Stdout, env.Stderr = io.Discard, io.Discard
	cli.Run(ctx, []string{"client", "delete", "--config", configPath, demoClient}, env)
	// A portal user who owns the demo client (made once; it stays in data/).
	uenv := env
	uenv.Stdin = strings.NewReader(demoPassword + "\n")
	cli.Run(ctx, []string{"user", "add", "--config", configPath, demoUser}, uenv)
	var created bytes.Buffer
	var errs bytes.Buffer
	cenv := env
	cenv.Stdout, cenv.Stderr = &created, &errs
	if code := cli.Run(ctx, []string{"client", "create", "--config", configPath, "--id", demoClient, "--name", "Demo backend", "--owner", demoUser,
		"--grant", "client_credentials", "--scope", "airports", "--scope", "charts", "--scope", "airspace", "--json"}, cenv); code != 0 {
		return fmt.Errorf("register the demo client: %s", strings.TrimSpace(errs.String()))
	}
	var client struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(created.Bytes(), &client); err != nil {
		return fmt.Errorf("register the demo client: %w", err)
	}

	// 3. The gateway itself, exactly as "clearance serve" runs it.
	started := make(chan cli.Addrs, 1)
	done := make(chan int, 1)
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

	gw := "http://" + addrs.Public
	tokenURL := gw + "/token"
	full, err := fetchToken(ctx, tokenURL, client.ID, client.Secret, "airports charts")
	if err != nil {
		return err
	}
	narrow, err := fetchToken(ctx, tokenURL, client.ID, client.Secret, "charts")
	if err != nil {
		return err
	}
	calls := []call{
		{"A public route needs no token", gw + "/v1/status", "", 200},
		{"Airport data with a token that has the airports scope", gw + "/v1/airports/EDDF", full, 200},
		{"No token: 401, and WWW-Authenticate tells the client why", gw + "/v1/airports/EDDF", "", 401},
		{"A token without the airports scope: 401 insufficient_scope", gw + "/v1/airports/EDDF", narrow, 401},
		{"A forged token: 401 invalid_token", gw + "/v1/charts/EDDF", "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.AAAA", 401},
		{"Charts with the narrow token", gw + "/v1/charts/EDDF", narrow, 200},
	}
	fmt.Fprintf(out, "Clearance is running.\n  gateway:    %s\n  admin:      http://%s/metrics\n  sample API: http://%s (behind the gateway)\n\n", gw, addrs.Admin, upstreamAddr)
	fmt.Fprintf(out, "A demo client is registered: %q with the secret %s\n(the secret is shown once; the quickstart makes a new client at every run).\n\n", client.ID, client.Secret)
	fmt.Fprintf(out, "# Ask the token endpoint for an access token (OAuth 2.0 client_credentials grant):\n")
	fmt.Fprintf(out, "curl -s -u '%s:%s' -d grant_type=client_credentials -d scope='airports charts' %s\n\n", client.ID, client.Secret, tokenURL)
	fmt.Fprintf(out, "# The quickstart did that for you, twice: a token with the airports and charts\n# scopes, and a narrow one with charts only (both valid 1 hour). Paste:\nexport TOKEN=%s\nexport NARROW=%s\n\n", full, narrow)
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
	fmt.Fprintf(out, "The developer portal: open %s/portal/ and sign in as %q with the password %q\nto see the demo client, its grants and sessions.\n\n", gw, demoUser, demoPassword)
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

// fetchToken asks the token endpoint for a client_credentials token, as the
// printed curl line does.
func fetchToken(ctx context.Context, tokenURL, id, secret, scope string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", fmt.Errorf("token endpoint: %w", err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&body); err != nil {
		return "", fmt.Errorf("token endpoint: %w", err)
	}
	if res.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: %d %s: %s", res.StatusCode, body.Error, body.Description)
	}
	return body.AccessToken, nil
}
