package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// No flood token is the valid token it is made from, even when a counter
// spells the signature's first characters; and no two are alike.
func TestFloodTokensDifferFromTheValidOne(t *testing.T) {
	const sig = "signaturesignaturesignaturesignature"
	for _, tc := range []struct {
		name string
		w    int
		n    uint64 // the counter value that spells the original characters
	}{
		{"first worker, tenth token", 0, 10},
		{"worker 3, token 1", 3, 1},
		{"worker 31, token 100", 31, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := strconv.FormatUint(uint64(tc.w)<<40|tc.n, 36)
			orig := strings.Repeat("0", floodWidth-len(c)) + c
			valid := "header.payload." + orig + sig
			next := floodTokens(valid, tc.w)
			seen := map[string]bool{}
			for range 2 * tc.n {
				tok := next()
				if tok == valid {
					t.Fatalf("a flood token is the valid one: %s", tok)
				}
				if seen[tok] {
					t.Fatalf("token repeated: %s", tok)
				}
				seen[tok] = true
				if !strings.HasPrefix(tok, "header.payload.") || !strings.HasSuffix(tok, sig) || len(tok) != len(valid) {
					t.Fatalf("token %s is not the valid one with its signature's start changed", tok)
				}
			}
		})
	}
}

// A signature starting with a short counter's spelling ("a" is the first
// worker's tenth) is not reproduced either.
func TestFloodTokensShortCounterSpelling(t *testing.T) {
	valid := "h.p.a" + strings.Repeat("B", 85)
	next := floodTokens(valid, 0)
	for range 100 {
		if tok := next(); tok == valid {
			t.Fatalf("a flood token is the valid one: %s", tok)
		}
	}
}

// Two workers never make the same token.
func TestFloodTokensOfWorkersAreDistinct(t *testing.T) {
	valid := "h.p." + strings.Repeat("A", 86)
	seen := map[string]bool{}
	for w := range 4 {
		next := floodTokens(valid, w)
		for range 1000 {
			tok := next()
			if seen[tok] {
				t.Fatalf("worker %d repeats %s", w, tok)
			}
			seen[tok] = true
		}
	}
}

// The gateway gets from tokenPoster the bytes tokenRequest sent: the
// same method, URL, headers and body, and every request its own body.
func TestTokenPosterSendsWhatTokenRequestSent(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dump, err := httputil.DumpRequest(r, true)
		if err != nil {
			t.Error(err)
		}
		got = append(got, string(dump))
	}))
	defer srv.Close()
	send := func(req *http.Request) {
		t.Helper()
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	forms := []url.Values{
		{"grant_type": {"client_credentials"}, "scope": {"charts"}},
		{"grant_type": {"refresh_token"}, "refresh_token": {"abc-_DEF0"}},
	}
	post := tokenPoster(srv.URL, "bench-client", "s3cret:+/")
	for _, f := range forms {
		send(tokenRequest(srv.URL, "bench-client", "s3cret:+/", f))
		send(post(f.Encode()))
	}
	send(post("grant_type=refresh_token&refresh_token=" + url.QueryEscape("abc-_DEF0")))
	if len(got) != 5 {
		t.Fatalf("%d requests received", len(got))
	}
	for i := 0; i < 4; i += 2 {
		if got[i] != got[i+1] {
			t.Errorf("tokenRequest sent\n%s\ntokenPoster sent\n%s", got[i], got[i+1])
		}
	}
	if got[4] != got[2] {
		t.Errorf("refresh-rotation's body\n%s\nwant\n%s", got[4], got[2])
	}
}
