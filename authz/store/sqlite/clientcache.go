package sqlite

import (
	"bytes"
	"os"
	"sync"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
)

// clientCache is the in-memory view of clients GetClient answers from once
// CacheClients turned it on: the client of every token request is then read
// from memory instead of through a read transaction of its own.
//
// It never answers with a client older than the last commit to the
// database, by this process or any other (the command line):
//   - every write of this Store (write) forgets the whole view when it
//     ends, before the writing call returns;
//   - every lookup first reads the header of the WAL index (the -shm file,
//     https://www.sqlite.org/walformat.html): SQLite updates it in every
//     commit, before the commit returns, whichever process made it, so a
//     header that differs from the last one seen forgets the whole view;
//   - ChangesSince forgets the whole view when it lists changes, and an
//     entry is kept for ttl at most by the clock given: bounds that hold
//     even if the header were not updated as documented.
//
// A lookup that started before a forget does not put its (possibly older)
// result back: entries carry the generation they were read in, and a
// forget moves to the next one.
type clientCache struct {
	now func() time.Time
	ttl time.Duration
	shm *os.File // the WAL index, read only

	mu      sync.RWMutex
	gen     uint64 // moved by forget
	header  [walIndexHeaderSize]byte
	entries map[string]cachedClient
}

// walIndexHeaderSize is the size of the WAL index header (WalIndexHdr): a
// change counter, the last valid frame, the salts and checksums.
const walIndexHeaderSize = 48

type cachedClient struct {
	c     store.Client
	gen   uint64
	until time.Time
}

// maxCachedClients bounds the view; past it the view starts over.
const maxCachedClients = 10000

// CacheClients makes GetClient answer from an in-memory view of clients
// (see clientCache): a client changed through this Store or by another
// process is read from the database by the next lookup after the change
// committed, and no entry lives longer than ttl by now. It keeps reading
// every client from the database when the WAL index cannot be opened.
// Call it before the store is shared.
func (s *Store) CacheClients(now func() time.Time, ttl time.Duration) {
	s.clients = nil
	if now == nil || ttl <= 0 {
		return
	}
	shm, err := os.Open(s.path + "-shm")
	if err != nil {
		return
	}
	cc := &clientCache{now: now, ttl: ttl, shm: shm, entries: make(map[string]cachedClient)}
	if _, err := shm.ReadAt(cc.header[:], 0); err != nil {
		shm.Close()
		return
	}
	s.clients = cc
}

// close releases the WAL index.
func (cc *clientCache) close() error { return cc.shm.Close() }

// get returns a copy of the client cached under id, and the generation a
// read from the database must be put back with. ok is false when the
// caller must read the database.
func (cc *clientCache) get(id string) (c store.Client, ok bool, gen uint64) {
	var h [walIndexHeaderSize]byte
	if _, err := cc.shm.ReadAt(h[:], 0); err != nil {
		cc.forget()
		return store.Client{}, false, 0
	}
	cc.mu.RLock()
	e, found := cc.entries[id]
	gen, same := cc.gen, bytes.Equal(h[:], cc.header[:])
	cc.mu.RUnlock()
	if !same {
		return store.Client{}, false, cc.changed(h)
	}
	if found && e.gen == gen && cc.now().Before(e.until) {
		return cloneClient(e.c), true, gen
	}
	return store.Client{}, false, gen
}

// changed records a WAL index header that differs from the last one seen
// and forgets the view, unless another lookup did so for it already. It
// returns the generation to read in.
func (cc *clientCache) changed(h [walIndexHeaderSize]byte) uint64 {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if h != cc.header {
		cc.header = h
		cc.forgetLocked()
	}
	return cc.gen
}

// put keeps a copy of c, read from the database in generation gen, unless
// the view was forgotten since.
func (cc *clientCache) put(c store.Client, gen uint64) {
	e := cachedClient{c: cloneClient(c), gen: gen, until: cc.now().Add(cc.ttl)}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if gen != cc.gen {
		return
	}
	if len(cc.entries) >= maxCachedClients {
		clear(cc.entries)
	}
	cc.entries[c.ID] = e
}

// forget drops every entry and moves to the next generation.
func (cc *clientCache) forget() {
	cc.mu.Lock()
	cc.forgetLocked()
	cc.mu.Unlock()
}

func (cc *clientCache) forgetLocked() {
	cc.gen++
	clear(cc.entries)
}

// forgetClients is forget when the cache is on.
func (s *Store) forgetClients() {
	if s.clients != nil {
		s.clients.forget()
	}
}

// cloneClient copies c with lists and secret hash of its own, so that no
// caller can change what the view holds or what another caller was given.
func cloneClient(c store.Client) store.Client {
	lists := []*[]string{&c.Grants, &c.Scopes, &c.RedirectURIs, &c.AllowedOrigins}
	n := 0
	for _, l := range lists {
		n += len(*l)
	}
	all := make([]string, 0, n)
	for _, l := range lists {
		if *l == nil {
			continue
		}
		start := len(all)
		all = append(all, *l...)
		*l = all[start:len(all):len(all)] // capped: an append by the caller copies
	}
	if c.SecretHash != nil {
		c.SecretHash = append([]byte(nil), c.SecretHash...)
	}
	return c
}
