package b64canon

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

var encodings = map[string]*base64.Encoding{
	"std": base64.StdEncoding, "raw std": base64.RawStdEncoding,
	"url": base64.URLEncoding, "raw url": base64.RawURLEncoding,
}

func TestDecodeAcceptsCanonical(t *testing.T) {
	for name, enc := range encodings {
		for _, in := range [][]byte{nil, {0}, {0xff, 0xfe}, []byte("any carnal pleas"), bytes.Repeat([]byte{0xfb}, 100)} {
			s := enc.EncodeToString(in)
			got, err := Decode(enc, s)
			if err != nil || !bytes.Equal(got, in) {
				t.Errorf("%s: Decode(%q) = %x, %v; want %x", name, s, got, err, in)
			}
		}
	}
}

func TestDecodeRefusesNonCanonical(t *testing.T) {
	tests := []struct {
		name, s   string
		enc       *base64.Encoding
		canonical bool // the error wraps ErrNotCanonical (else: not base64 at all)
	}{
		{"trailing newline", "YWJj\n", base64.RawURLEncoding, true},
		{"newline inside", "YW\nJj", base64.RawURLEncoding, true},
		{"carriage return", "YWJj\r", base64.StdEncoding, true},
		{"CRLF before padding", "YQ\r\n==", base64.StdEncoding, true},
		{"padding bits set, padded", "YR==", base64.StdEncoding, true},
		{"padding bits set, raw", "YR", base64.RawStdEncoding, true},
		{"padding bits set, two bytes", "YWJ", base64.RawURLEncoding, true},
		{"padding on a raw encoding", "YQ==", base64.RawStdEncoding, false},
		{"missing padding", "YQ", base64.StdEncoding, false},
		{"space", "YW Jj", base64.RawURLEncoding, false},
		{"other alphabet", "+/+/", base64.RawURLEncoding, false},
		{"impossible length", "YWJjZ", base64.RawURLEncoding, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.enc, tt.s)
			if err == nil {
				t.Fatalf("Decode(%q) = %x, want an error", tt.s, got)
			}
			if errors.Is(err, ErrNotCanonical) != tt.canonical {
				t.Fatalf("Decode(%q): %v; wraps ErrNotCanonical: %v, want %v", tt.s, err, !tt.canonical, tt.canonical)
			}
			if got != nil {
				t.Fatalf("Decode(%q) returned bytes with an error", tt.s)
			}
		})
	}
}

// FuzzDecode checks Decode against its definition on every encoding: it
// accepts exactly the strings that the encoding prints back unchanged
// (which are the strings a Strict decoder accepts and that have no line
// break), and then returns what the standard decoder returns.
func FuzzDecode(f *testing.F) {
	f.Add("YWJj")
	f.Add("YQ==")
	f.Add("YR==")
	f.Add("YWJj\n")
	f.Add("Y\rW\nJj")
	f.Add("")
	f.Add("-_+/")
	f.Fuzz(func(t *testing.T, s string) {
		for name, enc := range encodings {
			got, err := Decode(enc, s)
			ref, refErr := enc.DecodeString(s)
			canonical := refErr == nil && enc.EncodeToString(ref) == s
			if canonical != (err == nil) {
				t.Fatalf("%s: Decode(%q) error %v; canonical: %v", name, s, err, canonical)
			}
			if err == nil && !bytes.Equal(got, ref) {
				t.Fatalf("%s: Decode(%q) = %x, standard decoder %x", name, s, got, ref)
			}
			// Second reference: a Strict decoder, once line breaks are refused.
			_, strictErr := enc.Strict().DecodeString(s)
			strict := strictErr == nil && !strings.ContainsAny(s, "\r\n")
			if strict != (err == nil) {
				t.Fatalf("%s: Decode(%q) error %v; strict decoder error %v", name, s, err, strictErr)
			}
			if err != nil && refErr == nil && !errors.Is(err, ErrNotCanonical) {
				t.Fatalf("%s: Decode(%q) = %v, want ErrNotCanonical", name, s, err)
			}
		}
	})
}
