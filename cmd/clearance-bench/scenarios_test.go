package main

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
)

// revoked-1pct judges each answer by when its request was sent: before the
// revocation began every token gets 200, after it ended the revoked ones
// get 401 (and are counted) and the others 200.
func TestRevocationRunJudgesByWhenSent(t *testing.T) {
	tokens := make([]string, 300)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("Bearer t%d", i)
	}
	revoked := map[string]bool{}
	for i := range tokens {
		if revokedIndex(i) {
			revoked[tokens[i]] = true
		}
	}
	for _, tc := range []struct {
		name        string
		start, done int64 // UnixNano; 0: not yet
		refuse      bool  // the server refuses the revoked tokens
		wantBad     bool
		wantRefused bool
	}{
		{name: "before the revocation, all accepted", refuse: false},
		{name: "before the revocation, a revoked one refused", refuse: true, wantBad: true},
		{name: "revocation still running, either answer", start: 1, refuse: true},
		{name: "revocation starts later: still 200", start: math.MaxInt64, refuse: true, wantBad: true},
		{name: "after the revocation, refused", start: 1, done: 2, refuse: true, wantRefused: true},
		{name: "after the revocation, still accepted", start: 1, done: 2, refuse: false, wantBad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.refuse && revoked[r.Header.Get("Authorization")] {
					w.WriteHeader(http.StatusUnauthorized)
				}
			}))
			defer srv.Close()
			rr := &revocationRun{tokens: tokens, conns: 1}
			rr.start.Store(tc.start)
			rr.done.Store(tc.done)
			x := rr.exchange(srv.URL)(0)
			bad := 0
			for range len(tokens) {
				res, err := srv.Client().Do(x.Next())
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if !x.Check(res, nil) {
					bad++
				}
			}
			if got := bad > 0; got != tc.wantBad {
				t.Errorf("%d answers judged wrong, want some: %v", bad, tc.wantBad)
			}
			if got := rr.refusedAfter.Load(); (got == 3) != tc.wantRefused || (got != 0 && got != 3) {
				t.Errorf("refused after: %d (want 3: %v)", got, tc.wantRefused)
			}
		})
	}
}
