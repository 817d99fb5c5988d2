package cli

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/clearance-gw/clearance/internal/periodic"
)

// The process's log is buffered up to logBufferSize and written at least
// every logFlushInterval, so a crash loses at most that much of it.
const (
	logBufferSize    = 32 << 10
	logFlushInterval = 100 * time.Millisecond
)

// lineWriter serialises the writes of the logger and of the access log,
// each a whole line, so that they never interleave whatever w is. When
// buffered, lines are collected and written together: when the next one
// would not fit in logBufferSize, on Flush, and every interval of
// flushEvery. A line is never split between two writes of the buffer; one
// longer than the buffer is written on its own.
type lineWriter struct {
	mu       sync.Mutex
	w        io.Writer
	buffered bool
	buf      []byte
}

func newLineWriter(w io.Writer) *lineWriter { return &lineWriter{w: w} }

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.buffered {
		return l.w.Write(p)
	}
	if len(l.buf)+len(p) > logBufferSize {
		if err := l.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > logBufferSize {
			return l.w.Write(p)
		}
	}
	if l.buf == nil {
		l.buf = make([]byte, 0, logBufferSize)
	}
	l.buf = append(l.buf, p...)
	return len(p), nil
}

// Flush writes the lines buffered so far. Lines that cannot be written
// are dropped, so a failing stderr does not hold the buffer full.
func (l *lineWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked()
}

func (l *lineWriter) flushLocked() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	return err
}

// flushEvery flushes every interval until ctx is done. A write that fails
// has nowhere to be reported: the log is what failed.
func (l *lineWriter) flushEvery(ctx context.Context, interval time.Duration) {
	periodic.Every(ctx, interval, func(context.Context) error { return l.Flush() }, func(error) {})
}
