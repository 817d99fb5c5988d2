package guard

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/periodic"
)

// OriginClient is what ClientOrigins keeps of one client: its id, its
// scopes and the browser origins it allows.
type OriginClient struct {
	ID             string
	Scopes         []string
	AllowedOrigins []string
}

// ClientLister lists every client's origins: what ClientOrigins reads from
// the store, declared here so that the guard does not import the store.
type ClientLister interface {
	ListClientOrigins(ctx context.Context) ([]OriginClient, error)
}

// ClientOrigins keeps every client's allowed browser origins (CORS) in
// memory, so that checking an Origin costs a map lookup and no store I/O.
// Refresh loads it whole (at start); SetClient and RemoveClient apply one
// client's change (the change feed, authz/feed, calls them), so keeping it
// current costs per change, not per client.
type ClientOrigins struct {
	src      ClientLister
	interval time.Duration
	log      *slog.Logger

	mu       sync.RWMutex
	byClient map[string]originEntry         // client id -> its origins and scopes
	byOrigin map[string]map[string]ScopeSet // origin -> clients allowing it -> their scopes
}

type originEntry struct {
	origins map[string]struct{}
	scopes  ScopeSet
}

// NewClientOrigins returns an empty set; call Refresh before use and Run
// (or the change feed) to keep it current. interval defaults to 2s.
func NewClientOrigins(src ClientLister, interval time.Duration, logger *slog.Logger) *ClientOrigins {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &ClientOrigins{src: src, interval: interval, log: logger,
		byClient: map[string]originEntry{}, byOrigin: map[string]map[string]ScopeSet{}}
}

// Refresh reloads every client's origins from the store.
func (o *ClientOrigins) Refresh(ctx context.Context) error {
	clients, err := o.src.ListClientOrigins(ctx)
	if err != nil {
		return err
	}
	byClient, byOrigin := make(map[string]originEntry), make(map[string]map[string]ScopeSet)
	for _, c := range clients {
		if len(c.AllowedOrigins) == 0 {
			continue
		}
		e := originEntry{origins: make(map[string]struct{}, len(c.AllowedOrigins)), scopes: ScopeSet(c.Scopes)}
		for _, origin := range c.AllowedOrigins {
			e.origins[origin] = struct{}{}
			addOrigin(byOrigin, origin, c.ID, e.scopes)
		}
		byClient[c.ID] = e
	}
	o.mu.Lock()
	o.byClient, o.byOrigin = byClient, byOrigin
	o.mu.Unlock()
	return nil
}

// SetClient puts c's current origins and scopes in force (c created or
// changed). The work is c's origins, not the number of clients.
func (o *ClientOrigins) SetClient(c OriginClient) {
	e := originEntry{origins: make(map[string]struct{}, len(c.AllowedOrigins)), scopes: ScopeSet(slices.Clone(c.Scopes))}
	for _, origin := range c.AllowedOrigins {
		e.origins[origin] = struct{}{}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.removeLocked(c.ID)
	if len(e.origins) == 0 {
		return
	}
	o.byClient[c.ID] = e
	for origin := range e.origins {
		addOrigin(o.byOrigin, origin, c.ID, e.scopes)
	}
}

func addOrigin(m map[string]map[string]ScopeSet, origin, id string, scopes ScopeSet) {
	clients := m[origin]
	if clients == nil {
		clients = make(map[string]ScopeSet, 1)
		m[origin] = clients
	}
	clients[id] = scopes
}

// RemoveClient drops the client's origins (the client was deleted).
func (o *ClientOrigins) RemoveClient(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.removeLocked(id)
}

func (o *ClientOrigins) removeLocked(id string) {
	e, ok := o.byClient[id]
	if !ok {
		return
	}
	delete(o.byClient, id)
	for origin := range e.origins {
		delete(o.byOrigin[origin], id)
		if len(o.byOrigin[origin]) == 0 {
			delete(o.byOrigin, origin)
		}
	}
}

// Run refreshes the set every interval until ctx ends (when no change
// feed keeps it current).
func (o *ClientOrigins) Run(ctx context.Context) {
	periodic.Every(ctx, o.interval, o.Refresh, func(err error) {
		o.log.WarnContext(ctx, "refresh client origins", "error", err)
	})
}

// ClientAllows reports whether the client allows requests from origin.
func (o *ClientOrigins) ClientAllows(clientID, origin string) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	_, ok := o.byClient[clientID].origins[origin]
	return ok
}

// RouteAllows reports whether some client that may call the route (its
// scopes satisfy the route's) allows origin: the preflight question, asked
// before any token is seen.
func (o *ClientOrigins) RouteAllows(route *config.Route, origin string) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, scopes := range o.byOrigin[origin] {
		if scopes.HasAll(route.Scopes) && scopes.HasAny(route.AnyScopes) {
			return true
		}
	}
	return false
}
