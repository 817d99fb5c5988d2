package sqlite

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/authz/store/storetest"
	"github.com/clearance-gw/clearance/internal/testclock"
)

// The whole conformance suite holds with the client view on and a clock
// that never lets an entry expire: every answer the suite checks after a
// write of the same Store is the database's.
func TestConformanceWithClientCache(t *testing.T) {
	dir := t.TempDir()
	clock := testclock.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	storetest.Run(t, func(t *testing.T, name string) store.Store {
		t.Helper()
		s, err := Open(t.Context(), filepath.Join(dir, name+".db"))
		if err != nil {
			t.Fatal(err)
		}
		s.CacheClients(clock.Now, time.Hour)
		return s
	})
}

// cacheFixture is a Store with the client view on and a second Store on
// the same file with none: another process (the command line).
type cacheFixture struct {
	s, other *Store
	clock    *testclock.Clock
	created  time.Time
}

const cacheTTL = 500 * time.Millisecond

func newCacheFixture(t *testing.T) *cacheFixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clearance.db")
	open := func() *Store {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	f := &cacheFixture{s: open(), other: open(), created: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	f.clock = testclock.New(f.created)
	f.s.CacheClients(f.clock.Now, cacheTTL)
	if err := f.s.CreateClient(t.Context(), f.client("old-secret")); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *cacheFixture) client(sec string) store.Client {
	return store.Client{ID: "backend", Name: "Backend", SecretHash: secret.HashSecret(sec),
		Grants: []string{"client_credentials"}, Scopes: []string{"charts", "airports"}, CreatedAt: f.created}
}

// secretOf reads the client through the cached Store and reports which
// secret it has.
func (f *cacheFixture) secretOf(t *testing.T) string {
	t.Helper()
	c, err := f.s.GetClient(t.Context(), "backend")
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "none"
	case err != nil:
		t.Fatal(err)
	}
	for _, s := range []string{"old-secret", "new-secret"} {
		if secret.EqualHash(c.SecretHash, secret.HashSecret(s)) {
			return s
		}
	}
	return "other"
}

// A new secret or a deletion made through the Store is in force for the
// very next read: the view is forgotten by every write.
func TestClientCacheForgetsOnLocalWrites(t *testing.T) {
	f := newCacheFixture(t)
	ctx := t.Context()
	if got := f.secretOf(t); got != "old-secret" {
		t.Fatalf("first read: %s", got)
	}
	if got := f.secretOf(t); got != "old-secret" { // from the view
		t.Fatalf("second read: %s", got)
	}
	if err := f.s.UpdateClient(ctx, f.client("new-secret")); err != nil {
		t.Fatal(err)
	}
	if got := f.secretOf(t); got != "new-secret" {
		t.Fatalf("after the secret changed here: %s", got)
	}
	if err := f.s.DeleteClient(ctx, "backend", f.created.Add(time.Minute), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := f.secretOf(t); got != "none" {
		t.Fatalf("after the client was deleted here: %s", got)
	}
	// A write of anything else forgets the view too.
	if err := f.s.UpsertClient(ctx, f.client("old-secret")); err != nil {
		t.Fatal(err)
	}
	_ = f.secretOf(t)
	if err := f.other.UpdateClient(ctx, f.client("new-secret")); err != nil {
		t.Fatal(err)
	}
	if err := f.s.RevokeJTI(ctx, "some-jti", f.created.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := f.secretOf(t); got != "new-secret" {
		t.Fatalf("after an unrelated write here: %s", got)
	}
}

// A change committed by another process (the command line) is read by
// the next lookup: the WAL index header moved.
func TestClientCacheFollowsOtherProcesses(t *testing.T) {
	f := newCacheFixture(t)
	ctx := t.Context()
	if got := f.secretOf(t); got != "old-secret" {
		t.Fatalf("first read: %s", got)
	}
	if err := f.other.UpdateClient(ctx, f.client("new-secret")); err != nil {
		t.Fatal(err)
	}
	if got := f.secretOf(t); got != "new-secret" {
		t.Fatalf("after the secret changed elsewhere: %s", got)
	}
	if got := f.secretOf(t); got != "new-secret" { // from the view
		t.Fatalf("read again: %s", got)
	}
	if err := f.other.DeleteClient(ctx, "backend", f.created.Add(time.Minute), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := f.secretOf(t); got != "none" {
		t.Fatalf("after the client was deleted elsewhere: %s", got)
	}
}

// The bounds behind the header: an entry the header would not have
// forgotten (put here by hand) is not answered once ttl is over by the
// clock, nor after ChangesSince listed a change.
func TestClientCacheBackstops(t *testing.T) {
	ctx := t.Context()
	stale := func(f *cacheFixture) {
		c, err := f.s.GetClient(ctx, "backend")
		if err != nil {
			t.Fatal(err)
		}
		c.SecretHash = secret.HashSecret("new-secret") // not in the database
		_, _, gen := f.s.clients.get("backend")
		f.s.clients.put(c, gen)
	}
	t.Run("lifetime", func(t *testing.T) {
		f := newCacheFixture(t)
		stale(f)
		f.clock.Advance(cacheTTL - time.Nanosecond)
		if got := f.secretOf(t); got != "new-secret" {
			t.Fatalf("within the lifetime: %s, want the entry put by hand", got)
		}
		f.clock.Advance(time.Nanosecond)
		if got := f.secretOf(t); got != "old-secret" {
			t.Fatalf("once the lifetime is over: %s, want the database's", got)
		}
	})
	t.Run("change feed", func(t *testing.T) {
		f := newCacheFixture(t)
		seq, err := f.s.LatestChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.other.UpsertClient(ctx, store.Client{ID: "other", Name: "Other"}); err != nil {
			t.Fatal(err)
		}
		_ = f.secretOf(t) // the header moved: forgotten here
		stale(f)
		if changes, err := f.s.ChangesSince(ctx, seq); err != nil || len(changes) != 1 {
			t.Fatalf("ChangesSince = %v, %v", changes, err)
		}
		if got := f.secretOf(t); got != "old-secret" {
			t.Fatalf("after ChangesSince listed a change: %s, want the database's", got)
		}
	})
}

// What a caller is given is its own: changing it changes neither the view
// nor what the next caller gets.
func TestClientCacheAnswersCopies(t *testing.T) {
	f := newCacheFixture(t)
	ctx := t.Context()
	want, err := f.s.GetClient(ctx, "backend")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		c, err := f.s.GetClient(ctx, "backend")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("cached client %+v, want %+v", c, want)
		}
		c.Scopes[0] = "admin"
		c.Grants = append(c.Grants, "password")
		c.Scopes = append(c.Scopes, "admin")
		c.SecretHash[0] ^= 0xff
	}
	c, err := f.s.GetClient(ctx, "backend")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Scopes, []string{"charts", "airports"}) || !reflect.DeepEqual(c.Grants, []string{"client_credentials"}) ||
		!bytes.Equal(c.SecretHash, secret.HashSecret("old-secret")) {
		t.Fatalf("the view was changed through a caller's copy: %+v", c)
	}
}

// A read that began before a write does not put what it read back into
// the view after the write forgot it (run with -race).
func TestClientCacheConcurrentWrites(t *testing.T) {
	f := newCacheFixture(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := f.s.GetClient(ctx, "backend"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range 50 {
		c := f.client(fmt.Sprint("secret-", i))
		if err := f.s.UpdateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := f.s.GetClient(ctx, "backend")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.SecretHash, c.SecretHash) {
			t.Fatalf("write %d: read an older secret after the write returned", i)
		}
	}
	close(stop)
	wg.Wait()
}
