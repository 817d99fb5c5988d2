package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
)

const (
	headersTooLargeBody = `{"error":"invalid_request","error_description":"request headers too large"}` + "\n"
	notFoundBody        = `{"error":"not_found","error_description":"no route matches this path"}` + "\n"
	badGatewayBody      = `{"error":"bad_gateway","error_description":"the upstream service is unavailable"}` + "\n"
	timeoutBody         = `{"error":"upstream_timeout","error_description":"the upstream service did not answer in time"}` + "\n"
	// statusClientClosed is logged (nginx's 499) when the client left
	// before the upstream answered; nobody receives it.
	statusClientClosed = 499
)

// badPathBody is the 400 body for a path routepath.Canonical refuses.
func badPathBody(err error) string {
	b, _ := json.Marshal(map[string]string{"error": "invalid_request", "error_description": err.Error()})
	return string(b) + "\n"
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// upstreamError is the ReverseProxy ErrorHandler: it classifies the
// failure; the details go to the access log only.
func (h *Handler) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	ctxErr := r.Context().Err()
	var ne net.Error
	switch {
	case errors.Is(ctxErr, context.Canceled) || (ctxErr == nil && errors.Is(err, context.Canceled)):
		if ex := exchangeFrom(r.Context()); ex != nil {
			ex.gone = true
		}
		w.WriteHeader(statusClientClosed)
	case errors.Is(ctxErr, context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()):
		writeJSON(w, http.StatusGatewayTimeout, timeoutBody)
	default:
		writeJSON(w, http.StatusBadGateway, badGatewayBody)
	}
	if ex := exchangeFrom(r.Context()); ex != nil {
		ex.upErr = err
	}
}
