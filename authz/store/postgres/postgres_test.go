package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/store/storetest"
	"github.com/clearance-gw/clearance/internal/testpg"
)

func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := testpg.Get(t)
	var (
		mu   sync.Mutex
		dsns = map[string]string{}
	)
	storetest.Run(t, func(t *testing.T, name string) store.Store {
		t.Helper()
		mu.Lock()
		dsn, ok := dsns[name]
		if !ok {
			// The database outlives the subtest that made it: the
			// persistence test opens it again.
			dsn = srv.NewDB(t)
			dsns[name] = dsn
		}
		mu.Unlock()
		return open(t, dsn)
	})
}

// Two instances opening an empty database at once migrate it once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dsn := testpg.DB(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]*Store, n)
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), dsn, Options{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var rows int
	if err := stores[0].pool.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(migrations()) {
		t.Fatalf("schema_migrations has %d rows, want %d", rows, len(migrations()))
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	dsn := testpg.DB(t)
	s := open(t, dsn)
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version) VALUES ($1)`, len(migrations())+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(t.Context(), dsn, Options{})
	if err == nil || !strings.Contains(err.Error(), "upgrade the binary") {
		t.Fatalf("Open on a newer schema = %v, want an error saying to upgrade the binary", err)
	}
}

func TestBadDSNDoesNotEchoIt(t *testing.T) {
	_, err := Open(t.Context(), "postgres://u:sekrit@[::1", Options{})
	if err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Fatalf("Open(bad DSN) = %v, want an error without the password", err)
	}
}

// A database that does not answer costs a call its timeout, not a hang.
func TestUnreachableDatabaseFailsWithinTheTimeout(t *testing.T) {
	dsn := testpg.DB(t)
	// Opened with the default timeout, so that connecting and migrating on
	// a busy machine does not use up the short one tried below.
	s, err := Open(t.Context(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.timeout = 300 * time.Millisecond
	// Hold the revocation lock from another connection: a revocation
	// must wait for it, and gives up at the store's timeout.
	conn, err := s.pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(t.Context(), `SELECT pg_advisory_lock($1)`, lockRevocations); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, lockRevocations) //nolint:errcheck
	start := time.Now()
	err = s.RevokeJTI(t.Context(), "jti-1", time.Now().Add(time.Hour))
	if !errors.Is(err, context.DeadlineExceeded) && (err == nil || !strings.Contains(err.Error(), "timeout")) {
		t.Fatalf("RevokeJTI while locked = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("RevokeJTI took %v, want about the 300ms timeout", d)
	}
}
