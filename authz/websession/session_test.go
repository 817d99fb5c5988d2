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
		if ck.Name != CookieName || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != DefaultPath || ck.Secure != secure {
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

func TestSessionIssuedAtIsTheLoginSecond(t *testing.T) {
	clk := newClock()
	clk.Advance(1500 * time.Millisecond)
	login := clk.Now()
	c := newCodec(t, clk, false)
	rec := httptest.NewRecorder()
	s, err := c.Login(rec, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := login.Truncate(time.Second)
	if !s.IssuedAt.Equal(want) {
		t.Errorf("Login: IssuedAt = %v, want %v", s.IssuedAt, want)
	}
	clk.Advance(time.Hour)
	got, ok := c.Session(requestWith(rec, "GET", "/portal/"))
	if !ok || !got.IssuedAt.Equal(want) {
		t.Errorf("Session = %+v, %v; want IssuedAt %v", got, ok, want)
	}
}

func TestSessionCarriesTheUsersCreationTime(t *testing.T) {
	clk := newClock()
	c := newCodec(t, clk, false)
	created := time.Date(2026, 2, 1, 8, 0, 0, 123456789, time.FixedZone("X", 3600))
	rec := httptest.NewRecorder()
	s, err := c.LoginUser(rec, "alice", created)
	if err != nil {
		t.Fatal(err)
	}
	want := created.UTC().Truncate(time.Microsecond)
	if !s.UserCreated.Equal(want) {
		t.Errorf("LoginUser: UserCreated = %v, want %v", s.UserCreated, want)
	}
	got, ok := c.Session(requestWith(rec, "GET", "/portal/"))
	if !ok || !got.UserCreated.Equal(want) || got.User != "alice" || got.ID != s.ID {
		t.Errorf("Session = %+v, %v; want alice with UserCreated %v", got, ok, want)
	}

	t.Run("unknown creation time", func(t *testing.T) {
		rec := httptest.NewRecorder()
		if _, err := c.Login(rec, "bob"); err != nil {
			t.Fatal(err)
		}
		got, ok := c.Session(requestWith(rec, "GET", "/portal/"))
		if !ok || !got.UserCreated.IsZero() || got.User != "bob" {
			t.Errorf("Session = %+v, %v; want bob with no UserCreated", got, ok)
		}
	})
	t.Run("a cookie of the earlier format", func(t *testing.T) {
		exp := clk.Now().Add(time.Hour).Unix()
		payload := "v1.some-id." + strconv.FormatInt(exp, 10) + "." + b64.EncodeToString([]byte("carol"))
		r := httptest.NewRequest("GET", "/portal/", nil)
		r.AddCookie(&http.Cookie{Name: CookieName, Value: payload + "." + b64.EncodeToString(mac(c.sessionKey, payload))})
		got, ok := c.Session(r)
		if !ok || got.User != "carol" || !got.UserCreated.IsZero() {
			t.Errorf("Session = %+v, %v; want carol", got, ok)
		}
	})
	t.Run("a malformed creation time", func(t *testing.T) {
		exp := clk.Now().Add(time.Hour).Unix()
		for _, made := range []string{"", "-5", "x", "1.5"} {
			payload := "v2.some-id." + strconv.FormatInt(exp, 10) + "." + made + "." + b64.EncodeToString([]byte("carol"))
			r := httptest.NewRequest("GET", "/portal/", nil)
			r.AddCookie(&http.Cookie{Name: CookieName, Value: payload + "." + b64.EncodeToString(mac(c.sessionKey, payload))})
			if got, ok := c.Session(r); ok {
				t.Errorf("creation time %q: Session = %+v, want none", made, got)
			}
		}
	})
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
		"empty":                 "",
		"garbage":               "not a cookie",
		"other key":             orec.Result().Cookies()[0].Value,
		"user swapped":          strings.Join([]string{parts[0], parts[1], parts[2], parts[3], mallory, parts[5]}, "."),
		"expiry pushed":         strings.Join([]string{parts[0], parts[1], "99999999999", parts[3], parts[4], parts[5]}, "."),
		"creation time changed": strings.Join([]string{parts[0], parts[1], parts[2], "1700000000000000", parts[4], parts[5]}, "."),
		"signature dropped":     strings.Join(parts[:5], "."),
		"signature mangled":     good[:len(good)-2] + "AA",
		"oversized":             strings.Repeat("a", maxCookieLen+1),
		"wrong version":         "v3" + good[2:],
		"earlier version":       "v1" + good[2:],
		"extra field":           parts[0] + ".x." + strings.Join(parts[1:], "."),
		"bad base64 in user":    strings.Join([]string{parts[0], parts[1], parts[2], parts[3], "!!", parts[5]}, "."),
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

// TestCookiePaths checks that the session and pre-login CSRF cookies are
// set once per path of the codec, never on "/", and deleted on each.
func TestCookiePaths(t *testing.T) {
	clk := newClock()
	base := newCodec(t, clk, false)
	c, err := base.WithPaths("/portal", "/oauth/authorize", "/portal")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/portal", "/oauth/authorize"}
	paths := func(cks []*http.Cookie, name string) []string {
		var ps []string
		for _, ck := range cks {
			if ck.Name != name {
				t.Errorf("unexpected cookie %+v", ck)
			}
			ps = append(ps, ck.Path)
		}
		return ps
	}
	same := func(what string, got []string) {
		t.Helper()
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s set on paths %q, want %q", what, got, want)
		}
	}

	login := httptest.NewRecorder()
	if _, err := c.Login(login, "alice"); err != nil {
		t.Fatal(err)
	}
	cks := login.Result().Cookies()
	same("session cookie", paths(cks, CookieName))
	if len(cks) == 2 && cks[0].Value != cks[1].Value {
		t.Error("the two session cookies differ")
	}
	r := httptest.NewRequest("GET", "/oauth/authorize", nil)
	r.AddCookie(&http.Cookie{Name: CookieName, Value: cks[1].Value})
	if u, ok := c.User(r); !ok || u != "alice" {
		t.Errorf("the authorize-path cookie is not a login: %q %v", u, ok)
	}

	logout := httptest.NewRecorder()
	c.Logout(logout)
	out := logout.Result().Cookies()
	same("logout", paths(out, CookieName))
	for _, ck := range out {
		if ck.MaxAge >= 0 || ck.Value != "" {
			t.Errorf("logout cookie %+v does not delete", ck)
		}
	}

	anon := httptest.NewRecorder()
	if _, err := c.CSRF(anon, httptest.NewRequest("GET", "/portal/login", nil)); err != nil {
		t.Fatal(err)
	}
	same("pre-login CSRF cookie", paths(anon.Result().Cookies(), AnonCookieName))

	t.Run("the base codec is unchanged", func(t *testing.T) {
		if got := base.Paths(); len(got) != 1 || got[0] != DefaultPath {
			t.Fatalf("base paths %q", got)
		}
	})
	t.Run("bad paths are refused", func(t *testing.T) {
		for _, bad := range [][]string{nil, {"/"}, {"/portal", "/"}, {""}, {"portal"}, {"/portal/"}, {"/a b"}, {"/a;b"}} {
			if _, err := base.WithPaths(bad...); err == nil {
				t.Errorf("WithPaths(%q) accepted", bad)
			}
		}
	})
	t.Run("a flash only below a cookie path", func(t *testing.T) {
		for path, ok := range map[string]bool{"/portal/clients/": true, "/portal": true, "/oauth/authorize/x": true,
			"/": false, "/portalx": false, "/v1/charts/": false} {
			err := c.SetFlash(httptest.NewRecorder(), path, "alice", "v")
			if (err == nil) != ok {
				t.Errorf("SetFlash on %q: %v", path, err)
			}
		}
	})
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
	f.Add("v2.a.1.0.YQ.AAAA")              // right shape (v2), wrong signature
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
		// The two formats parse still writes: v1 (read for older logins)
		// and v2, which adds the user's creation time.
		payload := "v1." + s.ID + "." + strconv.FormatInt(s.ExpiresAt.Unix(), 10) + "." + b64.EncodeToString([]byte(s.User))
		if strings.HasPrefix(v, "v2.") {
			made := "0"
			if !s.UserCreated.IsZero() {
				made = strconv.FormatInt(s.UserCreated.UnixMicro(), 10)
			}
			payload = "v2." + s.ID + "." + strconv.FormatInt(s.ExpiresAt.Unix(), 10) + "." + made + "." + b64.EncodeToString([]byte(s.User))
		}
		if want := payload + "." + b64.EncodeToString(mac(c.sessionKey, payload)); v != want {
			t.Fatalf("accepted %q, another spelling of %q", v, want)
		}
	})
}
