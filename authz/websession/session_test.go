package websession

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/internal/testclock"
)

func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

func testKey(b byte) []byte { return []byte(strings.Repeat(string(rune('a'+b%26)), 32)) }

func newCodec(t *testing.T, clk *testclock.Clock, secure bool) *Codec {
	t.Helper()
	c, err := New(testKey(0), Options{Now: clk.Now, Secure: secure})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// requestWith returns a GET carrying the cookies set on rec.
func requestWith(rec *httptest.ResponseRecorder, method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for _, ck := range rec.Result().Cookies() {
		if ck.MaxAge >= 0 {
			r.AddCookie(ck)
		}
	}
	return r
}

func TestNewRefusesShortKey(t *testing.T) {
	if _, err := New(make([]byte, 31), Options{}); err == nil {
		t.Fatal("a 31-byte key was accepted")
	}
}

func TestLoginCookieAttributes(t *testing.T) {
	for _, secure := range []bool{false, true} {
		clk := newClock()
		c := newCodec(t, clk, secure)
		rec := httptest.NewRecorder()
		s, err := c.Login(rec, "alice")
		if err != nil {
			t.Fatal(err)
		}
		cks := rec.Result().Cookies()
		if len(cks) != 1 {
			t.Fatalf("got %d cookies", len(cks))
		}
		ck := cks[0]
		if ck.Name != CookieName || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure != secure {
			t.Errorf("cookie attributes: %+v", ck)
		}
		if ck.MaxAge != int(DefaultTTL/time.Second) {
			t.Errorf("MaxAge = %d", ck.MaxAge)
		}
		if !s.ExpiresAt.Equal(clk.Now().Add(DefaultTTL)) {
			t.Errorf("ExpiresAt = %v", s.ExpiresAt)
		}
	}
}

func TestSessionRoundTripAndExpiry(t *testing.T) {
	clk := newClock()
	c := newCodec(t, clk, false)
	rec := httptest.NewRecorder()
	if _, err := c.Login(rec, "alice.o'neil <x>"); err != nil {
		t.Fatal(err)
	}
	r := requestWith(rec, "GET", "/portal/")
	tests := []struct {
		name    string
		advance time.Duration
		ok      bool
	}{
		{"fresh", 0, true},
		{"one second before expiry", DefaultTTL - time.Second, true},
		{"at expiry", time.Second, false},
		{"after expiry", time.Hour, false},
	}
	for _, tt := range tests {
		clk.Advance(tt.advance)
		user, ok := c.User(r)
		if ok != tt.ok {
			t.Fatalf("%s: ok = %v", tt.name, ok)
		}
		if ok && user != "alice.o'neil <x>" {
			t.Fatalf("%s: user = %q", tt.name, user)
		}
	}
}

func TestSessionRefusesTamperedCookies(t *testing.T) {
	clk := newClock()
	c := newCodec(t, clk, false)
	rec := httptest.NewRecorder()
	if _, err := c.Login(rec, "alice"); err != nil {
		t.Fatal(err)
	}
	good := rec.Result().Cookies()[0].Value
	other, _ := New(testKey(1), Options{Now: clk.Now})
	orec := httptest.NewRecorder()
	other.Login(orec, "alice")
	parts := strings.Split(good, ".")
	mallory := b64.EncodeToString([]byte("mallory"))
	tests := map[string]string{
		"empty":              "",
		"garbage":            "not a cookie",
		"other key":          orec.Result().Cookies()[0].Value,
		"user swapped":       strings.Join([]string{parts[0], parts[1], parts[2], mallory, parts[4]}, "."),
		"expiry pushed":      strings.Join([]string{parts[0], parts[1], "99999999999", parts[3], parts[4]}, "."),
		"signature dropped":  strings.Join(parts[:4], "."),
		"signature mangled":  good[:len(good)-2] + "AA",
		"oversized":          strings.Repeat("a", maxCookieLen+1),
		"wrong version":      "v2" + good[2:],
		"extra field":        parts[0] + ".x." + strings.Join(parts[1:], "."),
		"bad base64 in user": strings.Join([]string{parts[0], parts[1], parts[2], "!!", parts[4]}, "."),
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(&http.Cookie{Name: CookieName, Value: v})
			if u, ok := c.User(r); ok {
				t.Fatalf("accepted as %q", u)
			}
		})
	}
	t.Run("untampered", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: CookieName, Value: good})
		if u, ok := c.User(r); !ok || u != "alice" {
			t.Fatalf("got %q %v", u, ok)
		}
	})
}

func TestLogoutDeletesCookie(t *testing.T) {
	c := newCodec(t, newClock(), true)
	rec := httptest.NewRecorder()
	c.Logout(rec)
	ck := rec.Result().Cookies()[0]
	if ck.Name != CookieName || ck.MaxAge >= 0 || ck.Value != "" || !ck.Secure {
		t.Fatalf("logout cookie %+v", ck)
	}
}

func postWith(cookies []*http.Cookie, form url.Values, header string) *http.Request {
	r := httptest.NewRequest("POST", "/portal/x", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if header != "" {
		r.Header.Set(CSRFHeader, header)
	}
	for _, ck := range cookies {
		r.AddCookie(ck)
	}
	return r
}

func TestCSRF(t *testing.T) {
	clk := newClock()
	c := newCodec(t, clk, false)

	login := httptest.NewRecorder()
	s, _ := c.Login(login, "alice")
	sessionCookies := login.Result().Cookies()
	sessionToken := c.SessionCSRF(s)

	other := httptest.NewRecorder()
	s2, _ := c.Login(other, "alice")
	otherToken := c.SessionCSRF(s2)

	anonRec := httptest.NewRecorder()
	anonToken, err := c.CSRF(anonRec, httptest.NewRequest("GET", "/portal/login", nil))
	if err != nil {
		t.Fatal(err)
	}
	anonCookies := anonRec.Result().Cookies()
	if len(anonCookies) != 1 || anonCookies[0].Name != AnonCookieName || !anonCookies[0].HttpOnly {
		t.Fatalf("anonymous cookie %+v", anonCookies)
	}

	tests := []struct {
		name    string
		cookies []*http.Cookie
		field   string
		header  string
		ok      bool
	}{
		{"session token in field", sessionCookies, sessionToken, "", true},
		{"session token in header", sessionCookies, "", sessionToken, true},
		{"missing token", sessionCookies, "", "", false},
		{"token of another session of the same user", sessionCookies, otherToken, "", false},
		{"anonymous token with a session", sessionCookies, anonToken, "", false},
		{"anonymous token with its cookie", anonCookies, anonToken, "", true},
		{"session token without a session", anonCookies, sessionToken, "", false},
		{"no cookies at all", nil, sessionToken, "", false},
		{"truncated token", sessionCookies, sessionToken[:10], "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{}
			if tt.field != "" {
				form.Set(CSRFField, tt.field)
			}
			if got := c.CheckCSRF(postWith(tt.cookies, form, tt.header)); got != tt.ok {
				t.Fatalf("CheckCSRF = %v, want %v", got, tt.ok)
			}
		})
	}

	t.Run("CSRF reuses the session token and sets no cookie", func(t *testing.T) {
		rec := httptest.NewRecorder()
		r := requestWith(login, "GET", "/portal/")
		tok, _ := c.CSRF(rec, r)
		if tok != sessionToken || len(rec.Result().Cookies()) != 0 {
			t.Fatalf("token %q, cookies %v", tok, rec.Result().Cookies())
		}
	})
	t.Run("CSRF reuses an existing anonymous cookie", func(t *testing.T) {
		rec := httptest.NewRecorder()
		tok, _ := c.CSRF(rec, requestWith(anonRec, "GET", "/portal/login"))
		if tok != anonToken || len(rec.Result().Cookies()) != 0 {
			t.Fatalf("token %q, cookies %v", tok, rec.Result().Cookies())
		}
	})
}

func TestFlashIsShownOnce(t *testing.T) {
	clk := newClock()
	c := newCodec(t, clk, false)
	const path = "/portal/clients/my%20app"
	set := httptest.NewRecorder()
	if err := c.SetFlash(set, path, "alice", "s3cret"); err != nil {
		t.Fatal(err)
	}
	ck := set.Result().Cookies()[0]
	if ck.Path != path || !ck.HttpOnly || strings.Contains(ck.Value, "s3cret") {
		t.Fatalf("flash cookie %+v", ck)
	}
	take := httptest.NewRecorder()
	v, ok := c.TakeFlash(take, requestWith(set, "GET", path), path, "alice")
	if !ok || v != "s3cret" {
		t.Fatalf("TakeFlash = %q %v", v, ok)
	}
	del := take.Result().Cookies()
	if len(del) != 1 || del[0].MaxAge >= 0 || del[0].Path != path {
		t.Fatalf("TakeFlash did not delete the cookie: %+v", del)
	}

	t.Run("another user cannot read it", func(t *testing.T) {
		if _, ok := c.TakeFlash(httptest.NewRecorder(), requestWith(set, "GET", path), path, "bob"); ok {
			t.Fatal("bob read alice's flash")
		}
	})
	t.Run("another path cannot read it", func(t *testing.T) {
		if _, ok := c.TakeFlash(httptest.NewRecorder(), requestWith(set, "GET", path), "/portal/clients/b", "alice"); ok {
			t.Fatal("read on another page")
		}
	})
	t.Run("expired", func(t *testing.T) {
		clk.Advance(FlashTTL)
		if _, ok := c.TakeFlash(httptest.NewRecorder(), requestWith(set, "GET", path), path, "alice"); ok {
			t.Fatal("expired flash shown")
		}
	})
	t.Run("garbage", func(t *testing.T) {
		r := httptest.NewRequest("GET", path, nil)
		r.AddCookie(&http.Cookie{Name: FlashCookie, Value: "AAAA"})
		if _, ok := c.TakeFlash(httptest.NewRecorder(), r, path, "alice"); ok {
			t.Fatal("garbage accepted")
		}
	})
}

// FuzzSessionCookie checks the session cookie parser on arbitrary values:
// it accepts no empty or forged session, and an accepted value is exactly
// the cookie Login writes for that session (one spelling per login).
func FuzzSessionCookie(f *testing.F) {
	clk := newClock()
	c, _ := New(testKey(0), Options{Now: clk.Now})
	rec := httptest.NewRecorder()
	c.Login(rec, "alice")
	f.Add(rec.Result().Cookies()[0].Value) // a valid cookie
	f.Add("v1.a.1.YQ.AAAA")                // right shape, wrong signature
	f.Add("....")                          // separators only
	f.Add("")
	// Found by the round-trip property: the valid cookie with a padding bit
	// set in its signature was accepted.
	good := rec.Result().Cookies()[0].Value
	dot := strings.LastIndexByte(good, '.')
	f.Add(good[:dot+1] + setPaddingBit(f, good[dot+1:]))
	f.Fuzz(func(t *testing.T, v string) {
		s, ok := c.parse(v)
		if ok && (s.User == "" || s.ID == "") {
			t.Fatalf("accepted an empty session: %+v", s)
		}
		if !ok {
			return
		}
		if s.User != "alice" {
			t.Fatalf("forged a session for %q", s.User)
		}
		payload := "v1." + s.ID + "." + strconv.FormatInt(s.ExpiresAt.Unix(), 10) + "." + b64.EncodeToString([]byte(s.User))
		if want := payload + "." + b64.EncodeToString(mac(c.sessionKey, payload)); v != want {
			t.Fatalf("accepted %q, another spelling of %q", v, want)
		}
	})
}
