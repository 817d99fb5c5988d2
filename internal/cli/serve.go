package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/clearance-gw/clearance/authz/feed"
	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/authz/issuer"
	"github.com/clearance-gw/clearance/authz/login"
	"github.com/clearance-gw/clearance/authz/metering"
	"github.com/clearance-gw/clearance/authz/metering/planview"
	"github.com/clearance-gw/clearance/authz/revocation"
	"github.com/clearance-gw/clearance/authz/signing"
	"github.com/clearance-gw/clearance/authz/store"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/clientip"
	"github.com/clearance-gw/clearance/internal/gcfloor"
	"github.com/clearance-gw/clearance/internal/periodic"
	"github.com/clearance-gw/clearance/proxy"
)

func runServe(ctx context.Context, c *cmdContext) error {
	fs := c.flags("[--config PATH] [--watch]", `
Runs the gateway: the public listener (your API routes, the OAuth endpoints)
and the admin listener (/metrics, /healthz, /readyz, the admin API under
/admin/api/v1).

Send SIGHUP to reload the configuration file. A reload applies to every part
of the gateway or to none: a file with problems, or one that changes what is
set up once at start (listen, admin_listen, store, subscriptions, tokens.alg,
log.format, the listener's timeouts), is refused and the running
configuration stays in force. SIGTERM or SIGINT stops the
gateway after the requests in flight have finished (at most
server.shutdown_grace).`)
	watch := fs.Bool("watch", false, "reload the configuration file whenever it changes")
	if err := c.parse(0, 0); err != nil {
		return err
	}
	cfg, err := config.Load(c.configPath, c.env.LookupEnv)
	if err != nil {
		return err
	}
	// The logger and the proxy's access log write to one writer, in whole
	// lines, one at a time. Into a file or a pipe, the lines are buffered:
	// one write(2) per request would cost more than the access log line.
	env := c.env
	lw := newLineWriter(c.env.Stderr)
	if _, ok := c.env.Stderr.(*os.File); ok {
		lw.buffered = true
		// Until serve returns, graceful stop included; then the rest.
		fctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		defer lw.Flush()
		defer stop()
		go lw.flushEvery(fctx, logFlushInterval)
	}
	env.Stderr = lw
	logger, level := newLeveledLogger(env.Stderr, cfg.Log)
	if floor := gcFloor(env); floor > 0 {
		f := gcfloor.Start(floor)
		defer f.Stop()
		logger.Debug("garbage collector floor", "bytes", floor)
	}
	g, err := newGateway(ctx, cfg, env, logger)
	if err != nil {
		return err
	}
	g.level = level
	defer g.close()

	pub, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	adm, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		pub.Close()
		return fmt.Errorf("listen %s: %w", cfg.AdminListen, err)
	}
	errLog := slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	pubSrv := &http.Server{
		Handler:           g.handler,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.D(),
		IdleTimeout:       cfg.Server.IdleTimeout.D(),
		MaxHeaderBytes:    proxy.HardHeaderLimit(cfg.Server.MaxHeaderBytes),
		ErrorLog:          errLog,
	}
	admSrv := &http.Server{Handler: g.admin, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}

	serveErr := make(chan error, 2)
	go func() { serveErr <- pubSrv.Serve(pub) }()
	go func() { serveErr <- admSrv.Serve(adm) }()
	logger.Info("clearance started", "listen", pub.Addr().String(), "admin_listen", adm.Addr().String(),
		"issuer", cfg.Issuer, "routes", len(cfg.Routes), "config", c.configPath)
	if c.env.Started != nil {
		c.env.Started(Addrs{Public: pub.Addr().String(), Admin: adm.Addr().String()})
	}

	var changed <-chan struct{}
	if *watch {
		changed = watchFile(ctx, c.configPath, time.Second)
	}
	for {
		select {
		case <-c.env.Reload:
			g.reload(c.configPath)
			lw.Flush()
		case <-changed:
			g.reload(c.configPath)
			lw.Flush()
		case err := <-serveErr:
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
			grace := g.current().Server.ShutdownGrace.D()
			logger.Info("shutting down", "grace", grace.String())
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
			defer cancel()
			var wg sync.WaitGroup
			var errs [2]error
			wg.Go(func() { errs[0] = pubSrv.Shutdown(sctx) })
			wg.Go(func() { errs[1] = admSrv.Shutdown(sctx) })
			wg.Wait()
			if err := errors.Join(errs[:]...); err != nil {
				logger.Warn("shutdown grace period over: connections closed", "error", err)
				pubSrv.Close()
				admSrv.Close()
			}
			logger.Info("stopped")
			return nil
		}
	}
}

// gcFloor is the floor serve sets under the garbage collector: env's,
// unless GOGC or GOMEMLIMIT is set (then the operator's settings rule).
func gcFloor(env Env) int64 {
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		if _, set := env.LookupEnv(k); set {
			return 0
		}
	}
	return env.GCFloor
}

// gateway is the running set of components, with the config in force.
type gateway struct {
	env     Env
	logger  *slog.Logger
	level   *slog.LevelVar // log.level, which a reload changes; nil: fixed
	mu      sync.Mutex     // serialises reloads
	cfg     *config.Config
	st      store.Store
	guard   *guard.Guard
	meter   *metering.Meter
	issuer  *issuer.Server
	proxy   *proxy.Handler
	pm      *proxy.Metrics
	ips     *clientip.Resolver
	handler http.Handler
	admin   http.Handler
	closers []func()

	// What the portal and the subscriptions endpoint are built from, for
	// each config.
	revs  *revocation.Set
	users *login.Authenticator
	kek   []byte
	subs  subscriptionSource
}

// Intervals of the background loops.
const (
	keyReloadInterval     = time.Second            // other instances' key rotations
	sessionsGaugeInterval = 15 * time.Second       // clearance_active_sessions
	pruneInterval         = time.Hour              // expired revocations, codes, sessions
	originsInterval       = 2 * time.Second        // unused while the change feed keeps the origins current
	plansInterval         = time.Second            // unused while the change feed keeps the plans current
	feedInterval          = 500 * time.Millisecond // clients and users changed elsewhere (SPEC §11: plans within a second)
)

func newGateway(ctx context.Context, cfg *config.Config, env Env, logger *slog.Logger) (_ *gateway, err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g := &gateway{env: env, logger: logger, cfg: cfg, closers: []func(){cancel}}
	defer func() {
		if err != nil {
			g.close()
		}
	}()

	st, err := openStoreLogged(ctx, cfg, logger.With("component", "store"))
	if err != nil {
		return nil, err
	}
	g.st = st
	g.closers = append(g.closers, func() { st.Close() })
	if c, ok := st.(clientCacher); ok {
		// The client of a token request from memory, read again after
		// any commit to the store, the command line's included.
		c.CacheClients(env.Now, feedInterval)
	}
	if err := issuer.UpsertClients(ctx, st, cfg); err != nil {
		return nil, fmt.Errorf("register the clients of the config: %w", err)
	}
	kek, err := loadKEK(cfg, env, logger)
	if err != nil {
		return nil, err
	}
	keys, err := openKeys(ctx, cfg, st, kek, env, logger)
	if err != nil {
		return nil, err
	}
	origins := guard.NewClientOrigins(storeOrigins{st}, originsInterval, logger.With("component", "origins"))
	revs := revocation.New(st, revocation.Options{Now: env.Now, Logger: logger.With("component", "revocations"), Registerer: reg})
	if err := revs.Sync(ctx); err != nil {
		return nil, fmt.Errorf("load revocations: %w", err)
	}

	g.revs, g.kek = revs, kek

	plans := planview.NewClientPlans(st, plansInterval, logger.With("component", "plans"))
	// One change feed keeps the views of clients current: loaded whole
	// here, then only the clients and users changed are read again.
	views := feed.New(st, origins, plans, logger.With("component", "feed"))
	if err := views.Load(ctx); err != nil {
		return nil, err
	}
	meter := metering.New(st, cfg, metering.Options{Now: env.Now, Logger: logger.With("component", "metering"),
		Registerer: reg, Plans: plans})
	if err := meter.Load(ctx); err != nil {
		return nil, err
	}
	g.meter = meter
	// Closers run last first: the background loops stop, then the counts
	// are written before the store closes.
	g.closers = append(g.closers, func() {
		cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := meter.Close(ctx); err != nil {
			logger.Error("usage counts not written at shutdown", "error", err)
		}
	})

	am := guard.NewMetrics(reg)
	subs, err := newSubscriptionSource(cfg, st, env, reg, am)
	if err != nil {
		return nil, err
	}
	g.subs = subs
	gd, err := guard.NewGuard(gctx, cfg, guard.Options{
		Now:           env.Now,
		Logger:        logger,
		Metrics:       am,
		Revocations:   revs,
		Subscriptions: subs,
		Origins:       origins,
		Meter:         meter,
	})
	if err != nil {
		return nil, err
	}
	g.guard = gd
	keys.OnChange(func(set jwk.Set) {
		if err := gd.SetLocalKeys(set); err != nil {
			logger.Error("signing keys refused by the guard", "error", err)
		}
	})
	// One client-address rule (server.trusted_proxies) for the login
	// throttle and the access log, and one login for the portal (and so
	// /authorize) and the password-taking grants: one throttle, one pool.
	trusted, err := clientip.Parse(cfg.Server.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("server.trusted_proxies: %w", err)
	}
	g.ips = clientip.NewResolver(trusted)
	g.users, err = login.New(st, login.Options{Now: env.Now})
	if err != nil {
		return nil, err
	}
	iss, err := issuer.New(cfg, st, keys, issuer.Options{
		Now:         env.Now,
		Logger:      logger,
		Metrics:     issuer.NewMetrics(reg),
		Revocations: revs,
		UserAuth:    g.users,
		ClientAddr:  g.ips.Addr,
	})
	if err != nil {
		return nil, err
	}
	g.issuer = iss

	eps, err := g.endpointsFor(cfg)
	if err != nil {
		return nil, err
	}
	g.pm = proxy.NewMetrics(reg)
	h, err := proxy.New(cfg, gd, proxy.Options{
		Logger:        logger,
		Metrics:       g.pm,
		Now:           env.Now,
		Endpoints:     eps,
		OriginAllowed: origins.RouteAllows,
		ClientAddr:    g.ips.Addr,
		JSONAccessLog: jsonLogWriter(env.Stderr, cfg.Log),
	})
	if err != nil {
		return nil, err
	}
	g.proxy = h
	g.handler = h
	pprofMode, _ := env.LookupEnv(pprofEnv)
	admin, err := withPprof(proxy.NewAdmin(reg, g.ready), pprofMode)
	if err != nil {
		return nil, err
	}
	g.admin = g.adminHandler(admin, keys)

	go revs.Run(gctx)
	go views.Run(gctx, feedInterval, nil)
	go meter.Run(gctx)
	go keys.Run(gctx)
	go iss.Run(gctx, sessionsGaugeInterval)
	go g.prune(gctx)
	if w, ok := st.(changeWatcher); ok {
		go g.follow(gctx, w, revs, views, keys)
	}
	return g, nil
}

// follow resyncs the in-memory views (revocations, the views of clients
// that follow the change feed, signing keys) whenever the store announces a change made by any instance, so
// they are current within moments; their periodic polls remain the
// fallback for when the announcements stop. Wakes during a resync are
// coalesced into one more.
func (g *gateway) follow(ctx context.Context, w changeWatcher, revs *revocation.Set, views *feed.Follower, keys *signing.Keyring) {
	wake := make(chan struct{}, 1)
	go w.Watch(ctx, time.Second, func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		for _, step := range []struct {
			name string
			fn   func(context.Context) error
		}{{"revocations", revs.Sync}, {"clients", views.Sync}, {"signing keys", keys.Reload}} {
			if err := step.fn(ctx); err != nil && ctx.Err() == nil {
				g.logger.Warn("resync after a change notification", "view", step.name, "error", err)
			}
		}
	}
}

// endpointsFor builds the gateway's own handlers for cfg: the issuer's
// (the token endpoint at cfg's path, the metadata describing cfg), a
// portal built for cfg (its authorize path, scopes, issuer, code TTL), and
// the subscriptions endpoint when cfg's routes use it. Nothing is in force
// until the proxy swaps them in with cfg's routes.
func (g *gateway) endpointsFor(cfg *config.Config) ([]proxy.Endpoint, error) {
	pt, err := newPortal(cfg, g.current, g.st, g.issuer, g.revs, g.users, g.ips, g.kek, g.env, g.logger)
	if err != nil {
		return nil, err
	}
	var eps []proxy.Endpoint
	for _, r := range g.issuer.RoutesFor(cfg) {
		eps = append(eps, proxy.Endpoint{Name: r.Name, Pattern: r.Pattern, Handler: r.Handler})
	}
	for _, r := range pt.Routes() {
		eps = append(eps, proxy.Endpoint{Name: r.Name, Pattern: r.Pattern, Handler: r.Handler})
	}
	return append(eps, subscriptionEndpoints(cfg, g.guard, g.subs, g.logger)...), nil
}

// prune deletes expired state now and then.
func (g *gateway) prune(ctx context.Context) {
	periodic.Every(ctx, pruneInterval, func(ctx context.Context) error {
		return g.st.Prune(ctx, g.env.Now())
	}, func(err error) { g.logger.Warn("prune expired state", "error", err) })
}

func (g *gateway) current() *config.Config {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cfg
}

func (g *gateway) ready(ctx context.Context) error {
	if err := g.st.Ping(ctx); err != nil {
		return fmt.Errorf("store unreachable: %w", err)
	}
	return g.guard.Ready(ctx)
}

// reload loads the file again and puts it in force in every component, or
// in none: a file with problems, or one that changes what only a restart
// applies, is refused with its problems logged and the running config
// kept.
func (g *gateway) reload(path string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cfg, err := config.Load(path, g.env.LookupEnv)
	if err == nil {
		err = restartOnly(g.cfg, cfg)
	}
	if err == nil {
		err = g.apply(cfg)
	}
	if err != nil {
		g.pm.Reload(false)
		g.logger.Error("config reload refused; the running config stays in force", "config", path, "problems", strings.Split(err.Error(), "\n"))
		return
	}
	g.cfg = cfg
	if g.level != nil {
		g.level.Set(logLevel(cfg.Log))
	}
	g.pm.Reload(true)
	g.logger.Info("config reloaded", "config", path, "routes", len(cfg.Routes))
}

// apply builds the state of every component for cfg first, then puts all
// of them in force; when a step fails, none is. Only the store write of
// the file's clients can fail for reasons outside the file (config.Load
// holds every rule the components apply), so it comes last before the
// swaps, which cannot fail.
func (g *gateway) apply(cfg *config.Config) error {
	trusted, err := clientip.Parse(cfg.Server.TrustedProxies)
	if err != nil {
		return fmt.Errorf("server.trusted_proxies: %w", err)
	}
	eps, err := g.endpointsFor(cfg)
	if err != nil {
		return err
	}
	commitProxy, err := g.proxy.Prepare(cfg, eps)
	if err != nil {
		return err
	}
	// The guard's preparation registers and fetches new JWKS URLs: abort
	// undoes that.
	commitGuard, abortGuard, err := g.guard.Prepare(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = issuer.UpsertClients(ctx, g.st, cfg)
	cancel()
	if err != nil {
		abortGuard()
		return fmt.Errorf("register the clients of the config: %w", err)
	}
	commitGuard()
	g.issuer.Update(cfg)
	g.meter.Update(cfg)
	g.ips.Set(trusted)
	// Last: routes, endpoints, the portal and the metadata of cfg go live
	// together, over a guard and issuer already on cfg.
	commitProxy()
	return nil
}

// restartOnly refuses a config that changes what the running gateway
// cannot take over: listeners, the store, the subscription source, the
// signing algorithm, the log format and the listener's timeouts are set
// up once at start. The error names each such key on one line.
func restartOnly(running, next *config.Config) error {
	var keys []string
	changed := func(key string, differ bool) {
		if differ {
			keys = append(keys, key)
		}
	}
	changed("listen", next.Listen != running.Listen)
	changed("admin_listen", next.AdminListen != running.AdminListen)
	changed("store.driver", next.Store.Driver != running.Store.Driver)
	changed("store.dsn", next.Store.DSN != running.Store.DSN)
	changed("subscriptions", next.Subscriptions != running.Subscriptions)
	changed("tokens.alg", next.Tokens.Alg != running.Tokens.Alg)
	changed("log.format", next.Log.Format != running.Log.Format)
	changed("server.read_header_timeout", next.Server.ReadHeaderTimeout != running.Server.ReadHeaderTimeout)
	changed("server.idle_timeout", next.Server.IdleTimeout != running.Server.IdleTimeout)
	// The listener's own header limit is set at start, above the
	// configured one (proxy.HardHeaderLimit): a raise past it needs a
	// restart.
	changed("server.max_header_bytes", proxy.HardHeaderLimit(next.Server.MaxHeaderBytes) > proxy.HardHeaderLimit(running.Server.MaxHeaderBytes))
	if len(keys) == 0 {
		return nil
	}
	return fmt.Errorf("%s: cannot change while the gateway runs; restart it to apply the change", strings.Join(keys, ", "))
}

func (g *gateway) close() {
	for i := len(g.closers) - 1; i >= 0; i-- {
		g.closers[i]()
	}
}

// newLeveledLogger returns the logger l describes and its level, which a
// reload may change.
func newLeveledLogger(w io.Writer, l config.Log) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	level.Set(logLevel(l))
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts)), level
	}
	return slog.New(slog.NewJSONHandler(w, opts)), level
}

// jsonLogWriter is w when the logger newLeveledLogger makes of w and l
// writes JSON, so the proxy may write its access log there itself (the
// same lines, cheaper); nil otherwise.
func jsonLogWriter(w io.Writer, l config.Log) io.Writer {
	if l.Format == "text" {
		return nil
	}
	return w
}

func logLevel(l config.Log) slog.Level {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.Level)); err != nil {
		level = slog.LevelInfo
	}
	return level
}

// watchFile signals when the file's size or modification time changes.
func watchFile(ctx context.Context, path string, every time.Duration) <-chan struct{} {
	ch := make(chan struct{}, 1)
	stat := func() (time.Time, int64) {
		fi, err := os.Stat(path)
		if err != nil {
			return time.Time{}, -1
		}
		return fi.ModTime(), fi.Size()
	}
	go func() {
		mt, sz := stat()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m, s := stat()
				if s >= 0 && (!m.Equal(mt) || s != sz) {
					mt, sz = m, s
					select {
					case ch <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return ch
}
