package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/internal/testlog"
	"github.com/clearance-gw/clearance/internal/testpg"
)

// serveOnce runs serve with the given environment until it has started
// (then stops it) or exited; it returns the exit code (0 when it started)
// and what it wrote to stderr.
func serveOnce(t *testing.T, cfgPath string, vars map[string]string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errw := &testlog.Buffer{}
	started := make(chan struct{}, 1)
	done := make(chan int, 1)
	env := Env{Stdout: io.Discard, Stderr: errw, Now: time.Now,
		LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Started:   func(Addrs) { started <- struct{}{} }}
	go func() { done <- Run(ctx, []string{"serve", "--config", cfgPath}, env) }()
	select {
	case <-started:
		cancel()
		<-done
		return 0, errw.String()
	case code := <-done:
		return code, errw.String()
	case <-time.After(30 * time.Second):
		t.Fatal("serve neither started nor exited")
	}
	return -1, ""
}

func postgresConfig(t *testing.T, dsn string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
admin_listen: "127.0.0.1:0"
issuer: "http://gateway.test"
store: {driver: postgres, dsn: %q}
scopes: [charts]
routes: []
`, dsn)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func randomKEK() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// With PostgreSQL the key encryption key is required, checked at start, and
// a wrong one stops the start with an error that says so: never a panic,
// never a silently generated new key.
func TestPostgresKeyEncryptionKey(t *testing.T) {
	cfg := postgresConfig(t, testpg.DB(t))
	for _, tt := range []struct {
		name string
		vars map[string]string
		want string
	}{
		{"missing", map[string]string{}, "CLEARANCE_KEY_ENCRYPTION_KEY must be set"},
		{"wrong length", map[string]string{kekEnv: base64.StdEncoding.EncodeToString(make([]byte, 16))}, "is 16 bytes: want 32"},
		{"not base64", map[string]string{kekEnv: "not base64!"}, "not standard base64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, errs := serveOnce(t, cfg, tt.vars)
			if code == 0 || !strings.Contains(errs, tt.want) || strings.Contains(errs, "panic") {
				t.Fatalf("serve: exit %d, stderr %q; want a failure saying %q", code, errs, tt.want)
			}
		})
	}
	good := randomKEK()
	if code, errs := serveOnce(t, cfg, map[string]string{kekEnv: good}); code != 0 {
		t.Fatalf("first start: exit %d: %s", code, errs)
	}
	code, errs := serveOnce(t, cfg, map[string]string{kekEnv: randomKEK()})
	if code == 0 || !strings.Contains(errs, "wrong CLEARANCE_KEY_ENCRYPTION_KEY") || strings.Contains(errs, "panic") {
		t.Fatalf("start with another key: exit %d, stderr %q; want a failure naming the wrong key", code, errs)
	}
	// Nothing was replaced: the right key still starts.
	if code, errs := serveOnce(t, cfg, map[string]string{kekEnv: good}); code != 0 {
		t.Fatalf("start with the right key after a wrong one: exit %d: %s", code, errs)
	}
}
