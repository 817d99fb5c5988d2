package secret

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewClientSecretIsURLSafe256Bits(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := NewClientSecret()
		if err != nil {
			t.Fatal(err)
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil {
			t.Fatalf("secret %q is not unpadded base64url: %v", s, err)
		}
		if len(b) != 32 {
			t.Fatalf("secret decodes to %d bytes, want 32", len(b))
		}
		if strings.ContainsAny(s, "+/=&%") {
			t.Fatalf("secret %q has a character that needs escaping", s)
		}
		if seen[s] {
			t.Fatalf("secret %q generated twice", s)
		}
		seen[s] = true
	}
}

func TestNewTokenIsUnique(t *testing.T) {
	a, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if a == b || len(a) != 43 || len(b) != 43 {
		t.Fatalf("tokens %q and %q: want two distinct 43-character tokens", a, b)
	}
}

func TestHashSecret(t *testing.T) {
	s, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		a, b []byte
		want bool
	}{
		{"same secret matches", HashSecret(s), HashSecret(s), true},
		{"other secret does not match", HashSecret(s), HashSecret(other), false},
		{"prefix does not match", HashSecret(s), HashSecret(s[:len(s)-1]), false},
		{"truncated hash does not match", HashSecret(s), HashSecret(s)[:16], false},
		{"empty stored hash never matches", nil, HashSecret(""), false},
		{"two empty hashes do not match", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EqualHash(tt.a, tt.b); got != tt.want {
				t.Fatalf("EqualHash = %v, want %v", got, tt.want)
			}
		})
	}
	// Known SHA-256 vector (FIPS 180-2, "abc").
	const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := base16(HashSecret("abc")); got != abc {
		t.Fatalf("HashSecret(abc) = %s, want %s", got, abc)
	}
}

func base16(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestHashPasswordRoundTrip(t *testing.T) {
	start := time.Now()
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("one argon2id hash took %v", time.Since(start))
	if !strings.HasPrefix(h, "$argon2id$v=19$m=32768,t=2,p=2$") {
		t.Fatalf("hash %q does not carry the expected PHC parameters", h)
	}
	h2, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
	tests := []struct {
		name string
		pw   string
		want bool
	}{
		{"right password", "correct horse battery staple", true},
		{"wrong password", "correct horse battery stapler", false},
		{"empty password", "", false},
		{"case differs", "Correct horse battery staple", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := VerifyPassword(h, tt.pw)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.want {
				t.Fatalf("VerifyPassword = %v, want %v", ok, tt.want)
			}
		})
	}
	if NeedsRehash(h) {
		t.Fatal("a fresh hash needs rehash")
	}
}

// A test vector of the reference implementation (phc-winner-argon2 test.c:
// Argon2id v=19, t=2, m=2^16, p=1, password "password", salt "somesalt").
func TestVerifyPasswordReferenceVector(t *testing.T) {
	const ref = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	ok, err := VerifyPassword(ref, "password")
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatal("reference vector does not verify")
	}
	if ok, err := VerifyPassword(ref, "Password"); ok || err != nil {
		t.Fatalf("reference vector verifies a wrong password: %v, %v", ok, err)
	}
}

func TestVerifyPasswordRejectsMalformed(t *testing.T) {
	valid := "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$" + base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	if _, err := VerifyPassword(valid, "x"); err != nil {
		t.Fatalf("control hash rejected: %v", err)
	}
	tests := []struct{ name, hash string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", strings.Replace(valid, "argon2id", "argon2i", 1)},
		{"old version", strings.Replace(valid, "v=19", "v=16", 1)},
		{"missing version", "$argon2id$m=64,t=1,p=1$c29tZXNhbHQ$" + base64.RawStdEncoding.EncodeToString(make([]byte, 32))},
		{"parameters out of order", strings.Replace(valid, "m=64,t=1,p=1", "t=1,m=64,p=1", 1)},
		{"zero time", strings.Replace(valid, "t=1", "t=0", 1)},
		{"zero lanes", strings.Replace(valid, "p=1", "p=0", 1)},
		{"too many lanes", strings.Replace(valid, "p=1", "p=255", 1)},
		{"memory below lanes", strings.Replace(valid, "m=64,t=1,p=1", "m=8,t=1,p=2", 1)},
		{"huge memory", strings.Replace(valid, "m=64", "m=4294967295", 1)},
		{"memory overflow", strings.Replace(valid, "m=64", "m=99999999999", 1)},
		{"signed number", strings.Replace(valid, "m=64", "m=+64", 1)},
		{"leading zero", strings.Replace(valid, "m=64", "m=064", 1)},
		{"padded salt", strings.Replace(valid, "c29tZXNhbHQ", "c29tZXNhbHQ=", 1)},
		// Go's decoders skip line breaks; the parser must not, or the
		// string would not print back as given.
		{"trailing newline", valid + "\n"},
		{"newline in salt", strings.Replace(valid, "c29tZXNhbHQ", "c29t\nZXNhbHQ", 1)},
		{"carriage return in hash", valid[:len(valid)-4] + "\r" + valid[len(valid)-4:]},
		{"CRLF before hash", strings.Replace(valid, "HQ$", "HQ$\r\n", 1)},
		{"salt padding bits set", strings.Replace(valid, "c29tZXNhbHQ", "c29tZXNhbHR", 1)},
		{"short salt", strings.Replace(valid, "c29tZXNhbHQ", "c2FsdA", 1)},
		{"short hash", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAA"},
		{"extra field", valid + "$"},
		{"leading garbage", "x" + valid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := VerifyPassword(tt.hash, "x")
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("VerifyPassword(%q) = %v, %v; want false, ErrMalformedHash", tt.hash, ok, err)
			}
		})
	}
}

// FuzzVerifyPassword checks the PHC parser on arbitrary strings: it never
// panics, every accepted string is in canonical form (it prints back
// byte for byte), and accepted strings with cheap parameters verify.
func FuzzVerifyPassword(f *testing.F) {
	// A real hash with cheap parameters.
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "pw")
	// The reference vector (24-byte key).
	f.Add("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password")
	// Near misses: wrong algorithm, huge memory, empty fields, separators only.
	f.Add("$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAA", "")
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$AAAA", "")
	f.Add("$argon2id$v=19$m=,t=,p=$$", "")
	f.Add("$$$$$", "")
	f.Fuzz(func(t *testing.T, hash, pw string) {
		p, err := parsePHC(hash)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("parse error %v does not wrap ErrMalformedHash", err)
			}
			return
		}
		if got := p.String(); got != hash {
			t.Fatalf("accepted non-canonical hash %q (prints back as %q)", hash, got)
		}
		if p.memory*p.time > 4096 {
			return // valid but too slow to verify on every fuzz input
		}
		if _, err := VerifyPassword(hash, pw); err != nil {
			t.Fatalf("parsed hash failed to verify: %v", err)
		}
	})
}

func BenchmarkClientSecretHashAndCompare(b *testing.B) {
	s, err := NewClientSecret()
	if err != nil {
		b.Fatal(err)
	}
	stored := HashSecret(s)
	b.ReportAllocs()
	for b.Loop() {
		if !EqualHash(stored, HashSecret(s)) {
			b.Fatal("secret does not match its hash")
		}
	}
}

func BenchmarkHashPassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
