package revocation

// entryKind names the map an expiry item's entry lives in.
type entryKind uint8

const (
	kindJTI entryKind = iota
	kindSession
	kindGen
	kindClient
	kindSubject
)

// expiryItem is one entry of the set waiting to expire at exp (Unix
// nanoseconds, as queued: the entry may have been extended since).
type expiryItem struct {
	key  string
	exp  int64
	kind entryKind
}

// expiryQueue is a min-heap of items by exp (container/heap): the next
// entry to expire is at index 0. It holds one item per entry that expires,
// so it grows with the set, not with the revocations applied.
type expiryQueue []expiryItem

func (q expiryQueue) Len() int           { return len(q) }
func (q expiryQueue) Less(i, j int) bool { return q[i].exp < q[j].exp }
func (q expiryQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *expiryQueue) Push(x any)        { *q = append(*q, x.(expiryItem)) }

func (q *expiryQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	old[len(old)-1] = expiryItem{}
	*q = old[:len(old)-1]
	return it
}
