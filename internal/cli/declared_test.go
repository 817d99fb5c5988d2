package cli

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

// TestDeclaredClient: a client declared in gateway.yaml with its secret in
// an environment variable is registered at start and gets tokens.
func TestDeclaredClient(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	ti := newTestIssuer(t)
	cfgPath := filepath.Join(t.TempDir(), "gateway.yaml")
	writeConfig(t, cfgPath, up.URL, ti, "")
	f, _ := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	io.WriteString(f, "clients:\n  - id: demo-backend\n    name: Demo backend\n    secret: ${DEMO_SECRET}\n    grants: [client_credentials]\n    scopes: [charts]\n")
	f.Close()
	const secret = "s3cr3t+&%=-with-enough-length"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan Addrs, 1)
	done := make(chan int, 1)
	env := Env{Stdout: io.Discard, Stderr: io.Discard, Now: time.Now, Started: func(a Addrs) { started <- a },
		LookupEnv: func(k string) (string, bool) {
			if k == "DEMO_SECRET" {
				return secret, true
			}
			return "", false
		}}
	go func() { done <- Run(ctx, []string{"serve", "--config", cfgPath}, env) }()
	var addrs Addrs
	select {
	case addrs = <-started:
	case code := <-done:
		t.Fatalf("serve exited with %d", code)
	}
	cc := clientcredentials.Config{ClientID: "demo-backend", ClientSecret: secret, TokenURL: "http://" + addrs.Public + "/token"}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("declared client: %v", err)
	}
	if got := callAPI(t, "http://"+addrs.Public+"/v1/charts/x", tok.AccessToken); got != http.StatusOK {
		t.Errorf("API: %d", got)
	}
	cancel()
	<-done
}
