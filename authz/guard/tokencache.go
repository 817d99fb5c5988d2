package guard

import (
	"math/rand/v2"
	"sync"
)

// tokenKey is the SHA-256 of a token: the caches never hold the token.
type tokenKey = [32]byte

// tokenCache is a bounded map from token hashes to V, safe for concurrent
// use. When full, adding evicts an entry chosen at random. Random eviction
// rather than LRU: clients that cycle through slightly more tokens than
// the cache holds (a fleet of clients, each with its own token) make an
// LRU cache miss on every request, since the entry evicted is always the
// one needed next; random eviction keeps most of them. On skewed traffic
// the two hit about as often.
//
// The entries are spread over shards by hash, each with its own lock and
// an exact share of the capacity, so Len never exceeds the size given to
// newTokenCache.
type tokenCache[V any] struct {
	shards []cacheShard[V]
}

type cacheShard[V any] struct {
	mu    sync.Mutex
	cap   int
	index map[tokenKey]int32 // key → position in slots
	slots []cacheSlot[V]
}

type cacheSlot[V any] struct {
	key tokenKey
	val V
}

// shardMin is the smallest capacity worth a shard of its own: below it,
// one lock is no contention and an exact bound is easier to reason about.
const (
	shardMin    = 512
	shardsLimit = 16
)

// newTokenCache returns a cache holding at most size entries (size > 0).
// Nothing is allocated for entries until they are added.
func newTokenCache[V any](size int) *tokenCache[V] {
	n := min(max(size/shardMin, 1), shardsLimit)
	c := &tokenCache[V]{shards: make([]cacheShard[V], n)}
	for i := range c.shards {
		s := &c.shards[i]
		s.cap = size / n
		if i < size%n {
			s.cap++
		}
		s.index = map[tokenKey]int32{}
	}
	return c
}

func (c *tokenCache[V]) shard(k *tokenKey) *cacheShard[V] {
	if len(c.shards) == 1 {
		return &c.shards[0]
	}
	// The key is a SHA-256: any of its bytes is uniform.
	return &c.shards[(int(k[0])<<8|int(k[1]))%len(c.shards)]
}

// Get returns the value of k.
func (c *tokenCache[V]) Get(k tokenKey) (V, bool) {
	s := c.shard(&k)
	s.mu.Lock()
	i, ok := s.index[k]
	var v V
	if ok {
		v = s.slots[i].val
	}
	s.mu.Unlock()
	return v, ok
}

// Add sets the value of k, evicting a random entry of its shard when the
// shard is full.
func (c *tokenCache[V]) Add(k tokenKey, v V) {
	s := c.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.index[k]; ok {
		s.slots[i].val = v
		return
	}
	if n := len(s.slots); n < s.cap {
		if n == cap(s.slots) {
			// Grow by doubling, but never past the shard's capacity.
			grown := make([]cacheSlot[V], n, min(max(2*n, 8), s.cap))
			copy(grown, s.slots)
			s.slots = grown
		}
		s.index[k] = int32(n)
		s.slots = append(s.slots, cacheSlot[V]{key: k, val: v})
		return
	}
	i := rand.IntN(len(s.slots))
	delete(s.index, s.slots[i].key)
	s.slots[i] = cacheSlot[V]{key: k, val: v}
	s.index[k] = int32(i)
}

// Remove deletes k.
func (c *tokenCache[V]) Remove(k tokenKey) {
	s := c.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[k]
	if !ok {
		return
	}
	delete(s.index, k)
	last := len(s.slots) - 1
	if int(i) != last {
		s.slots[i] = s.slots[last]
		s.index[s.slots[i].key] = i
	}
	s.slots[last] = cacheSlot[V]{} // drop the references it holds
	s.slots = s.slots[:last]
}

// Purge deletes every entry and gives their memory back.
func (c *tokenCache[V]) Purge() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.index = map[tokenKey]int32{}
		s.slots = nil
		s.mu.Unlock()
	}
}

// Len is the number of entries.
func (c *tokenCache[V]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.slots)
		s.mu.Unlock()
	}
	return n
}
