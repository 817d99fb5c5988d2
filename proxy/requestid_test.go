package proxy

import (
	"encoding/hex"
	"net/http"
	"sync"
	"testing"
)

func TestRequestIDsAreUnique(t *testing.T) {
	a, b := newRequestIDs(), newRequestIDs()
	if a.prefix == b.prefix {
		t.Fatal("two processes' ids share a prefix")
	}
	const workers, each = 4, 1000
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		ids := a
		if w%2 == 1 {
			ids = b
		}
		wg.Go(func() {
			got := make([]string, 0, each)
			for range each {
				buf := new([2 * requestIDBytes]byte)
				got = append(got, ids.requestID(http.Header{}, buf))
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range got {
				if _, err := hex.DecodeString(id); err != nil || len(id) != 2*requestIDBytes {
					t.Fatalf("id %q: want %d hex characters", id, 2*requestIDBytes)
				}
				if seen[id] {
					t.Fatalf("id %q made twice", id)
				}
				seen[id] = true
			}
		})
	}
	wg.Wait()
	if len(seen) != workers*each {
		t.Errorf("%d ids, want %d", len(seen), workers*each)
	}
	if id := a.requestID(http.Header{"X-Request-Id": {"client-id-1"}}, new([2 * requestIDBytes]byte)); id != "client-id-1" {
		t.Errorf("a valid client id is replaced: %q", id)
	}
}
