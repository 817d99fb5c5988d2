package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The framings a test server answers with, chosen by the request's path.
var framings = []string{"/length", "/chunked", "/eof", "/close"}

// framingServer answers each request with the framing its path names:
// /length with Content-Length, /chunked in the chunked coding (flushed
// in the middle), /eof delimited by the end of the connection, /close
// with Content-Length and "Connection: close". GETs get a body made from
// X-Seq, big enough now and then to span the client's read buffer; POSTs
// get their body back. An X-Teapot header makes the status 418; X-Mode and
// X-Seq are sent back as headers.
func framingServer(t *testing.T) (srv *httptest.Server, conns *atomic.Int64) {
	conns = new(atomic.Int64)
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || int64(len(body)) != max(r.ContentLength, 0) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.Method == http.MethodGet {
			body = answerBody(r.Header.Get("X-Seq"))
		}
		h := w.Header()
		h.Set("X-Mode", r.URL.Path)
		h.Set("X-Seq", r.Header.Get("X-Seq"))
		switch r.URL.Path {
		case "/length":
			h.Set("Content-Length", strconv.Itoa(len(body)))
		case "/eof":
			// net/http's server then neither sets a length nor chunks,
			// and closes the connection after the body.
			h.Set("Transfer-Encoding", "identity")
		case "/close":
			h.Set("Content-Length", strconv.Itoa(len(body)))
			h.Set("Connection", "close")
		}
		status := http.StatusOK
		if r.Header.Get("X-Teapot") != "" {
			status = http.StatusTeapot
		}
		w.WriteHeader(status)
		if r.URL.Path == "/chunked" {
			half := len(body) / 2
			w.Write(body[:half])
			w.(http.Flusher).Flush()
			body = body[half:]
		}
		w.Write(body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns
}

func answerBody(seq string) []byte {
	n, _ := strconv.Atoi(strings.TrimPrefix(seq, "s"))
	reps := 1
	if n%4 == 1 {
		reps = 3000 // ~30 KB, over the raw client's 16 KiB buffer
	}
	return bytes.Repeat([]byte("answer "+seq+"\n"), reps)
}

// The server's framing for each path is the one its name says, as
// net/http's own parser reads it, so that the tests below test what they
// claim.
func TestFramingServerFramesAsNamed(t *testing.T) {
	srv, _ := framingServer(t)
	for _, path := range framings {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nX-Seq: s1\r\n\r\n", path)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		conn.Close()
		if err != nil || !bytes.Equal(body, answerBody("s1")) {
			t.Fatalf("%s: body of %d bytes, %v", path, len(body), err)
		}
		chunked := len(res.TransferEncoding) == 1 && res.TransferEncoding[0] == "chunked"
		var ok bool
		switch path {
		case "/length":
			ok = res.ContentLength == int64(len(body)) && !chunked && !res.Close
		case "/chunked":
			ok = chunked && !res.Close
		case "/eof":
			ok = res.ContentLength == -1 && !chunked && res.Close
		case "/close":
			ok = res.ContentLength == int64(len(body)) && !chunked && res.Close
		}
		if !ok {
			t.Errorf("%s: length %d, transfer encoding %v, close %v", path, res.ContentLength, res.TransferEncoding, res.Close)
		}
	}
}

// script is a worker's fixed sequence of requests: per request, which
// framing, GET or POST, and whether the server is asked for a 418.
type script struct {
	base        string
	w           int
	i           int
	framings    []string
	mode, seq   string
	post        []byte
	teapot      bool
	perWorker   int
	finish      *finisher
	wrong       *atomic.Int64 // answers with the right status but a wrong header or body
	wantTeapots *atomic.Int64
}

func (s *script) next() *http.Request {
	if s.i == s.perWorker-1 {
		s.finish.wait()
	}
	k := s.w + s.i
	s.mode, s.seq = s.framings[k%len(s.framings)], fmt.Sprintf("s%d", k)
	s.teapot = s.i%3 == 0
	var req *http.Request
	if s.i%2 == 1 {
		size := 10 + s.i
		if s.i%5 == 0 {
			size = 20_000
		}
		s.post = bytes.Repeat([]byte{'a' + byte(s.i%26)}, size)
		req, _ = http.NewRequest(http.MethodPost, s.base+s.mode, bytes.NewReader(s.post))
		req.Header.Set("Content-Type", "application/octet-stream")
	} else {
		s.post = nil
		req, _ = http.NewRequest(http.MethodGet, s.base+s.mode, nil)
	}
	req.Header.Set("X-Seq", s.seq)
	if s.teapot {
		req.Header.Set("X-Teapot", "1")
		s.wantTeapots.Add(1)
	}
	s.i++
	return req
}

func (s *script) check(res *http.Response, body []byte) bool {
	want := s.post
	if want == nil {
		want = answerBody(s.seq)
	}
	if res.Header.Get("X-Mode") != s.mode || res.Header.Get("X-Seq") != s.seq || !bytes.Equal(body, want) {
		s.wrong.Add(1)
		return false
	}
	return res.StatusCode == http.StatusOK
}

// finisher ends a run once every worker has sent all but its last
// request: the last is then sent with the run already over, so each
// worker sends exactly its script, whatever the speed.
type finisher struct {
	n      atomic.Int64
	all    chan struct{}
	cancel context.CancelFunc
}

func newFinisher(workers int, cancel context.CancelFunc) *finisher {
	f := &finisher{all: make(chan struct{}), cancel: cancel}
	f.n.Store(int64(workers))
	return f
}

func (f *finisher) wait() {
	if f.n.Add(-1) == 0 {
		f.cancel()
		close(f.all)
	}
	<-f.all
}

// runScript runs every worker's script once with the raw client or
// net/http's and returns the result, the answers with a wrong header or
// body, and the 418s asked for.
func runScript(t *testing.T, raw, exchange bool, base string, framings []string, conns, perWorker int) (*Result, int64, int64) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	fin := newFinisher(conns, cancel)
	var wrong, teapots atomic.Int64
	newScript := func(w int) *script {
		return &script{base: base, w: w, framings: framings, perWorker: perWorker, finish: fin, wrong: &wrong, wantTeapots: &teapots}
	}
	l := Load{Conns: conns, Duration: time.Hour, Expect: http.StatusOK}
	if exchange {
		l.Exchange = func(w int) Exchange {
			s := newScript(w)
			return Exchange{Next: s.next, Check: s.check}
		}
	} else {
		l.Worker = func(w int) func() *http.Request { return newScript(w).next }
	}
	var res *Result
	if raw {
		res = RunRaw(ctx, l)
	} else {
		client := NewClient(conns)
		defer client.CloseIdleConnections()
		res = Run(ctx, client, l)
	}
	return res, wrong.Load(), teapots.Load()
}

// Against every framing, with GETs and POSTs, the raw client reads each
// answer whole and right (an Exchange sees its status, headers and body),
// and its counts are the ones net/http's client gets for the same
// requests.
func TestRawClientCountsAsNetHTTP(t *testing.T) {
	srv, _ := framingServer(t)
	const conns, perWorker = 3, 40
	for _, exchange := range []bool{false, true} {
		var results [2]*Result
		for i, raw := range []bool{false, true} {
			res, wrong, teapots := runScript(t, raw, exchange, srv.URL, framings, conns, perWorker)
			name := map[bool]string{false: "net/http", true: "raw"}[raw]
			if res.Requests != conns*perWorker || res.Errors != 0 || wrong != 0 {
				t.Fatalf("%s, exchange %v: %d answers of %d, %d errors, %d with a wrong header or body",
					name, exchange, res.Requests, conns*perWorker, res.Errors, wrong)
			}
			if int64(res.Unexpected) != teapots || res.LastStatus != http.StatusTeapot {
				t.Fatalf("%s, exchange %v: %d unexpected (last %d), %d teapots asked for",
					name, exchange, res.Unexpected, res.LastStatus, teapots)
			}
			if res.Latency.Count() != res.Requests {
				t.Fatalf("%s: histogram holds %d values for %d answers", name, res.Latency.Count(), res.Requests)
			}
			results[i] = res
		}
		n, r := results[0], results[1]
		if n.Requests != r.Requests || n.Unexpected != r.Unexpected || n.Errors != r.Errors {
			t.Fatalf("exchange %v: net/http %d/%d/%d, raw %d/%d/%d (requests/unexpected/errors)",
				exchange, n.Requests, n.Unexpected, n.Errors, r.Requests, r.Unexpected, r.Errors)
		}
	}
}

// Keep-alive answers (Content-Length, chunked) keep one connection per
// worker; each answer that closes costs exactly one more.
func TestRawClientKeepsConnectionsAlive(t *testing.T) {
	srv, conns := framingServer(t)
	const workers, perWorker = 4, 30
	res, wrong, _ := runScript(t, true, true, srv.URL, []string{"/length", "/chunked"}, workers, perWorker)
	if res.Requests != workers*perWorker || res.Errors != 0 || wrong != 0 {
		t.Fatalf("%d answers, %d errors, %d wrong", res.Requests, res.Errors, wrong)
	}
	if got := conns.Load(); got != workers {
		t.Fatalf("%d connections for %d workers", got, workers)
	}

	// Every answer closes: a new connection per request.
	before := conns.Load()
	res, wrong, _ = runScript(t, true, true, srv.URL, []string{"/close", "/eof"}, workers, perWorker)
	if res.Requests != workers*perWorker || res.Errors != 0 || wrong != 0 {
		t.Fatalf("closing: %d answers, %d errors, %d wrong", res.Requests, res.Errors, wrong)
	}
	if got := conns.Load() - before; got != workers*perWorker {
		t.Fatalf("closing: %d connections for %d requests", got, workers*perWorker)
	}
}

// scriptedServer accepts connections and answers the requests on each
// with the next of answers, written as is; after an answer ending in
// "\x00close" (not written) it closes the connection.
func scriptedServer(t *testing.T, answers ...string) (url string, reqs chan *http.Request, accepted *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reqs = make(chan *http.Request, 16)
	accepted = new(atomic.Int64)
	var mu sync.Mutex
	next := 0
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			wg.Go(func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body, _ := io.ReadAll(req.Body)
					req.Body = io.NopCloser(bytes.NewReader(body))
					select {
					case reqs <- req:
					default: // nobody reads them
					}
					mu.Lock()
					a := answers[next%len(answers)]
					next++
					mu.Unlock()
					a, closing := strings.CutSuffix(a, "\x00close")
					io.WriteString(conn, a)
					if closing {
						return
					}
				}
			})
		}
	})
	return "http://" + ln.Addr().String(), reqs, accepted
}

// The parser's corners: interim answers, chunk extensions and trailers,
// a header line longer than the read buffer, no body for 204 and HEAD,
// HTTP/1.0 delimited by the end of the connection, a server closing a
// kept-alive connection (the request is sent again, not counted as an
// error), and answers it cannot parse (errors).
func TestRawClientParses(t *testing.T) {
	long := strings.Repeat("v", 40_000)
	cases := []struct {
		name, answer string
		method       string
		status       int
		header       string // X-H's value
		body         string
		err          bool
	}{
		{name: "interim", answer: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nX-H: h\r\nContent-Length: 3\r\n\r\nabc",
			status: 201, header: "h", body: "abc"},
		{name: "chunk extensions and trailers", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-H: c\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n",
			status: 200, header: "c", body: "abc0123456789"},
		{name: "long header", answer: "HTTP/1.1 200 OK\r\nx-h: " + long + "\r\nContent-Length: 2\r\n\r\nok",
			status: 200, header: long, body: "ok"},
		{name: "204 has no body", answer: "HTTP/1.1 204 No Content\r\nX-H: n\r\n\r\n", status: 204, header: "n"},
		{name: "HEAD has no body", method: http.MethodHead, answer: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", status: 200},
		{name: "HTTP/1.0", answer: "HTTP/1.0 200 OK\r\nX-H: old\r\n\r\nto the end\x00close", status: 200, header: "old", body: "to the end"},
		{name: "bare LF", answer: "HTTP/1.1 200 OK\nContent-Length: 1\n\nz", status: 200, body: "z"},
		{name: "garbage", answer: "HTTP/1.1 OK\r\n\r\n", err: true},
		{name: "bad chunk size", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: true},
		{name: "short body", answer: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc\x00close", err: true},
		{name: "unknown coding", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, _, _ := scriptedServer(t, tc.answer)
			c := newRawConn()
			defer c.close()
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			for range 2 { // the second on the same connection, or a new one after a close
				req, _ := http.NewRequest(method, url+"/x", nil)
				var body bytes.Buffer
				status, res, err := c.send(req, true, &body)
				if tc.err {
					if err == nil {
						t.Fatalf("status %d, no error", status)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if status != tc.status || res.StatusCode != tc.status || res.Header.Get("X-H") != tc.header || body.String() != tc.body {
					t.Fatalf("status %d/%d, X-H of %d bytes, body %q", status, res.StatusCode, len(res.Header.Get("X-H")), body.String())
				}
			}
		})
	}
}

// A kept-alive connection the server closes after an answer without
// saying so is dialled again and the request sent again, not counted as
// an error; the request arrives as written: method, URI, Host, headers,
// body.
func TestRawClientRedialsAndWritesRequests(t *testing.T) {
	url, reqs, accepted := scriptedServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\x00close")
	c := newRawConn()
	defer c.close()
	for i := range 3 {
		req, _ := http.NewRequest(http.MethodPost, url+"/p/a%20th?q=1&r=2", strings.NewReader(fmt.Sprint("body ", i)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header["Authorization"] = []string{"Bearer t"}
		req.Host = "api.example"
		var body bytes.Buffer
		status, _, err := c.send(req, false, &body)
		if err != nil || status != 200 {
			t.Fatalf("request %d: status %d, %v", i, status, err)
		}
		got := <-reqs
		b, _ := io.ReadAll(got.Body)
		if got.Method != http.MethodPost || got.RequestURI != "/p/a%20th?q=1&r=2" || got.Host != "api.example" ||
			got.Header.Get("Authorization") != "Bearer t" || got.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
			got.ContentLength != int64(len(b)) || string(b) != fmt.Sprint("body ", i) {
			t.Fatalf("request %d arrived as %s %s, Host %s, headers %v, body %q", i, got.Method, got.RequestURI, got.Host, got.Header, b)
		}
	}
	if accepted.Load() != 3 {
		t.Fatalf("%d connections for 3 requests each answered then closed", accepted.Load())
	}
	if len(reqs) != 0 {
		t.Fatalf("%d requests sent again", len(reqs))
	}
}

// An answer that says the connection closes is the last on it even when
// the server leaves it open; an HTTP/1.0 answer keeps it only when it
// says keep-alive.
func TestRawClientHonoursConnectionClose(t *testing.T) {
	cases := []struct {
		answer string
		conns  int64 // for 3 requests
	}{
		{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 3},
		{"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 3},
		{"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 3},
		{"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", 1},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1},
	}
	for _, tc := range cases {
		url, _, accepted := scriptedServer(t, tc.answer)
		c := newRawConn()
		for range 3 {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			var body bytes.Buffer
			if status, _, err := c.send(req, true, &body); err != nil || status != 200 || body.String() != "ok" {
				t.Fatalf("%q: status %d, body %q, %v", tc.answer, status, body.String(), err)
			}
		}
		c.close()
		if accepted.Load() != tc.conns {
			t.Errorf("%q: %d connections for 3 requests, want %d", tc.answer, accepted.Load(), tc.conns)
		}
	}
}
