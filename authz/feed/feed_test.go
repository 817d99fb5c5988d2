package feed_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/clearance-gw/clearance/authz/feed"
	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/authz/metering/planview"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
)

// memStore is an in-memory store of clients and users with a change feed
// that counts the clients it reads.
type memStore struct {
	mu      sync.Mutex
	clients map[string]store.Client
	users   map[string]store.User
	changes []store.Change
	pruned  int64 // changes up to this seq are gone
	reads   int   // clients read (GetClient, ListClients rows)
}

func newMemStore() *memStore {
	return &memStore{clients: map[string]store.Client{}, users: map[string]store.User{}}
}

func (m *memStore) record(kind, key string) {
	m.changes = append(m.changes, store.Change{Seq: int64(len(m.changes) + 1), Kind: kind, Key: key})
}

func (m *memStore) putClient(c store.Client) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clients[c.ID] = c
	m.record(store.ChangeClient, c.ID)
}

func (m *memStore) deleteClient(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.clients, id)
	m.record(store.ChangeClient, id)
}

func (m *memStore) putUser(u store.User) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users[u.Name] = u
	m.record(store.ChangeUser, u.Name)
}

func (m *memStore) ChangesSince(_ context.Context, seq int64) ([]store.Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if seq < m.pruned {
		return nil, store.ErrChangesPruned
	}
	return slices.Clone(m.changes[seq:]), nil
}

func (m *memStore) LatestChange(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.changes)), nil
}

func (m *memStore) GetClient(_ context.Context, id string) (store.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	c, ok := m.clients[id]
	if !ok {
		return store.Client{}, store.ErrNotFound
	}
	return c, nil
}

func (m *memStore) GetUser(_ context.Context, name string) (store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return u, nil
}

func (m *memStore) ListClients(_ context.Context, owner string) ([]store.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Client
	for _, c := range m.clients {
		if owner == "" || c.Owner == owner {
			out = append(out, c)
		}
	}
	m.reads += len(out)
	return out, nil
}

func (m *memStore) ListUsers(context.Context) ([]store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.User
	for _, u := range m.users {
		out = append(out, u)
	}
	return out, nil
}

func (m *memStore) readCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads
}

var chartsRoute = &config.Route{Scopes: []string{"charts"}}

func client(id string, origins ...string) store.Client {
	return store.Client{ID: id, Scopes: []string{"charts"}, AllowedOrigins: origins}
}

func TestChangesReachTheViewsAsDeltas(t *testing.T) {
	st := newMemStore()
	for i := range 1000 {
		st.putClient(client(fmt.Sprintf("c%d", i), fmt.Sprintf("https://c%d.example", i)))
	}
	st.putUser(store.User{Name: "olga", Plan: "gold"})
	st.putClient(store.Client{ID: "owned", Owner: "olga", Scopes: []string{"charts"}})
	origins := guard.NewClientOrigins(originLister{st}, 0, nil)
	plans := planview.NewClientPlans(st, 0, nil)
	f := feed.New(st, origins, plans, nil)
	if err := f.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !origins.ClientAllows("c5", "https://c5.example") || plans.PlanOf("owned") != "gold" {
		t.Fatal("the load missed a client")
	}

	before := st.readCount()
	st.putClient(client("c5", "https://new.example"))    // origins changed
	st.deleteClient("c6")                                // deleted
	st.putClient(client("fresh", "https://c7.example"))  // created, sharing an origin
	st.putUser(store.User{Name: "olga", Plan: "silver"}) // the owner's plan
	if err := f.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if reads := st.readCount() - before; reads > 4 {
		t.Errorf("Sync read %d clients for 4 changes, want at most 4 (not the whole table)", reads)
	}
	for _, tt := range []struct {
		client, origin string
		want           bool
	}{
		{"c5", "https://new.example", true},
		{"c5", "https://c5.example", false},
		{"c6", "https://c6.example", false},
		{"fresh", "https://c7.example", true},
		{"c7", "https://c7.example", true},
	} {
		if got := origins.ClientAllows(tt.client, tt.origin); got != tt.want {
			t.Errorf("ClientAllows(%q, %q) = %v, want %v", tt.client, tt.origin, got, tt.want)
		}
	}
	if origins.RouteAllows(chartsRoute, "https://c6.example") || origins.RouteAllows(chartsRoute, "https://c5.example") {
		t.Error("a preflight is still allowed for an origin no client has")
	}
	if !origins.RouteAllows(chartsRoute, "https://new.example") {
		t.Error("a preflight is refused for a changed client's new origin")
	}
	if plans.PlanOf("owned") != "silver" {
		t.Errorf("plan after the owner's change = %q, want silver", plans.PlanOf("owned"))
	}

	// Removing c7 leaves the origin to "fresh".
	st.deleteClient("c7")
	if err := f.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !origins.RouteAllows(chartsRoute, "https://c7.example") || origins.ClientAllows("c7", "https://c7.example") {
		t.Error("deleting one of two clients of an origin lost the other or kept the deleted")
	}
	if f.Seq() != int64(len(st.changes)) {
		t.Errorf("Seq = %d, want %d", f.Seq(), len(st.changes))
	}
}

// errStore fails GetClient while err is set.
type errStore struct {
	*memStore
	err error
}

func (e *errStore) GetClient(ctx context.Context, id string) (store.Client, error) {
	if e.err != nil {
		return store.Client{}, e.err
	}
	return e.memStore.GetClient(ctx, id)
}

func TestFailedSyncRetriesFromTheSameChange(t *testing.T) {
	st := &errStore{memStore: newMemStore()}
	origins := guard.NewClientOrigins(originLister{st}, 0, nil)
	f := feed.New(st, origins, nil, nil)
	if err := f.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	st.putClient(client("a", "https://a.example"))
	st.err = errors.New("store down")
	if err := f.Sync(t.Context()); err == nil {
		t.Fatal("Sync succeeded while the store failed")
	}
	st.err = nil
	if err := f.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !origins.ClientAllows("a", "https://a.example") {
		t.Fatal("the change was lost by the failed Sync")
	}
}

func TestFallingBehindTheRetentionLoadsWhole(t *testing.T) {
	st := newMemStore()
	origins := guard.NewClientOrigins(originLister{st}, 0, nil)
	f := feed.New(st, origins, nil, nil)
	if err := f.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	st.putClient(client("a", "https://a.example"))
	st.putClient(client("b", "https://b.example"))
	st.pruned = 2
	if err := f.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !origins.ClientAllows("a", "https://a.example") || !origins.ClientAllows("b", "https://b.example") || f.Seq() != 2 {
		t.Fatalf("after the pruned feed: a %v, b %v, seq %d", origins.ClientAllows("a", "https://a.example"),
			origins.ClientAllows("b", "https://b.example"), f.Seq())
	}
}

// BenchmarkOneChangeOf100kClients is the work of bringing one client's
// change into the views of an instance holding 100,000 clients: the
// change feed (full: the reload every 2 s it replaces, as the baseline).
func BenchmarkOneChangeOf100kClients(b *testing.B) {
	st := newMemStore()
	for i := range 100_000 {
		st.putClient(client(fmt.Sprintf("client-%06d", i), fmt.Sprintf("https://c%d.example", i), "http://localhost:3000"))
	}
	origins := guard.NewClientOrigins(originLister{st}, 0, nil)
	plans := planview.NewClientPlans(st, 0, nil)
	f := feed.New(st, origins, plans, nil)
	if err := f.Load(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Run("feed", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			st.putClient(client("client-004242", fmt.Sprintf("https://v%d.example", i), "http://localhost:3000"))
			if err := f.Sync(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("idle", func(b *testing.B) {
		for b.Loop() {
			if err := f.Sync(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			if err := origins.Refresh(b.Context()); err != nil {
				b.Fatal(err)
			}
			if err := plans.Refresh(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// originLister reads the guard's origins view from the store, as the
// wiring does.
type originLister struct {
	st interface {
		ListClients(ctx context.Context, owner string) ([]store.Client, error)
	}
}

func (l originLister) ListClientOrigins(ctx context.Context) ([]guard.OriginClient, error) {
	cs, err := l.st.ListClients(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]guard.OriginClient, len(cs))
	for i, c := range cs {
		out[i] = guard.OriginClient{ID: c.ID, Scopes: c.Scopes, AllowedOrigins: c.AllowedOrigins}
	}
	return out, nil
}
