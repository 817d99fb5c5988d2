package bench

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// The counts of a run agree with what the server saw, and answers with
// another status are told apart.
func TestRunCountsWhatTheServerAnswered(t *testing.T) {
	var served, teapots atomic.Uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.Header.Get("X-N") == "3" {
			teapots.Add(1)
			w.WriteHeader(http.StatusTeapot)
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()

	res := Run(t.Context(), NewClient(4), Load{
		Conns:    4,
		Duration: 200 * time.Millisecond,
		Expect:   http.StatusOK,
		Worker: func(w int) func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			req.Header.Set("X-N", string(rune('0'+w)))
			return func() *http.Request { return req }
		},
	})
	// The last request of a worker may be cut by the end of the run
	// after the server counted it.
	if res.Requests == 0 || res.Requests > served.Load() || served.Load()-res.Requests > 4 {
		t.Fatalf("run read %d answers, server served %d", res.Requests, served.Load())
	}
	if res.Unexpected == 0 || res.Unexpected > teapots.Load() || res.LastStatus != http.StatusTeapot {
		t.Fatalf("unexpected %d (last %d), teapots served %d", res.Unexpected, res.LastStatus, teapots.Load())
	}
	if res.Latency.Count() != res.Requests {
		t.Fatalf("histogram holds %d values for %d answers", res.Latency.Count(), res.Requests)
	}
}
