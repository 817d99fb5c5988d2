package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// logger is the logger of a one-off command (every command but serve):
// warnings and errors, one human line each on stderr,
//
//	clearance keys rotate: warning: MESSAGE (key=value, ...)
//
// Info and debug notes (a key loaded, a token issued) are dropped, so a
// command's output is never mixed with log lines; only serve logs JSON.
func (c *cmdContext) logger() *slog.Logger {
	return slog.New(&lineHandler{out: &lockedWriter{w: c.env.Stderr}, prefix: "clearance " + c.name + ": "})
}

// lockedWriter serialises the lines of a command's background work (the
// keyring's reload) with its own.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) write(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, s)
}

// lineHandler is a slog.Handler writing one plain line per record at
// warning level and above.
type lineHandler struct {
	out    *lockedWriter
	prefix string
	attrs  []slog.Attr // from WithAttrs, keys already qualified by group
	group  string      // "a.b." from WithGroup
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(h.prefix)
	if r.Level >= slog.LevelError {
		b.WriteString("error: ")
	} else {
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	var kv []string
	var add func(prefix string, a slog.Attr)
	add = func(prefix string, a slog.Attr) {
		v := a.Value.Resolve()
		if v.Kind() == slog.KindGroup {
			for _, g := range v.Group() {
				add(prefix+a.Key+".", g)
			}
			return
		}
		if a.Key == "" || a.Key == "component" {
			return
		}
		kv = append(kv, prefix+a.Key+"="+fmt.Sprint(v.Any()))
	}
	for _, a := range h.attrs {
		add("", a)
	}
	r.Attrs(func(a slog.Attr) bool {
		add(h.group, a)
		return true
	})
	if len(kv) > 0 {
		b.WriteString(" (" + strings.Join(kv, ", ") + ")")
	}
	h.out.write(oneLine(b.String()) + "\n")
	return nil
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range as {
		c.attrs = append(c.attrs, slog.Attr{Key: h.group + a.Key, Value: a.Value})
	}
	return &c
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.group = h.group + name + "."
	return &c
}
