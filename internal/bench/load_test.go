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

// An Exchange sees every answer with its body, and its verdict decides
// what is unexpected; its next request may depend on the last answer.
func TestRunExchangeChecksEachAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := r.Header.Get("X-N")
		if n == "" {
			n = "0"
		}
		w.Write([]byte(n + "+"))
	}))
	defer srv.Close()

	var checked atomic.Uint64
	res := Run(t.Context(), NewClient(2), Load{
		Conns:    2,
		Duration: 200 * time.Millisecond,
		Expect:   http.StatusTeapot, // not used with an Exchange
		Exchange: func(int) Exchange {
			last := ""
			return Exchange{
				Next: func() *http.Request {
					req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
					req.Header.Set("X-N", last)
					return req
				},
				Check: func(res *http.Response, body []byte) bool {
					checked.Add(1)
					want := last + "+"
					if last == "" {
						want = "0+"
					}
					last = string(body)
					// Answers are right by construction: the chain is
					// "0+", "0++", ...; every fifth is called wrong.
					return string(body) == want && len(body)%5 != 0
				},
			}
		},
	})
	if res.Requests == 0 || checked.Load() != res.Requests {
		t.Fatalf("%d answers, %d checked", res.Requests, checked.Load())
	}
	if want := res.Requests / 5; res.Unexpected < want-2 || res.Unexpected > want+2 || res.LastStatus != http.StatusOK {
		t.Fatalf("unexpected %d of %d (last %d)", res.Unexpected, res.Requests, res.LastStatus)
	}
}
