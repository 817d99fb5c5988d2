// Package testclock is a fake clock for tests: it stands still until the
// test moves it, and it is safe to read and move from many goroutines.
//
// Pass Clock.Now wherever production code takes a now func() time.Time.
package testclock

import (
	"sync/atomic"
	"time"
)

// Clock is a concurrency-safe fake clock. Its zero value reads the Unix
// epoch; New starts it elsewhere.
type Clock struct{ ns atomic.Int64 }

// New returns a clock that reads start (in UTC) until it is moved.
func New(start time.Time) *Clock {
	c := &Clock{}
	c.Set(start)
	return c
}

// Now returns the clock's time, in UTC.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Set moves the clock to t, forwards or back.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Advance moves the clock by d (back when d is negative).
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
