package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/clearance-gw/clearance/authz/service"
	"github.com/clearance-gw/clearance/authz/store"
)

// Problem is an RFC 9457 problem details object. Errors lists every
// invalid field of a validation problem.
type Problem struct {
	Type   string               `json:"type"`
	Title  string               `json:"title"`
	Status int                  `json:"status"`
	Detail string               `json:"detail"`
	Errors []service.FieldError `json:"errors,omitempty"`

	retryAfter time.Duration
}

// Error implements error, so handlers return problems as values.
func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// problemType is the type URI of a problem named name.
func problemType(name string) string { return "urn:clearance:problem:" + name }

func newProblem(status int, name, title, detail string) *Problem {
	return &Problem{Type: problemType(name), Title: title, Status: status, Detail: detail}
}

// toProblem maps an error to its problem: the one place errors become
// HTTP statuses. Errors it does not know are 500s whose details stay in
// the log.
func toProblem(err error) (*Problem, bool) {
	if p, ok := errors.AsType[*Problem](err); ok {
		return p, true
	}
	if v, ok := errors.AsType[*service.ValidationError](err); ok {
		p := newProblem(http.StatusBadRequest, "validation", "Invalid request",
			fmt.Sprintf("%d invalid field(s)", len(v.Fields)))
		p.Errors = v.Fields
		return p, true
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return newProblem(http.StatusNotFound, "not-found", "Not found", err.Error()), true
	case errors.Is(err, store.ErrConflict):
		return newProblem(http.StatusConflict, "conflict", "Name already taken", err.Error()), true
	case errors.Is(err, store.ErrUnavailable):
		return newProblem(http.StatusServiceUnavailable, "unavailable", "Store unavailable",
			"the store could not be reached in time; try again"), true
	}
	return newProblem(http.StatusInternalServerError, "internal", "Internal error",
		"the request failed; the gateway's log has the details"), false
}

// writeProblem writes err as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) int {
	p, known := toProblem(err)
	if !known {
		log.ErrorContext(r.Context(), "admin API request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if p.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((p.retryAfter+time.Second-1)/time.Second), 10))
	}
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="clearance-admin"`)
	}
	w.WriteHeader(p.Status)
	b, _ := json.Marshal(p)
	w.Write(append(b, '\n'))
	return p.Status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"type":"urn:clearance:problem:internal","title":"Internal error","status":500,"detail":"encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
