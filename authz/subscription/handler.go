package subscription

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/clearance-gw/clearance/authz/guard"
	"github.com/clearance-gw/clearance/config"
)

// Authenticator checks a request's bearer token; a nil route means
// authentication only (*guard.Guard).
type Authenticator interface {
	Check(r *http.Request, route *config.Route) (guard.Principal, error)
}

// Lister returns the subscriptions of a token's user (*Local: none for a
// token of another issuer).
type Lister interface {
	Valid(ctx context.Context, p guard.Principal, token string) ([]Subscription, error)
}

// HandlerOptions are the optional parts of the endpoint.
type HandlerOptions struct {
	Realm  string       // WWW-Authenticate realm, default "clearance"
	Logger *slog.Logger // default: discard
}

// Handler serves GET /v1/subscriptions/valid: the JSON array of the
// token's user's active subscriptions,
//
//	[{"date_active":"2025-01-01T00:00:00Z","date_expiry":"2025-12-31T23:59:59Z","subscription_name":"Navigation data","type":"fmsdata"}]
//
// and RFC 6750 errors (401 without a valid token).
type Handler struct {
	auth  Authenticator
	src   Lister
	realm string
	log   *slog.Logger
}

// NewHandler returns the endpoint over auth and src.
func NewHandler(auth Authenticator, src Lister, opts HandlerOptions) *Handler {
	h := &Handler{auth: auth, src: src, realm: opts.Realm, log: opts.Logger}
	if h.realm == "" {
		h.realm = "clearance"
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("component", "subscriptions")
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		guard.WriteError(w, guard.ErrInvalidRequest.WithStatus(http.StatusMethodNotAllowed).
			WithDescription("method", "use GET"), h.realm)
		return
	}
	p, err := h.auth.Check(r, nil)
	if err != nil {
		guard.WriteError(w, err, h.realm)
		return
	}
	tok, err := guard.ExtractToken(r)
	if err != nil {
		guard.WriteError(w, err, h.realm)
		return
	}
	subs, err := h.src.Valid(r.Context(), p, tok)
	var body []byte
	if err == nil {
		body, err = MarshalList(subs)
	}
	if err != nil {
		h.log.ErrorContext(r.Context(), "list subscriptions", "sub", p.Subject, "error", err)
		guard.WriteError(w, guard.ErrUnavailable.WithDescription("subscription_unavailable",
			"subscriptions cannot be listed right now; retry later"), h.realm)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(append(body, '\n'))
	}
}
