package guard

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

const goodJWS = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"

func TestExtractToken(t *testing.T) {
	long := "a." + strings.Repeat("b", MaxTokenSize) + ".c"
	tests := []struct {
		name    string
		headers []string // Authorization values
		query   string
		want    string
		wantErr *Error // compared by status, code and description
	}{
		{name: "bearer header", headers: []string{"Bearer " + goodJWS}, want: goodJWS},
		{name: "lowercase scheme", headers: []string{"bearer " + goodJWS}, want: goodJWS},
		{name: "mixed case scheme", headers: []string{"BeArEr " + goodJWS}, want: goodJWS},
		{name: "several spaces after scheme", headers: []string{"Bearer   " + goodJWS}, want: goodJWS},
		{name: "query parameter", query: "access_token=" + goodJWS, want: goodJWS},
		{name: "query parameter among others", query: "a=1&access_token=" + goodJWS + "&b=2", want: goodJWS},
		{name: "percent-encoded query key", query: "access%5Ftoken=" + goodJWS, want: goodJWS},
		{name: "nothing", wantErr: ErrMissingToken},
		{name: "unrelated query", query: "a=1&b", wantErr: ErrMissingToken},
		{name: "basic scheme", headers: []string{"Basic dXNlcjpwYXNz"}, wantErr: ErrMissingToken},
		{name: "basic scheme with query token", headers: []string{"Basic dXNlcjpwYXNz"}, query: "access_token=" + goodJWS, want: goodJWS},
		{name: "scheme that only starts with bearer", headers: []string{"Bearerx abc"}, wantErr: ErrMissingToken},
		{name: "header and query", headers: []string{"Bearer " + goodJWS}, query: "access_token=" + goodJWS, wantErr: errBothMethods},
		{name: "malformed header and query", headers: []string{"Bearer a b"}, query: "access_token=" + goodJWS, wantErr: errBothMethods},
		{name: "two headers", headers: []string{"Bearer " + goodJWS, "Bearer " + goodJWS}, wantErr: errMultipleHeaders},
		{name: "two query parameters", query: "access_token=" + goodJWS + "&access_token=" + goodJWS, wantErr: errMultipleParams},
		{name: "empty header", headers: []string{""}, wantErr: errMalformedHeader},
		{name: "scheme alone", headers: []string{"Bearer"}, wantErr: errEmptyBearer},
		{name: "scheme and spaces", headers: []string{"Bearer    "}, wantErr: errEmptyBearer},
		{name: "tab after scheme", headers: []string{"Bearer\t" + goodJWS}, wantErr: errMalformedHeader},
		{name: "comma after scheme", headers: []string{"Bearer," + goodJWS}, wantErr: errMalformedHeader},
		{name: "no scheme", headers: []string{"=abc"}, wantErr: errMalformedHeader},
		{name: "space inside token", headers: []string{"Bearer a.b c.d"}, wantErr: errMalformedBearer},
		{name: "quote in token", headers: []string{`Bearer "a.b.c"`}, wantErr: errMalformedBearer},
		{name: "padding in the middle", headers: []string{"Bearer a=.b.c"}, wantErr: errMalformedBearer},
		{name: "unicode token", headers: []string{"Bearer ä.b.c"}, wantErr: errMalformedBearer},
		{name: "empty query value", query: "access_token=", wantErr: errEmptyParam},
		{name: "query key without value", query: "access_token", wantErr: errEmptyParam},
		{name: "bad escape in query", query: "access_token=a%zz", wantErr: errMalformedParam},
		{name: "plus in query is a space", query: "access_token=a+b", wantErr: errMalformedParam},
		{name: "token too large in header", headers: []string{"Bearer " + long}, wantErr: errTooLarge},
		{name: "token too large in query", query: "access_token=" + long, wantErr: errTooLarge},
		{name: "token of exactly the limit", headers: []string{"Bearer " + long[:MaxTokenSize-2] + ".c"}, want: long[:MaxTokenSize-2] + ".c"},
		{name: "two segments", headers: []string{"Bearer a.b"}, wantErr: errMalformedToken},
		{name: "four segments", headers: []string{"Bearer a.b.c.d"}, wantErr: errMalformedToken},
		{name: "empty signature", headers: []string{"Bearer a.b."}, wantErr: errMalformedToken},
		{name: "empty header segment", headers: []string{"Bearer .b.c"}, wantErr: errMalformedToken},
		{name: "standard base64 characters", headers: []string{"Bearer a+.b/.c"}, wantErr: errMalformedToken},
		{name: "padded segment", headers: []string{"Bearer a.b.c=="}, wantErr: errMalformedToken},
		{name: "opaque token", headers: []string{"Bearer 2YotnFZFEjr1zCsicMWpAA"}, wantErr: errMalformedToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/mapdata/x", nil)
			r.URL.RawQuery = tt.query
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := ExtractToken(r)
			if tt.wantErr == nil {
				if err != nil || got != tt.want {
					t.Fatalf("ExtractToken = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("ExtractToken = %q, %v; want *Error %v", got, err, tt.wantErr)
			}
			if e.Status != tt.wantErr.Status || e.Code != tt.wantErr.Code || e.Description != tt.wantErr.Description {
				t.Fatalf("error = %d %q %q; want %d %q %q", e.Status, e.Code, e.Description,
					tt.wantErr.Status, tt.wantErr.Code, tt.wantErr.Description)
			}
			if got != "" {
				t.Fatalf("token %q returned with an error", got)
			}
		})
	}
}

// The statuses the brief fixes, spelled out once more so that a change of
// a sentinel cannot silently move them.
func TestExtractTokenStatuses(t *testing.T) {
	for _, tc := range []struct {
		err    *Error
		status int
		code   string
	}{
		{ErrMissingToken, 401, ""},
		{errBothMethods, 400, "invalid_request"},
		{errMalformedHeader, 400, "invalid_request"},
		{errTooLarge, 400, "invalid_request"},
		{errMalformedToken, 401, "invalid_token"},
	} {
		if tc.err.Status != tc.status || tc.err.Code != tc.code {
			t.Errorf("%q: %d %q, want %d %q", tc.err.Description, tc.err.Status, tc.err.Code, tc.status, tc.code)
		}
	}
}

func FuzzExtractBearer(f *testing.F) {
	for _, seed := range []struct{ header, query string }{
		{goodJWS, "a.b"},                               // bare token, two segments
		{"Bearer " + goodJWS, ""},                      // good
		{"bearer " + goodJWS, ""},                      // lowercase scheme
		{"Bearer  " + goodJWS, ""},                     // double space
		{"Bearer\t" + goodJWS, ""},                     // tab separator
		{"\tBearer " + goodJWS + "\t", ""},             // surrounding tabs
		{"Basic dXNlcjpwYXNz", ""},                     // another scheme
		{"", ""},                                       // empty
		{"Bearer ", ""},                                // scheme only
		{"Bearer " + strings.Repeat("a", 9000), ""},    // very long
		{"Bearer ✈️.ü.ñ", ""},                          // unicode
		{"", "access_token=" + goodJWS},                // query
		{"Bearer " + goodJWS, "access_token=x.y.z"},    // both
		{"", "access_token=a&access_token=b"},          // duplicate parameter
		{"", "access_token=%e2%9c%88.b.c"},             // escaped unicode
		{"", "x=1&access%5ftoken=" + goodJWS + "&y=%"}, // escaped key, stray percent
	} {
		f.Add(seed.header, seed.query)
	}
	// reference grammars: RFC 6750 b64token and the compact JWS shape
	refToken := regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)
	refCompact := regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)
	f.Fuzz(func(t *testing.T, header, query string) {
		for _, s := range []string{header, query} {
			want := badToken
			switch {
			case refCompact.MatchString(s):
				want = compactJWS
			case refToken.MatchString(s):
				want = b64token
			}
			if got := classify(s); got != want {
				t.Fatalf("classify(%q) = %d, reference says %d", s, got, want)
			}
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.RawQuery = query
		if header != "" {
			r.Header["Authorization"] = []string{header}
		}
		tok, err := ExtractToken(r)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if tok != "" {
				t.Fatalf("token %q returned with error %v", tok, err)
			}
			if e.Status != 400 && e.Status != 401 {
				t.Fatalf("status %d", e.Status)
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t") || !utf8.ValidString(tok) || len(tok) > MaxTokenSize {
			t.Fatalf("bad token %q", tok)
		}
		if strings.Count(tok, ".") != 2 {
			t.Fatalf("token %q is not three segments", tok)
		}
		if !strings.Contains(header, tok) && !strings.Contains(query, tok) {
			// a percent-decoded query value is the only token not verbatim in the input
			if !strings.Contains(query, "%") {
				t.Fatalf("token %q not from the request", tok)
			}
		}
	})
}

func TestASCIIClass(t *testing.T) {
	if len(asciiClass) != 256 {
		t.Fatalf("%d classes, want one per byte", len(asciiClass))
	}
	for c := range 0x100 {
		var want byte = '0'
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			want = '2'
		case c == '.':
			want = '1'
		case c == '~', c == '+', c == '/':
			want = '3'
		}
		if asciiClass[c] != want {
			t.Errorf("class of %q = %c, want %c", rune(c), asciiClass[c], want)
		}
	}
}

// classifySimple is classify written byte by byte, as the RFCs read.
func classifySimple(s string) int {
	isB64url := func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	body := strings.TrimRight(s, "=")
	if body == "" {
		return badToken
	}
	for i := 0; i < len(body); i++ {
		if c := body[i]; !isB64url(c) && c != '.' && c != '~' && c != '+' && c != '/' {
			return badToken
		}
	}
	if len(body) != len(s) {
		return b64token
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return b64token
	}
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, "~+/") {
			return b64token
		}
	}
	return compactJWS
}

func TestClassifyAgreesWithTheRFCs(t *testing.T) {
	alphabet := []string{"a", "Z", "0", "-", "_", ".", "~", "+", "/", "=", " ", "\x00", "\x80", "é", "%"}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		if got, want := classify(prefix), classifySimple(prefix); got != want {
			t.Errorf("classify(%q) = %d, want %d", prefix, got, want)
		}
		if n == 0 {
			return
		}
		for _, a := range alphabet {
			gen(prefix+a, n-1)
		}
	}
	gen("", 4)
	for _, s := range []string{"aa.bb.cc", "aa.bb.cc=", "aa..cc", ".bb.cc", "aa.bb.", "aa.bb.cc.dd", "a~.b.c", "ab.c/d.e", "abc=="} {
		if got, want := classify(s), classifySimple(s); got != want {
			t.Errorf("classify(%q) = %d, want %d", s, got, want)
		}
	}
}
