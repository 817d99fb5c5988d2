package proxy

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/clearance-gw/clearance/authz/guard"
)

func authReason(err error) string {
	e, ok := err.(*guard.Error)
	if !ok {
		var wrapped *guard.Error // on the heap (errors.As takes its address): only here
		if !errors.As(err, &wrapped) {
			return "internal: " + err.Error()
		}
		e = wrapped
	}
	if e.Reason != "" {
		return e.Reason
	}
	return e.Code
}

// finish records the metrics and writes the access log line.
func (h *Handler) finish(r *http.Request, ex *exchange, label string, rm *routeMetrics, start time.Time, aborted bool) {
	end := h.now()
	dur := end.Sub(start)
	status := ex.finalStatus()
	rm.observe(status, dur.Seconds())
	if ex.proxied {
		rm.observeUpstream(ex.upstream.Seconds())
	}

	level := slog.LevelInfo
	if status >= 500 || aborted {
		level = slog.LevelError
	}
	ctx := r.Context()
	if !h.log.Enabled(ctx, level) {
		return
	}
	e := accessEntry{
		id: ex.id, method: r.Method, path: r.URL.Path, route: label, status: status, bytes: ex.bytes,
		durationMS: float64(dur) / float64(time.Millisecond), proxied: ex.proxied, authed: ex.authed,
		remote: r.RemoteAddr, client: h.client(r), aborted: aborted,
	}
	if ex.proxied {
		e.upstreamMS = float64(ex.upstream) / float64(time.Millisecond)
	}
	if ex.authed {
		e.clientID, e.subject = ex.principal.ClientID, ex.principal.Subject
	}
	switch {
	case ex.authErr != "":
		e.errKey, e.errText = "auth_error", ex.authErr
	case ex.gone:
		e.errKey, e.errText = "error", "client closed request"
	case ex.upErr != nil:
		e.errKey, e.errText = "error", upstreamErrText(ex.upErr)
	}
	if h.access != nil {
		h.access.write(end, level, &e)
		return
	}
	var buf [16]slog.Attr
	h.log.LogAttrs(ctx, level, "request", e.attrs(buf[:0])...)
}

// accessEntry is one access log line: the fields, in their order.
type accessEntry struct {
	id, method, path, route string
	status                  int
	bytes                   int64
	durationMS              float64
	proxied                 bool
	upstreamMS              float64 // when proxied
	authed                  bool
	clientID, subject       string // when authed
	remote                  string
	client                  netip.Addr
	errKey, errText         string // auth_error or error; "" for none
	aborted                 bool
}

// attrs appends the entry's fields as slog attributes.
func (e *accessEntry) attrs(a []slog.Attr) []slog.Attr {
	a = append(a,
		slog.String("request_id", e.id),
		slog.String("method", e.method),
		slog.String("path", e.path),
		slog.String("route", e.route),
		slog.Int("status", e.status),
		slog.Int64("bytes", e.bytes),
		slog.Float64("duration_ms", e.durationMS),
	)
	if e.proxied {
		a = append(a, slog.Float64("upstream_ms", e.upstreamMS))
	}
	if e.authed {
		a = append(a, slog.String("client_id", e.clientID), slog.String("subject", e.subject))
	}
	a = append(a, slog.String("remote", e.remote), slog.String("client", clientString(e.client)))
	if e.errKey != "" {
		a = append(a, slog.String(e.errKey, e.errText))
	}
	if e.aborted {
		a = append(a, slog.Bool("aborted", true))
	}
	return a
}

// jsonAccessLog writes access log lines as slog's JSON handler would
// write them through the proxy's logger (time, level, msg, component,
// then the fields), byte for byte, but into a pooled buffer and without
// slog's per-record work: the line is written for every request.
type jsonAccessLog struct {
	w    io.Writer
	bufs sync.Pool // *[]byte
}

func (l *jsonAccessLog) write(t time.Time, level slog.Level, e *accessEntry) {
	bp, _ := l.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
		*bp = make([]byte, 0, 512)
	}
	b := append((*bp)[:0], `{"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`...)
	b = append(b, level.String()...)
	b = append(b, `","msg":"request","component":"proxy","request_id":`...)
	b = appendJSONString(b, e.id)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.path)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, e.route)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = appendJSONFloat(b, e.durationMS)
	if e.proxied {
		b = append(b, `,"upstream_ms":`...)
		b = appendJSONFloat(b, e.upstreamMS)
	}
	if e.authed {
		b = append(b, `,"client_id":`...)
		b = appendJSONString(b, e.clientID)
		b = append(b, `,"subject":`...)
		b = appendJSONString(b, e.subject)
	}
	b = append(b, `,"remote":`...)
	b = appendJSONString(b, e.remote)
	b = append(b, `,"client":`...)
	switch {
	case !e.client.IsValid():
		b = append(b, `""`...)
	case e.client.Zone() == "":
		b = append(b, '"')
		b = e.client.AppendTo(b) // digits, dots, colons and hex only
		b = append(b, '"')
	default:
		b = appendJSONString(b, e.client.String())
	}
	if e.errKey != "" {
		b = append(b, ',', '"')
		b = append(b, e.errKey...)
		b = append(b, `":`...)
		b = appendJSONString(b, e.errText)
	}
	if e.aborted {
		b = append(b, `,"aborted":true`...)
	}
	b = append(b, '}', '\n')
	l.w.Write(b)
	if cap(b) <= 4<<10 { // a line with a huge path is not kept
		*bp = b
		l.bufs.Put(bp)
	}
}

// appendJSONString appends s as a JSON string, escaped as slog's JSON
// handler escapes it: '"', '\\' and control characters, invalid UTF-8 as
// U+FFFD, and U+2028 and U+2029.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONFloat appends f as encoding/json writes a float64 (which is
// what slog's JSON handler uses for them).
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		// encoding/json refuses these and slog writes the error; a
		// duration is never one.
		return append(b, '0')
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// clientString is the access log's client field: the address, or "" when
// none is known.
func clientString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// upstreamErrText is the loggable text of an upstream failure: a
// *url.Error is unwrapped, since its text holds the upstream URL and query.
func upstreamErrText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}
