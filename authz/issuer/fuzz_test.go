package issuer_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzTokenRequest sends any body with any content type to the token
// endpoint: the answer is never a panic, and is always either a token
// response or an RFC 6749 JSON error with a 4xx status.
func FuzzTokenRequest(f *testing.F) {
	seeds := []struct{ ct, body string }{
		// Valid requests, form and JSON (capa style).
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=backend&client_secret=" + "s3%2Bcr%26t%252F%3Dx+y"},
		{"application/json", `{"grant_type":"password","client_id":"app","client_secret":"app-secret","username":"alice","password":"alice-pw"}`},
		{"application/json", `{"grant_type":"client_credentials","client_id":"backend","client_secret":"s3+cr&t%2F=x y","scope":["user"]}`},
		// Duplicates, odd types, truncation, junk.
		{"application/x-www-form-urlencoded", "grant_type=a&grant_type=b"},
		{"application/x-www-form-urlencoded", "grant_type=%zz;x=1"},
		{"application/json", `{"grant_type":"a","grant_type":"b"}`},
		{"application/json", `{"scope":[1,2],"grant_type":null}`},
		{"application/json", `{"a":{"b":[{}]}}`},
		{"application/json", `{"grant_type":"client_credentials"`},
		{"application/json; charset=utf-8", "\xff\xfe{}"},
		{"text/plain", "grant_type=client_credentials"},
		{"", ""},
		{"application/x-www-form-urlencoded; =", "x"},
		{"application/x-www-form-urlencoded", "grant_type=refresh_token&client_id=spa&refresh_token="},
	}
	for _, s := range seeds {
		f.Add(s.ct, s.body)
	}
	fx := newFixture(f)
	h := fx.srv.Handler()
	f.Fuzz(func(t *testing.T, contentType, body string) {
		req := httptest.NewRequest(http.MethodPost, "/token", bytes.NewBufferString(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var got map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("status %d, body is not JSON: %q", rec.Code, rec.Body.Bytes())
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatal("no Cache-Control: no-store")
		}
		switch {
		case rec.Code == http.StatusOK:
			if s, _ := got["access_token"].(string); s == "" || got["token_type"] != "Bearer" {
				t.Fatalf("200 without a token: %s", rec.Body.Bytes())
			}
		case rec.Code >= 400 && rec.Code < 500:
			if s, _ := got["error"].(string); s == "" {
				t.Fatalf("%d without error: %s", rec.Code, rec.Body.Bytes())
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
		}
	})
}
