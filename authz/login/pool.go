package login

import (
	"context"
	"runtime"
	"time"
)

// DefaultPoolWait is how long a password check waits for a hashing slot
// before it gives up with ErrBusy.
const DefaultPoolWait = 2 * time.Second

// Pool bounds how many password hashes run at once. Each argon2id run
// takes tens of MiB, so an unbounded number of concurrent logins could
// exhaust memory; with the pool it is at most Size runs.
type Pool struct {
	slots chan struct{}
	wait  time.Duration
}

// NewPool returns a pool of size slots (runtime.NumCPU() when size <= 0)
// whose callers wait at most wait (DefaultPoolWait when wait <= 0).
func NewPool(size int, wait time.Duration) *Pool {
	if size <= 0 {
		size = runtime.NumCPU()
	}
	if wait <= 0 {
		wait = DefaultPoolWait
	}
	return &Pool{slots: make(chan struct{}, size), wait: wait}
}

// Do runs f while holding a slot. It returns ErrBusy when no slot frees
// within the pool's wait, and ctx's error when ctx ends first; f does not
// run then.
func (p *Pool) Do(ctx context.Context, f func()) error {
	select {
	case p.slots <- struct{}{}:
	default:
		t := time.NewTimer(p.wait)
		defer t.Stop()
		select {
		case p.slots <- struct{}{}:
		case <-t.C:
			return ErrBusy
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-p.slots }()
	f()
	return nil
}
