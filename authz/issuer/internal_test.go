package issuer

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/clearance-gw/clearance/authz/secret"
)

// FuzzBasicCredentials checks parseBasic against net/http's own Basic
// parser (on canonical base64, the only spelling parseBasic takes), that
// what it accepts prints back as given, and the form-decoding rule of
// RFC 6749 §2.3.1.
func FuzzBasicCredentials(f *testing.F) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, s := range []string{
		"Basic " + enc("backend:secret"),                                              // plain
		"Basic " + enc(url.QueryEscape("my client")+":"+url.QueryEscape("a+b&c%d=e")), // x/oauth2 style
		"Basic " + enc("backend:a+b&c%d=e"),                                           // authlib style, unencoded
		"basic " + enc("id:"),                                                         // public client, lower-case scheme
		"Basic " + enc(":secret"),                                                     // no id
		"Basic " + enc("no-colon"),
		"Basic !!!",
		"Bearer abc.def.ghi",
		"Basic",
		"Basic " + enc("id:%zz"),       // invalid escape: raw kept
		"Basic YmFja2Vu\nZDpzZWNyZXQ=", // line break: net/http takes it, we do not
		"Basic YmFja2VuZDpzZWNyZXR=",   // padding bit set: likewise
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		c, ok := parseBasic(header)
		req := http.Request{Header: http.Header{"Authorization": {header}}}
		id, sec, stdOK := req.BasicAuth()
		if stdOK && id != "" && enc(id+":"+sec) == header[len("Basic "):] {
			// Whatever net/http accepts in canonical form with a non-empty
			// id, we accept alike.
			if !ok || c.rawID != id || c.rawSecret != sec {
				t.Fatalf("parseBasic(%q) = %+v, %v; net/http: %q %q", header, c, ok, id, sec)
			}
		}
		if !ok {
			if c != (basicCredentials{}) {
				t.Fatalf("not ok but credentials set: %+v", c)
			}
			return
		}
		if c.rawID == "" || strings.Contains(c.rawID, ":") {
			t.Fatalf("raw id %q", c.rawID)
		}
		// Canonical: the credentials print back as they were sent
		// (RFC 7235: "Basic", 1*SP, token68; trailing white space ignored).
		_, rest, _ := strings.Cut(header, " ")
		if tok := strings.TrimRight(strings.TrimLeft(rest, " "), " \t"); enc(c.rawID+":"+c.rawSecret) != tok {
			t.Fatalf("accepted %q, which prints back as %q", tok, enc(c.rawID+":"+c.rawSecret))
		}
		for _, p := range [][2]string{{c.rawID, c.id}, {c.rawSecret, c.secret}} {
			if d, err := url.QueryUnescape(p[0]); err == nil && d != p[1] {
				t.Fatalf("decoded %q as %q, want %q", p[0], p[1], d)
			} else if err != nil && p[1] != p[0] {
				t.Fatalf("undecodable %q became %q", p[0], p[1])
			}
		}
		// Round trip: encoding what we decoded, x/oauth2 style, gives it back.
		again, ok := parseBasic("Basic " + enc(url.QueryEscape(c.id)+":"+url.QueryEscape(c.secret)))
		if c.id != "" && (!ok || again.id != c.id || again.secret != c.secret) {
			t.Fatalf("round trip of %q/%q gave %+v", c.id, c.secret, again)
		}
	})
}

func TestVerifySecretTriesDecodedThenRaw(t *testing.T) {
	h := secret.HashSecret("a+b")
	tests := []struct {
		name       string
		candidates []string
		want       bool
	}{
		{"decoded matches", []string{"a+b", "a%2Bb"}, true},
		{"raw matches", []string{"a b", "a+b"}, true},
		{"neither", []string{"a b", "a%20b"}, false},
		{"empty never matches", []string{"", ""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verifySecret(h, tt.candidates...); got != tt.want {
				t.Errorf("verifySecret = %v, want %v", got, tt.want)
			}
		})
	}
}

func BenchmarkClientSecretVerify(b *testing.B) {
	s, err := secret.NewClientSecret()
	if err != nil {
		b.Fatal(err)
	}
	h := secret.HashSecret(s)
	header := "Basic " + base64.StdEncoding.EncodeToString([]byte("backend:"+s))
	b.Run("hash and compare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !verifySecret(h, s, s) {
				b.Fatal("no match")
			}
		}
	})
	b.Run("parse Basic header, hash and compare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, ok := parseBasic(header)
			if !ok || !verifySecret(h, c.secret, c.rawSecret) {
				b.Fatal("no match")
			}
		}
	})
}
