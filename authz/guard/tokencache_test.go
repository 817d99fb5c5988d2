package guard

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
)

func keyOf(i int) tokenKey { return sha256.Sum256(fmt.Append(nil, i)) }

func TestTokenCacheBound(t *testing.T) {
	for _, size := range []int{1, 2, 511, 512, 1000, 1025, 10_000, 20_000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c := newTokenCache[int](size)
			for i := range 3 * size {
				c.Add(keyOf(i), i)
				if n := c.Len(); n > size {
					t.Fatalf("%d entries after %d adds, size %d", n, i+1, size)
				}
			}
			// Every shard fills to its share: the cache holds size entries,
			// in no more memory than that.
			if n := c.Len(); n != size {
				t.Fatalf("%d entries, want %d", n, size)
			}
			slots := 0
			for i := range c.shards {
				slots += cap(c.shards[i].slots)
			}
			if slots != size {
				t.Fatalf("room for %d entries, want %d", slots, size)
			}
			held := 0
			for i := range 3 * size {
				if v, ok := c.Get(keyOf(i)); ok {
					if v != i {
						t.Fatalf("key %d holds %d", i, v)
					}
					held++
				}
			}
			if held != size {
				t.Fatalf("%d keys found, want %d", held, size)
			}
		})
	}
}

func TestTokenCacheOperations(t *testing.T) {
	c := newTokenCache[string](4)
	c.Add(keyOf(1), "a")
	c.Add(keyOf(2), "b")
	c.Add(keyOf(1), "c") // replaces
	if v, ok := c.Get(keyOf(1)); !ok || v != "c" || c.Len() != 2 {
		t.Fatalf("Get = %q, %v; Len %d", v, ok, c.Len())
	}
	c.Remove(keyOf(1))
	c.Remove(keyOf(9)) // absent: nothing happens
	if _, ok := c.Get(keyOf(1)); ok || c.Len() != 1 {
		t.Fatalf("removed key found, Len %d", c.Len())
	}
	if v, ok := c.Get(keyOf(2)); !ok || v != "b" {
		t.Fatalf("the other key lost: %q, %v", v, ok)
	}
	c.Purge()
	if _, ok := c.Get(keyOf(2)); ok || c.Len() != 0 {
		t.Fatal("entry kept after Purge")
	}
	c.Add(keyOf(3), "d")
	if v, ok := c.Get(keyOf(3)); !ok || v != "d" {
		t.Fatal("cache unusable after Purge")
	}
}

// Clients cycling through a few more tokens than the cache holds: an LRU
// cache would miss on every request (each miss evicts the token needed
// next); random eviction keeps most of them.
func TestTokenCacheCycleLargerThanCache(t *testing.T) {
	const size = 10_000
	const tokens = size + size/20
	c := newTokenCache[int](size)
	hits, lookups := 0, 0
	for round := range 4 {
		for i := range tokens {
			_, ok := c.Get(keyOf(i))
			if !ok {
				c.Add(keyOf(i), i)
			}
			if round > 0 {
				lookups++
				if ok {
					hits++
				}
			}
		}
	}
	// Random eviction keeps about 90% here; LRU would keep none.
	if rate := float64(hits) / float64(lookups); rate < 0.75 {
		t.Fatalf("hit rate %.2f over a cycle of %d tokens in a cache of %d", rate, tokens, size)
	}
}

func TestTokenCacheConcurrent(t *testing.T) {
	c := newTokenCache[int](1024)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				k := keyOf(w*10_000 + i%1500)
				if v, ok := c.Get(k); ok && v != w*10_000+i%1500 {
					t.Errorf("wrong value %d", v)
					return
				}
				c.Add(k, w*10_000+i%1500)
				if i%97 == 0 {
					c.Remove(k)
				}
				if i%2000 == 0 {
					c.Purge()
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 1024 {
		t.Fatalf("%d entries", n)
	}
}
