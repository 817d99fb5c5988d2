package proxy

import (
	"net/http"
	"slices"
	"strings"
)

func (h *Handler) originAllowed(rt *route, origin string) bool {
	return slices.Contains(rt.cfg.AllowedOrigins, origin) || (h.origins != nil && h.origins(&rt.cfg, origin))
}

// preflight answers a CORS preflight for an allowed origin; it is never
// forwarded.
func preflight(w http.ResponseWriter, r *http.Request, origin string) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
	allow := "Authorization, Content-Type, X-Request-Id"
	if req := r.Header.Values("Access-Control-Request-Headers"); len(req) > 0 {
		if v := strings.Join(req, ", "); validHeaderValue(v) && len(v) <= 1024 {
			allow = v
		}
	}
	h.Set("Access-Control-Allow-Headers", allow)
	h.Set("Access-Control-Max-Age", "600")
	h.Add("Vary", "Origin")
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	w.WriteHeader(http.StatusNoContent)
}
