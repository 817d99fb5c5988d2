// Command quickstart shows Clearance working end to end on one machine: it
// starts the sample aviation data API and the gateway (with the repository's
// gateway.yaml and its embedded store), registers a demo client, then prints
// the curl lines that fetch a token and call the API through the gateway,
// and the 401s a missing or wrong token gets.
//
//	go run ./examples/quickstart          # run until Ctrl-C
//	go run ./examples/quickstart --check  # run every printed call, verify, exit
//	go run ./examples/quickstart -listen 127.0.0.1:8081 -admin-listen 127.0.0.1:9091 -upstream 127.0.0.1:9001
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
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clearance-gw/clearance/examples/upstream/sampleapi"
	"github.com/clearance-gw/clearance/internal/cli"
)

const (
	// defaultUpstream is where the sample API listens unless -upstream says
	// otherwise, and where every route of gateway.yaml points.
	defaultUpstream = "127.0.0.1:9000"
	demoClient      = "demo-backend"
	// The demo portal login. A fixed password is fine for a gateway that
	// listens on loopback only; never reuse it elsewhere.
	demoUser     = "demo"
	demoPassword = "demo-password"
)

// options are the quickstart's flags.
type options struct {
	config      string // the gateway configuration to run
	check       bool   // make every printed call, verify, exit
	listen      string // the gateway's public address; "" keeps the config's
	adminListen string // the gateway's admin address; "" keeps the config's
	upstream    string // where the sample API listens
}

const usage = `Usage: go run ./examples/quickstart [flags]

Starts, on this machine, a sample aviation data API and the Clearance gateway
in front of it (with gateway.yaml: the gateway on 127.0.0.1:8080, its admin
listener on 127.0.0.1:9090, the sample API on 127.0.0.1:9000). It then
registers a demo client (a program allowed to ask for tokens), gets two
access tokens for it, and prints curl commands to try: calls with a token
reach the API, calls without one are refused with 401. Ctrl-C stops it.

If one of those ports is taken by another program, choose others:
  go run ./examples/quickstart -listen 127.0.0.1:8081 -admin-listen 127.0.0.1:9091 -upstream 127.0.0.1:9001

Flags:
`

func main() {
	var o options
	flag.BoolVar(&o.check, "check", false, "make every call the quickstart prints, verify the answers, and exit")
	flag.StringVar(&o.config, "config", "gateway.yaml", "gateway configuration to run")
	flag.StringVar(&o.listen, "listen", "", "host:port of the gateway, where the curl commands go (default: the config's listen, 127.0.0.1:8080)")
	flag.StringVar(&o.adminListen, "admin-listen", "", "host:port of the gateway's admin listener, /metrics (default: the config's admin_listen, 127.0.0.1:9090)")
	flag.StringVar(&o.upstream, "upstream", defaultUpstream, "host:port of the sample API; the config's routes to "+defaultUpstream+" are sent there")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), usage)
		flag.PrintDefaults()
	}
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// 1. The sample API the gateway protects.
	upstreamAddr, err := serve(ctx, o.upstream, sampleapi.NewHandler())
	if err != nil {
		return fmt.Errorf("sample API: %w (is another program using it? choose another address with -upstream)", err)
	}
	// Other addresses than the config's: run a copy of it that names them.
	configPath := o.config
	if o.listen != "" || o.adminListen != "" || upstreamAddr != defaultUpstream {
		derived, remove, err := deriveConfig(o.config, o.listen, o.adminListen, upstreamAddr)
		if err != nil {
			return err
		}
		defer remove()
		configPath = derived
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

	// 3. The gateway itself, exactly as "clearance serve" runs it. Its log
	// stays quiet, but its last words are kept to say why it stopped.
	started := make(chan cli.Addrs, 1)
	done := make(chan int, 1)
	gwErr := &lastLine{}
	senv := env
	senv.Stderr = gwErr
	senv.Started = func(a cli.Addrs) { started <- a }
	go func() { done <- cli.Run(ctx, []string{"serve", "--config", configPath}, senv) }()
	var addrs cli.Addrs
	select {
	case addrs = <-started:
	case code := <-done:
		return gatewayStopped(code, gwErr.String())
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
	if o.check {
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
		return gatewayStopped(code, gwErr.String())
	}
	return nil
}

// gatewayStopped says why the gateway exited, in its own words.
func gatewayStopped(code int, last string) error {
	if last == "" {
		return fmt.Errorf("the gateway exited with code %d", code)
	}
	err := fmt.Errorf("the gateway stopped: %s", last)
	if strings.Contains(last, "address already in use") {
		err = fmt.Errorf("%w\n(another program uses that address: choose others with -listen and -admin-listen, see -help)", err)
	}
	return err
}

// lastLine keeps the last non-empty line written to it: the gateway's error
// when it exits.
type lastLine struct {
	mu   sync.Mutex
	buf  []byte // the line being written
	last string
}

func (l *lastLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(l.buf[:i])); line != "" {
			l.last = line
		}
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lastLine) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if line := strings.TrimSpace(string(l.buf)); line != "" {
		return line
	}
	return l.last
}

// deriveConfig writes a copy of the config at path with other addresses:
// listen and admin_listen (when not ""), the issuer's port when it named
// the old listen port on this machine, and every route to defaultUpstream
// sent to upstream instead. The copy sits next to the original, so every
// relative path in it means the same file; remove deletes it.
func deriveConfig(path, listen, adminListen, upstream string) (derived string, remove func(), err error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return "", nil, fmt.Errorf("%s: not a YAML mapping (run: go run ./cmd/clearance check --config %s)", path, path)
	}
	root := doc.Content[0]
	if listen != "" {
		old := ":8080"
		if n := valueOf(root, "listen"); n != nil {
			old = n.Value
		}
		setScalar(root, "listen", listen)
		if iss := valueOf(root, "issuer"); iss != nil {
			iss.Value = movePort(iss.Value, old, listen)
		}
	}
	if adminListen != "" {
		setScalar(root, "admin_listen", adminListen)
	}
	if routes := valueOf(root, "routes"); routes != nil {
		for _, r := range routes.Content {
			if u := valueOf(r, "upstream"); u != nil {
				if pu, err := url.Parse(u.Value); err == nil && pu.Host == defaultUpstream {
					pu.Host = upstream
					u.Value = pu.String()
				}
			}
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return "", nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".quickstart-*.yaml")
	if err != nil {
		return "", nil, err
	}
	name := f.Name()
	remove = func() { os.Remove(name) }
	if _, err := f.Write(out); err != nil {
		f.Close()
		remove()
		return "", nil, err
	}
	if err := f.Close(); err != nil {
		remove()
		return "", nil, err
	}
	return name, remove, nil
}

// movePort changes the port of an issuer on this machine
// (http://localhost:8080) from the old listen address's to the new one's.
func movePort(issuer, oldListen, newListen string) string {
	u, err := url.Parse(issuer)
	if err != nil || (u.Hostname() != "localhost" && u.Hostname() != "127.0.0.1") {
		return issuer
	}
	_, oldPort, err1 := net.SplitHostPort(oldListen)
	_, newPort, err2 := net.SplitHostPort(newListen)
	if err1 != nil || err2 != nil || u.Port() != oldPort || newPort == "0" {
		return issuer
	}
	u.Host = net.JoinHostPort(u.Hostname(), newPort)
	return u.String()
}

// valueOf returns the value of key in the mapping m, or nil.
func valueOf(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setScalar sets key in the mapping m to the string v.
func setScalar(m *yaml.Node, key, v string) {
	if n := valueOf(m, key); n != nil {
		*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, LineComment: n.LineComment}
		return
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v})
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

// serve listens on addr and serves h until ctx ends; it returns the address
// it listens on.
func serve(ctx context.Context, addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return ln.Addr().String(), nil
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
