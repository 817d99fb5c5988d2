package bench

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Load is one closed-loop run: Conns workers, each with its own keep-alive
// connection, send a request, read the whole answer, and send the next,
// until Duration is over.
type Load struct {
	Conns    int
	Duration time.Duration
	// Worker returns the request source of worker w: each call of next
	// returns the request to send. A request may be returned again once
	// its answer was read (GET requests without a body are reused as is).
	Worker func(w int) (next func() *http.Request)
	// Expect is the status every answer should have; others are counted
	// as Unexpected.
	Expect int
	// Exchange, when set, is used instead of Worker and Expect: it
	// returns worker w's requests together with the check of their
	// answers, for loads whose next request depends on the last answer
	// (a rotated refresh token) or whose right answer differs from one
	// request to the next.
	Exchange func(w int) Exchange
}

// Exchange is one worker's requests and the check of their answers.
type Exchange struct {
	// Next returns the request to send, as Load.Worker's source does.
	Next func() *http.Request
	// Check is given every answer, its body read whole (the slice is
	// reused after Check returns), and reports whether it is the
	// expected one; the others are counted as Unexpected.
	Check func(res *http.Response, body []byte) bool
}

// Result is what one run measured.
type Result struct {
	Requests   uint64        // answers read
	Unexpected uint64        // answers with another status than Expect
	Errors     uint64        // requests that failed without an answer
	Elapsed    time.Duration // from the first request to the end
	Latency    Histogram
	LastStatus int // a status other than Expect, for the report
}

// Rate is answers per second.
func (r *Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// NewClient returns a client for conns concurrent keep-alive connections
// to one host, with no proxy from the environment and no compression.
func NewClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}, Timeout: 30 * time.Second}
}

// Run runs l with client and returns the merged result. ctx ends it early.
func Run(ctx context.Context, client *http.Client, l Load) *Result {
	return run(ctx, l, func() sender { return netHTTP{client} })
}

// sender is one worker's way of sending a request and reading its whole
// answer: when full, its headers (in the returned response) and its body
// (into body) are kept for Exchange.Check; otherwise only the status
// counts.
type sender interface {
	send(req *http.Request, full bool, body *bytes.Buffer) (status int, res *http.Response, err error)
	close()
}

// netHTTP sends through a net/http client.
type netHTTP struct{ client *http.Client }

func (s netHTTP) send(req *http.Request, full bool, body *bytes.Buffer) (int, *http.Response, error) {
	ans, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	if full {
		_, err = body.ReadFrom(ans.Body)
	} else {
		_, err = io.Copy(io.Discard, ans.Body)
	}
	ans.Body.Close()
	if err != nil {
		return 0, nil, err
	}
	return ans.StatusCode, ans, nil
}

func (netHTTP) close() {}

// run runs l with a sender per worker from newSender.
func run(ctx context.Context, l Load, newSender func() sender) *Result {
	ctx, cancel := context.WithTimeout(ctx, l.Duration)
	defer cancel()
	results := make([]Result, l.Conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range l.Conns {
		var x Exchange
		if l.Exchange != nil {
			x = l.Exchange(w)
		} else {
			x.Next = l.Worker(w)
		}
		res := &results[w]
		s := newSender()
		wg.Go(func() {
			defer s.close()
			full := x.Check != nil
			var body bytes.Buffer
			for ctx.Err() == nil {
				req := x.Next()
				t0 := time.Now()
				body.Reset()
				status, ans, err := s.send(req, full, &body)
				if err != nil {
					if ctx.Err() == nil {
						res.Errors++
					}
					continue
				}
				res.Latency.Record(time.Since(t0))
				res.Requests++
				ok := status == l.Expect
				if full {
					ok = x.Check(ans, body.Bytes())
				}
				if !ok {
					res.Unexpected++
					res.LastStatus = status
				}
			}
		})
	}
	wg.Wait()
	total := &Result{Elapsed: time.Since(start)}
	for i := range results {
		r := &results[i]
		total.Requests += r.Requests
		total.Unexpected += r.Unexpected
		total.Errors += r.Errors
		total.Latency.Merge(&r.Latency)
		if r.LastStatus != 0 {
			total.LastStatus = r.LastStatus
		}
	}
	return total
}
