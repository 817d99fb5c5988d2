package guard

import (
	"context"
	"log/slog"
	"sync/atomic"
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
// memory, refreshed from the store in the background, so that checking an
// Origin costs a map lookup and no store I/O. Refresh it at once after a
// change made on this instance (the portal does); changes made elsewhere
// arrive within the refresh interval.
type ClientOrigins struct {
	src      ClientLister
	interval time.Duration
	log      *slog.Logger
	snap     atomic.Pointer[originSnapshot]
}

type originClient struct {
	id     string
	scopes ScopeSet
}

type originSnapshot struct {
	byClient map[string]map[string]struct{} // client id -> origins
	byOrigin map[string][]originClient      // origin -> clients allowing it
}

// NewClientOrigins returns an empty set; call Refresh before use and Run to
// keep it current. interval defaults to 2s.
func NewClientOrigins(src ClientLister, interval time.Duration, logger *slog.Logger) *ClientOrigins {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := &ClientOrigins{src: src, interval: interval, log: logger}
	o.snap.Store(&originSnapshot{})
	return o
}

// Refresh reloads every client's origins from the store.
func (o *ClientOrigins) Refresh(ctx context.Context) error {
	clients, err := o.src.ListClientOrigins(ctx)
	if err != nil {
		return err
	}
	s := &originSnapshot{byClient: make(map[string]map[string]struct{}), byOrigin: make(map[string][]originClient)}
	for _, c := range clients {
		if len(c.AllowedOrigins) == 0 {
			continue
		}
		set := make(map[string]struct{}, len(c.AllowedOrigins))
		for _, origin := range c.AllowedOrigins {
			set[origin] = struct{}{}
			s.byOrigin[origin] = append(s.byOrigin[origin], originClient{id: c.ID, scopes: ScopeSet(c.Scopes)})
		}
		s.byClient[c.ID] = set
	}
	o.snap.Store(s)
	return nil
}

// Run refreshes the set every interval until ctx ends.
func (o *ClientOrigins) Run(ctx context.Context) {
	periodic.Every(ctx, o.interval, o.Refresh, func(err error) {
		o.log.WarnContext(ctx, "refresh client origins", "error", err)
	})
}

// ClientAllows reports whether the client allows requests from origin.
func (o *ClientOrigins) ClientAllows(clientID, origin string) bool {
	_, ok := o.snap.Load().byClient[clientID][origin]
	return ok
}

// RouteAllows reports whether some client that may call the route (its
// scopes satisfy the route's) allows origin: the preflight question, asked
// before any token is seen.
func (o *ClientOrigins) RouteAllows(route *config.Route, origin string) bool {
	for _, c := range o.snap.Load().byOrigin[origin] {
		if c.scopes.HasAll(route.Scopes) && c.scopes.HasAny(route.AnyScopes) {
			return true
		}
	}
	return false
}
