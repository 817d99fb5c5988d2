package proxy

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/clearance-gw/clearance/authz/guard"
)

// exchange is the state of one request: it wraps the ResponseWriter to
// record status and size, and travels in the request context so the
// ReverseProxy callbacks (Rewrite, transport, ErrorHandler) can reach it.
type exchange struct {
	w           http.ResponseWriter
	id          string
	status      int
	bytes       int64
	wroteHeader bool

	principal guard.Principal
	authed    bool
	authErr   string // reason of a refused token, for the log

	allowOrigin string // CORS origin to allow on the response, "" for none

	proxied  bool
	upstream time.Duration
	upErr    error // upstream failure, for the log (never sent to the client)
	gone     bool  // the client went away before the upstream answered

	// ctx is the context of the request as endpoints and the
	// ReverseProxy see it: in the same allocation as the exchange.
	ctx exchangeCtx
	// Storage for the request id and the header values the gateway sets
	// (X-Request-Id on the response; identity headers upstream), so that
	// setting them allocates nothing more.
	idBuf  [2 * requestIDBytes]byte
	idHdr  [1]string
	outHdr [6]string
}

type exchangeKey struct{}

// exchangeCtx is a request's context carrying its exchange, as
// context.WithValue would, without an allocation of its own.
type exchangeCtx struct {
	context.Context
	ex *exchange
}

func (c *exchangeCtx) Value(key any) any {
	if key == (exchangeKey{}) {
		return c.ex
	}
	return c.Context.Value(key)
}

func exchangeFrom(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}

// RequestID returns the request id the proxy assigned to the request whose
// context is ctx, or "" outside a proxied request.
func RequestID(ctx context.Context) string {
	if ex := exchangeFrom(ctx); ex != nil {
		return ex.id
	}
	return ""
}

func (e *exchange) Header() http.Header { return e.w.Header() }

func (e *exchange) WriteHeader(code int) {
	if e.wroteHeader {
		e.w.WriteHeader(code) // let net/http report the superfluous call
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		e.w.WriteHeader(code) // informational: not the final status
		return
	}
	e.wroteHeader = true
	e.status = code
	// Set, not Add: an upstream's own X-Request-Id (and CORS answer) is
	// replaced by ours.
	h := e.w.Header()
	e.idHdr[0] = e.id
	h["X-Request-Id"] = e.idHdr[:]
	// Every metered response carries the plan's RateLimit fields (SPEC
	// §11), replacing an upstream's.
	if e.authed && e.principal.Usage.Metered() {
		guard.SetRateLimitFields(h, &e.principal.Usage)
	}
	if e.allowOrigin != "" {
		h.Set("Access-Control-Allow-Origin", e.allowOrigin)
		h.Set("Access-Control-Expose-Headers", "X-Request-Id, RateLimit, RateLimit-Policy, Retry-After")
		if !slices.Contains(h.Values("Vary"), "Origin") {
			h.Add("Vary", "Origin")
		}
	}
	e.w.WriteHeader(code)
}

func (e *exchange) Write(b []byte) (int, error) {
	if !e.wroteHeader {
		e.WriteHeader(http.StatusOK)
	}
	n, err := e.w.Write(b)
	e.bytes += int64(n)
	return n, err
}

// FlushError lets http.ResponseController (used by ReverseProxy) flush
// through the wrapper.
func (e *exchange) FlushError() error {
	if !e.wroteHeader {
		e.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(e.w).Flush()
}

// Hijack records the protocol switch (ReverseProxy writes the 101 on the
// hijacked connection, bypassing WriteHeader).
func (e *exchange) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(e.w).Hijack()
	if err == nil && !e.wroteHeader {
		e.wroteHeader = true
		e.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// Unwrap gives http.ResponseController the underlying writer.
func (e *exchange) Unwrap() http.ResponseWriter { return e.w }

// finalStatus is the status the client got (net/http sends 200 when a
// handler writes nothing).
func (e *exchange) finalStatus() int {
	if e.status == 0 {
		return http.StatusOK
	}
	return e.status
}
