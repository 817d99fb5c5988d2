package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/clearance-gw/clearance/authz/signing"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// kekEnv names the environment variable holding the key that encrypts
// private signing keys in the store (32 random bytes, standard base64).
const kekEnv = "CLEARANCE_KEY_ENCRYPTION_KEY"

// loadKEK returns the key-encryption key from the environment. With the
// embedded store and no variable set, a key file beside the database is
// used (created on first start, mode 0600), so a single instance works
// without setup; a shared store needs the variable on every instance.
func loadKEK(cfg *config.Config, env Env, logger *slog.Logger) ([]byte, error) {
	if v, ok := env.LookupEnv(kekEnv); ok && v != "" {
		kek, err := signing.ParseKEK(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kekEnv, err)
		}
		return kek, nil
	}
	if cfg.Store.Driver != "sqlite" {
		return nil, fmt.Errorf("%s must be set with store driver %q (32 random bytes in base64: openssl rand -base64 32)", kekEnv, cfg.Store.Driver)
	}
	path := filepath.Join(filepath.Dir(sqlitePath(cfg.Store.DSN.Reveal())), "clearance.kek")
	created, err := createKeyFile(path)
	if err != nil {
		return nil, err
	}
	if created {
		logger.Warn(kekEnv+" is not set: created a key file beside the database; set the variable in production", "key_file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	kek, err := signing.ParseKEK(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return kek, nil
}

// createKeyFile writes a new random key to path unless the file exists.
func createKeyFile(path string) (bool, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("create key file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create key file: %w", err)
	}
	raw := make([]byte, signing.KEKSize)
	rand.Read(raw)
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(raw) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return false, fmt.Errorf("create key file: %w", err)
	}
	return true, nil
}

// sqlitePath is the file part of a SQLite DSN ("file:x.db?_pragma=...").
func sqlitePath(dsn string) string {
	dsn = strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(dsn, '?'); i >= 0 {
		dsn = dsn[:i]
	}
	return dsn
}

// openKeys opens the signing keyring of the store (generating the first key
// on first start).
func openKeys(ctx context.Context, cfg *config.Config, st store.Store, kek []byte, env Env, logger *slog.Logger) (*signing.Keyring, error) {
	opts := signing.KeyringOptionsFor(cfg, kek)
	opts.Now = env.Now
	opts.Logger = logger.With("component", "keys")
	opts.ReloadInterval = keyReloadInterval
	// Every instance reloads keys within keyReloadInterval: a rotated-in
	// key is published for two of them before it signs.
	opts.Activation = 2 * keyReloadInterval
	locker, ok := st.(clusterLocker)
	if !ok {
		return signing.NewKeyring(ctx, st, opts)
	}
	// Instances starting at once on an empty shared store: one generates
	// the first key, the others find it.
	var keys *signing.Keyring
	err := locker.WithLock(ctx, "signing-keys", func(ctx context.Context) error {
		var err error
		keys, err = signing.NewKeyring(ctx, st, opts)
		return err
	})
	return keys, err
}
