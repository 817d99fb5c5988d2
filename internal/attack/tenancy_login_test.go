package attack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// The login throttle's limit: attempts per user (and per client address)
// within 15 minutes.
const loginLimit = 5

// guessOutcome tallies the answers to a burst of guesses.
type guessOutcome struct {
	checked   int // answered "wrong password": the password was hashed
	throttled int // 429 with Retry-After: refused before hashing
	busy      int // 503 with Retry-After: no hashing slot in time, not hashed
	other     []string
}

// burst runs n copies of guess at once and tallies the answers; wrong is
// the status of a checked wrong password.
func burst(t *testing.T, n, wrong int, guess func() response) guessOutcome {
	t.Helper()
	var mu sync.Mutex
	var out guessOutcome
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			r := guess()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.status == http.StatusTooManyRequests && r.header.Get("Retry-After") != "":
				out.throttled++
			case r.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") != "":
				out.busy++
			case r.status == wrong:
				out.checked++
			default:
				out.other = append(out.other, fmt.Sprintf("%d (Retry-After %q): %.80s", r.status, r.header.Get("Retry-After"), r.body))
			}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// send is gateway.do for a goroutine other than the test's: failures are
// reported with Errorf and come back as status 0.
func (g *gateway) send(c *http.Client, req *http.Request) response {
	res, err := c.Do(req)
	if err != nil {
		g.t.Errorf("%s %s: %v", req.Method, req.URL.Path, err)
		return response{}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// passwordGrant asks for a password-grant token, as a client behind
// X-Forwarded-For xff when it is not empty.
func (g *gateway) passwordGrant(c *http.Client, clientSecret, user, password, xff string) response {
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}
	req, err := http.NewRequest(http.MethodPost, g.base+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+basic("app", clientSecret))
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	return g.send(c, req)
}

// signIn posts the portal's sign-in form (fields from its page) with a
// browser that holds the form's pre-session cookie.
func (g *gateway) signIn(b *http.Client, fields url.Values, user, password, xff string) response {
	f := url.Values{}
	for k, v := range fields {
		f[k] = v
	}
	f.Set("username", user)
	f.Set("password", password)
	req, err := http.NewRequest(http.MethodPost, g.base+"/portal/login", strings.NewReader(f.Encode()))
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	return g.send(b, req)
}

// signInForm opens the sign-in page the way path leads to it and returns
// the browser and the form's hidden fields (CSRF token, next).
func (g *gateway) signInForm(path string) (*http.Client, url.Values) {
	g.t.Helper()
	b := g.browser()
	r := g.page(b, http.MethodGet, path, nil)
	if r.status == http.StatusFound || r.status == http.StatusSeeOther {
		r = g.page(b, http.MethodGet, r.header.Get("Location"), nil)
	}
	f := hiddenFields(r.body)
	if r.status != http.StatusOK || f.Get("csrf_token") == "" {
		g.t.Fatalf("no sign-in form at %s: %d %s", path, r.status, r.body)
	}
	return b, f
}

// TestConcurrentPasswordGuessesAreCountedBeforeHashing (finding 3):
// 25 concurrent wrong passwords for one user, at each place that takes a
// password, are counted before any is hashed: at most the limit are
// checked, the rest get 429 with Retry-After. Before, all 25 were hashed
// (32 MiB of argon2id each, at once).
func TestConcurrentPasswordGuessesAreCountedBeforeHashing(t *testing.T) {
	const guesses = 25
	const cb = "https://app.example/cb"
	for _, tt := range []struct {
		name  string
		wrong int // status of a checked wrong password
		guess func(g *gateway, appSecret string) func() response
	}{
		{"portal sign-in", http.StatusUnauthorized, func(g *gateway, _ string) func() response {
			b, f := g.signInForm("/portal/login")
			return func() response { return g.signIn(b, f, "alice", "wrong guess", "") }
		}},
		{"authorize sign-in", http.StatusUnauthorized, func(g *gateway, _ string) func() response {
			q := url.Values{"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {cb}, "state": {"s"}}
			b, f := g.signInForm("/authorize?" + q.Encode())
			if !strings.HasPrefix(f.Get("next"), "/authorize?") {
				g.t.Fatalf("the authorize sign-in form leads to %q", f.Get("next"))
			}
			return func() response { return g.signIn(b, f, "alice", "wrong guess", "") }
		}},
		{"password grant", http.StatusBadRequest, func(g *gateway, appSecret string) func() response {
			return func() response { return g.passwordGrant(g.client, appSecret, "alice", "wrong guess", "") }
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := startGateway(t, gatewayOptions{})
			appSecret := g.createClient("app", "--first-party", "--grant", "password", "--scope", "charts")
			g.createClient("web", "--grant", "authorization_code", "--redirect-uri", cb, "--scope", "charts")
			g.addUser("alice", "alice password 1")

			// A reserved guess that finds no hashing slot within the
			// pool's wait (a loaded machine) is 503 and not hashed either.
			out := burst(t, guesses, tt.wrong, tt.guess(g, appSecret))
			if out.checked > loginLimit || out.checked == 0 || out.throttled == 0 || len(out.other) > 0 {
				t.Fatalf("%d guesses checked (limit %d), %d refused with 429 and Retry-After, %d busy (503), others: %q",
					out.checked, loginLimit, out.throttled, out.busy, out.other)
			}
		})
	}
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address local (127.0.0.0/8 is all loopback on Linux), so the
// gateway sees another peer.
func clientFrom(t *testing.T, local string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// TestTrustedProxyClientsAreThrottledApart: behind a trusted proxy
// (server.trusted_proxies), clients with different X-Forwarded-For
// addresses are throttled separately, by the right-most entry; a peer
// that is not a trusted proxy cannot spread its guesses over addresses it
// writes into X-Forwarded-For.
func TestTrustedProxyClientsAreThrottledApart(t *testing.T) {
	g := startGateway(t, gatewayOptions{trustedProxies: []string{"127.0.0.1/32"}})
	appSecret := g.createClient("app", "--first-party", "--grant", "password", "--scope", "charts")
	const alicePW = "alice password 1"
	g.addUser("alice", alicePW)
	proxy := g.client                       // from 127.0.0.1: trusted
	untrusted := clientFrom(t, "127.0.0.2") // another peer

	want := func(r response, status int, what string) {
		t.Helper()
		if r.status != status {
			t.Fatalf("%s: %d %s, want %d", what, r.status, r.body, status)
		}
		if status == http.StatusTooManyRequests && r.header.Get("Retry-After") == "" {
			t.Fatalf("%s: 429 without Retry-After", what)
		}
	}
	// Client 203.0.113.1 behind the proxy guesses other users' passwords.
	for i := range loginLimit {
		want(g.passwordGrant(proxy, appSecret, "user"+string(rune('a'+i)), "guess", "203.0.113.1"),
			http.StatusBadRequest, "a guess from 203.0.113.1")
	}
	want(g.passwordGrant(proxy, appSecret, "alice", alicePW, "203.0.113.1"),
		http.StatusTooManyRequests, "203.0.113.1 after its limit")
	want(g.passwordGrant(proxy, appSecret, "alice", alicePW, "198.51.100.50, 203.0.113.1"),
		http.StatusTooManyRequests, "203.0.113.1 with a made-up address on the left")

	t.Run("another client behind the proxy is not throttled", func(t *testing.T) {
		want(g.passwordGrant(proxy, appSecret, "alice", alicePW, "203.0.113.2"), http.StatusOK, "203.0.113.2")
		b, f := g.signInForm("/portal/login")
		if r := g.signIn(b, f, "alice", alicePW, "203.0.113.2"); r.status != http.StatusSeeOther {
			t.Errorf("portal sign-in from 203.0.113.2: %d", r.status)
		}
		b, f = g.signInForm("/portal/login")
		if r := g.signIn(b, f, "alice", alicePW, "203.0.113.1"); r.status != http.StatusTooManyRequests {
			t.Errorf("portal sign-in from the throttled 203.0.113.1: %d, want 429 (one address rule for both)", r.status)
		}
	})
	t.Run("the access log names the client behind the proxy", func(t *testing.T) {
		if !strings.Contains(g.logs.String(), `"client":"203.0.113.2"`) {
			t.Errorf("no access log line with client 203.0.113.2:\n%s", g.logs.String())
		}
	})
	t.Run("an untrusted peer's X-Forwarded-For is ignored", func(t *testing.T) {
		for i := range loginLimit {
			want(g.passwordGrant(untrusted, appSecret, "other"+string(rune('a'+i)), "guess", "198.51.100."+string(rune('1'+i))),
				http.StatusBadRequest, "a guess from the untrusted peer")
		}
		want(g.passwordGrant(untrusted, appSecret, "alice", alicePW, "198.51.100.9"),
			http.StatusTooManyRequests, "the untrusted peer after its limit, under a new X-Forwarded-For")
		if strings.Contains(g.logs.String(), `"client":"198.51.100.`) {
			t.Error("the access log took an untrusted peer's X-Forwarded-For as its client")
		}
		// The trusted proxy's other clients are unaffected.
		want(g.passwordGrant(proxy, appSecret, "alice", alicePW, "203.0.113.3"), http.StatusOK, "203.0.113.3")
	})
}
