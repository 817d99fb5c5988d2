package metering

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clearance-gw/clearance/authz/usage"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/periodic"
)

// UsageStore is the part of the store the meter uses.
type UsageStore interface {
	AddUsage(ctx context.Context, counts []usage.Count) error
	UsageTotals(ctx context.Context, keys []string, day time.Time) (map[string]usage.Total, error)
}

// PlanView names the plan of a local client: its own, else its owner's,
// else "" (ClientPlans implements it). It must be cheap: it is asked on
// every metered request.
type PlanView interface {
	PlanOf(clientID string) string
}

// Options are the collaborators of a Meter; every field is optional.
type Options struct {
	Now        func() time.Time      // default time.Now
	Logger     *slog.Logger          // default: discard
	Registerer prometheus.Registerer // default: a private registry
	// Plans names local clients' plans; nil: every local client is on
	// default_plan.
	Plans PlanView
	// FlushInterval is how often Run writes counts to the store and reads
	// back every instance's totals, default (and at most) DefaultFlush.
	// An instance's count reaches the store within one interval and every
	// other instance reads it within one more, so with half a second N
	// instances overshoot a limit by at most one second of traffic
	// (SPEC §11).
	FlushInterval time.Duration
	// IdleAfter is how long a client must have made no request before it
	// is forgotten (and its bucket must be full again), default a minute.
	IdleAfter time.Duration
}

// DefaultFlush is the longest interval between two flushes: a write and a
// read-back within it twice make one second.
const DefaultFlush = 500 * time.Millisecond

// Meter counts metered requests in memory and writes them to the store.
type Meter struct {
	st       UsageStore
	now      func() time.Time
	log      *slog.Logger
	view     PlanView
	interval time.Duration
	idle     int64 // ns
	m        *metrics

	plans  atomic.Pointer[plans]
	cal    atomic.Pointer[calendar]
	shards [shardCount]shard
	size   atomic.Int64 // entries held

	flushMu sync.Mutex    // one Flush at a time
	retry   []usage.Count // counts a failed Flush could not write
}

const shardCount = 64

type shard struct {
	mu    sync.Mutex
	m     map[key]*entry
	carry []usage.Count // counts of a day that ended, not yet written
}

// key tells tenants apart: a local client (iss "") and a trusted
// issuer's client of the same id are two keys (SPEC §10).
type key struct{ iss, client string }

// storeKey is the store's name for k: the client id, or ISSUER#CLIENT_ID
// (local client ids cannot contain '#').
func (k key) storeKey() string {
	if k.iss == "" {
		return k.client
	}
	return k.iss + "#" + k.client
}

func parseStoreKey(s string) key {
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		return key{iss: s[:i], client: s[i+1:]}
	}
	return key{client: s}
}

// StoreKey is the key under which the store keeps the usage of a client:
// issuer "" for the gateway's own clients.
func StoreKey(issuer, clientID string) string { return key{issuer, clientID}.storeKey() }

type entry struct {
	storeKey string

	tokens float64 // the rate's bucket
	last   int64   // ns of the last refill

	day       int64 // the UTC day (days since the epoch) of pending and baseDay
	month     int64 // the month (year*12 + month-1) of baseMonth
	pending   int64 // counted here, not yet written
	baseDay   int64 // the store's total for day, as last read, plus what was written since
	baseMonth int64 // likewise for month
	synced    bool  // base* were read from the store at least once
	touched   bool  // counted since the last read
	idleAt    int64 // ns after which, untouched, the entry may be forgotten
}

// calendar is the current UTC day and month, and their ends.
type calendar struct {
	day, month       int64
	dayStart         time.Time
	dayEnd, monthEnd int64 // ns
}

func newCalendar(now time.Time) *calendar {
	t := now.UTC()
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return &calendar{
		day:      start.Unix() / 86400,
		month:    int64(t.Year())*12 + int64(t.Month()) - 1,
		dayStart: start,
		dayEnd:   start.AddDate(0, 0, 1).UnixNano(),
		monthEnd: time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC).UnixNano(),
	}
}

// calendarAt returns the calendar of now, cached while the day lasts.
func (m *Meter) calendarAt(now time.Time) *calendar {
	ns := now.UnixNano()
	if c := m.cal.Load(); c != nil && ns < c.dayEnd && ns >= c.dayStart.UnixNano() {
		return c
	}
	c := newCalendar(now)
	m.cal.Store(c)
	return c
}

// New returns a meter for cfg's plans. Call Load before serving so that
// counts made before a restart apply at once, and Run to write counts.
func New(st UsageStore, cfg *config.Config, opts Options) *Meter {
	m := &Meter{st: st, now: opts.Now, log: opts.Logger, view: opts.Plans, interval: opts.FlushInterval,
		idle: int64(opts.IdleAfter)}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.interval <= 0 || m.interval > DefaultFlush {
		m.interval = DefaultFlush
	}
	if m.idle <= 0 {
		m.idle = int64(time.Minute)
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m.m = newMetrics(reg, func() float64 { return float64(m.size.Load()) })
	for i := range m.shards {
		m.shards[i].m = map[key]*entry{}
	}
	m.Update(cfg)
	return m
}

// Update applies a reloaded config's plans: the next request is counted
// under them. Counts and buckets are kept.
func (m *Meter) Update(cfg *config.Config) { m.plans.Store(compile(cfg, m.m)) }

// PlanFor returns the plan a client is metered under, nil for none:
// issuer "" for the gateway's own clients (their plan, else their
// owner's, else default_plan), a trusted issuer's clients are on
// default_plan.
func (m *Meter) PlanFor(issuer, clientID string) *Plan {
	ps := m.plans.Load()
	if issuer != "" || m.view == nil {
		return ps.def
	}
	return ps.lookup(m.view.PlanOf(clientID))
}

func (m *Meter) shard(k key) *shard {
	// FNV-1a of the client id: cheap, and enough to spread the locks.
	h := uint32(2166136261)
	for i := 0; i < len(k.client); i++ {
		h = (h ^ uint32(k.client[i])) * 16777619
	}
	return &m.shards[h%shardCount]
}

// Take counts one request of a client (issuer "" for the gateway's own
// clients) at now, unless its plan refuses it: the quota first (a request
// over quota takes nothing from the bucket), then the rate. A refused
// request is not counted. A client without a plan is not metered (zero
// Result).
func (m *Meter) Take(issuer, clientID string, now time.Time) Result {
	p := m.PlanFor(issuer, clientID)
	if p == nil {
		return Result{}
	}
	cal := m.calendarAt(now)
	ns := now.UnixNano()
	k := key{issuer, clientID}
	sh := m.shard(k)
	res := Result{Plan: p, Outcome: Allowed}

	sh.mu.Lock()
	e := sh.m[k]
	if e == nil {
		e = &entry{storeKey: k.storeKey(), tokens: p.burst, last: ns, day: cal.day, month: cal.month}
		sh.m[k] = e
		m.size.Add(1)
	}
	sh.rollover(e, cal)

	if !p.Quota.IsZero() {
		used := e.baseDay + e.pending
		reset := cal.dayEnd - ns
		if p.Quota.Period == config.Month {
			used, reset = e.baseMonth+e.pending, cal.monthEnd-ns
		}
		res.QuotaReset = ceilSeconds(reset)
		if used >= p.Quota.N {
			res.Outcome, res.RetryAfter = QuotaExceeded, res.QuotaReset
		} else {
			res.QuotaRemaining = p.Quota.N - used - 1 // after this request
		}
	}
	if !p.Rate.IsZero() {
		e.tokens = min(p.burst, e.tokens+float64(ns-e.last)*p.perNs)
		if ns > e.last {
			e.last = ns
		}
		if res.Outcome == Allowed {
			if e.tokens >= 1 {
				e.tokens--
			} else {
				res.Outcome = RateLimited
			}
		}
		whole := int64(e.tokens)
		res.RateRemaining = whole
		if float64(whole) < p.burst {
			res.RateReset = max(1, ceilSeconds(int64((float64(whole+1)-e.tokens)/p.perNs)))
		}
		if res.Outcome == RateLimited {
			res.RetryAfter = res.RateReset
			if !p.Quota.IsZero() {
				res.QuotaRemaining++ // not counted after all
			}
		}
		if full := ns + int64((p.burst-e.tokens)/p.perNs); full > e.idleAt {
			e.idleAt = full
		}
	}
	if res.Outcome == Allowed {
		e.pending++
		e.touched = true
	}
	e.idleAt = max(e.idleAt, ns+m.idle)
	sh.mu.Unlock()

	switch res.Outcome {
	case Allowed:
		p.allowed.Inc()
	case RateLimited:
		p.rateLimited.Inc()
	case QuotaExceeded:
		p.quotaExceeded.Inc()
	}
	return res
}

// rollover moves e to cal's day: counts of an earlier day wait in the
// shard's carry to be written under their own day.
func (sh *shard) rollover(e *entry, cal *calendar) {
	if e.day == cal.day {
		return
	}
	if e.pending > 0 {
		sh.carry = append(sh.carry, usage.Count{Key: e.storeKey, Day: dayTime(e.day), Count: e.pending})
		e.baseMonth += e.pending
	}
	if e.month != cal.month {
		e.baseMonth = 0
	}
	e.pending, e.baseDay, e.day, e.month = 0, 0, cal.day, cal.month
	e.touched = true // the new day's totals of other instances are unknown
}

func dayTime(day int64) time.Time { return time.Unix(day*86400, 0).UTC() }

// ceilSeconds rounds a positive duration in ns up to whole seconds.
func ceilSeconds(ns int64) int64 {
	if ns <= 0 {
		return 0
	}
	return (ns + int64(time.Second) - 1) / int64(time.Second)
}

// Load reads the current day's and month's totals of every client with
// requests this month, so limits reached before a restart hold at once.
func (m *Meter) Load(ctx context.Context) error {
	now := m.now()
	cal := m.calendarAt(now)
	totals, err := m.st.UsageTotals(ctx, nil, now)
	if err != nil {
		return fmt.Errorf("load usage: %w", err)
	}
	ns := now.UnixNano()
	for sk, t := range totals {
		k := parseStoreKey(sk)
		sh := m.shard(k)
		sh.mu.Lock()
		e := sh.m[k]
		if e == nil {
			// The bucket starts full (Take caps it at the plan's burst).
			e = &entry{storeKey: sk, tokens: math.Inf(1), last: ns, day: cal.day, month: cal.month}
			sh.m[k] = e
			m.size.Add(1)
		}
		e.baseDay, e.baseMonth, e.synced = t.Day, t.Month, true
		e.idleAt = max(e.idleAt, ns+m.idle)
		sh.mu.Unlock()
	}
	return nil
}

// Flush writes the counts made since the last Flush to the store, reads
// back the totals of the clients counted since (other instances' counts
// included), and forgets clients idle long enough. An error leaves the
// counts to be written by the next Flush.
func (m *Meter) Flush(ctx context.Context) error {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	now := m.now()
	cal := m.calendarAt(now)
	ns := now.UnixNano()

	batch := m.retry
	m.retry = nil
	var keys []string
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			sh.rollover(e, cal)
			if e.pending > 0 {
				batch = append(batch, usage.Count{Key: e.storeKey, Day: dayTime(e.day), Count: e.pending})
				e.baseDay += e.pending
				e.baseMonth += e.pending
				e.pending = 0
			}
			switch {
			case e.touched || !e.synced:
				keys = append(keys, e.storeKey)
				e.touched = false
			case ns >= e.idleAt:
				delete(sh.m, k)
				m.size.Add(-1)
			}
		}
		batch = append(batch, sh.carry...)
		sh.carry = nil
		sh.mu.Unlock()
	}
	// The store calls are not cut short when ctx ends (at shutdown): a
	// write interrupted after the database committed it would come back
	// as an error, be retried, and count the same requests twice. The
	// store's own timeout bounds them.
	ctx = context.WithoutCancel(ctx)
	if len(batch) > 0 {
		if err := m.st.AddUsage(ctx, batch); err != nil {
			m.retry = batch
			m.m.flushes.WithLabelValues("error").Inc()
			return fmt.Errorf("write usage: %w", err)
		}
		m.m.flushes.WithLabelValues("ok").Inc()
	}
	if len(keys) == 0 {
		return nil
	}
	totals, err := m.st.UsageTotals(ctx, keys, now)
	if err != nil {
		return fmt.Errorf("read usage totals: %w", err)
	}
	for _, sk := range keys {
		k := parseStoreKey(sk)
		t := totals[sk]
		sh := m.shard(k)
		sh.mu.Lock()
		if e := sh.m[k]; e != nil && e.day == cal.day {
			e.baseDay, e.baseMonth, e.synced = t.Day, t.Month, true
		}
		sh.mu.Unlock()
	}
	return nil
}

// Run flushes every interval until ctx ends; Close writes what is left.
func (m *Meter) Run(ctx context.Context) {
	periodic.Every(ctx, m.interval, m.Flush, func(err error) {
		m.log.WarnContext(ctx, "write usage counts", "error", err)
	})
}

// Close writes what is still counted (at shutdown).
func (m *Meter) Close(ctx context.Context) error {
	err := m.Flush(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Clients is the number of clients held in memory.
func (m *Meter) Clients() int { return int(m.size.Load()) }
