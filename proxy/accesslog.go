package proxy

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

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
	dur := h.now().Sub(start)
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
	var buf [16]slog.Attr
	a := append(buf[:0],
		slog.String("request_id", ex.id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("route", label),
		slog.Int("status", status),
		slog.Int64("bytes", ex.bytes),
		slog.Float64("duration_ms", float64(dur)/float64(time.Millisecond)),
	)
	if ex.proxied {
		a = append(a, slog.Float64("upstream_ms", float64(ex.upstream)/float64(time.Millisecond)))
	}
	if ex.authed {
		a = append(a, slog.String("client_id", ex.principal.ClientID), slog.String("subject", ex.principal.Subject))
	}
	a = append(a, slog.String("remote", r.RemoteAddr), slog.String("client", clientString(h.client(r))))
	switch {
	case ex.authErr != "":
		a = append(a, slog.String("auth_error", ex.authErr))
	case ex.gone:
		a = append(a, slog.String("error", "client closed request"))
	case ex.upErr != nil:
		a = append(a, slog.String("error", upstreamErrText(ex.upErr)))
	}
	if aborted {
		a = append(a, slog.Bool("aborted", true))
	}
	h.log.LogAttrs(ctx, level, "request", a...)
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
