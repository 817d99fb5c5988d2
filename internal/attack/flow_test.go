package attack

import (
	"crypto/sha256"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenFields returns the hidden inputs of a page.
func hiddenFields(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// page fetches a page in the browser.
func (g *gateway) page(b *http.Client, method, path string, form url.Values) response {
	g.t.Helper()
	var req *http.Request
	var err error
	target := path
	if !strings.HasPrefix(target, "http") {
		target = g.base + path
	}
	if form != nil {
		req, err = http.NewRequest(method, target, strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequest(method, target, nil)
	}
	if err != nil {
		g.t.Fatal(err)
	}
	res, err := b.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return response{status: res.StatusCode, header: res.Header, body: sb.String()}
}

// login signs user in through the portal login form and returns where it
// redirected to.
func (g *gateway) login(b *http.Client, user, password, next string) string {
	g.t.Helper()
	p := "/portal/login"
	if next != "" {
		p += "?next=" + url.QueryEscape(next)
	}
	form := g.page(b, http.MethodGet, p, nil)
	f := hiddenFields(form.body)
	if f.Get("csrf_token") == "" {
		g.t.Fatalf("no CSRF token on the login page: %s", form.body)
	}
	f.Set("username", user)
	f.Set("password", password)
	r := g.page(b, http.MethodPost, "/portal/login", f)
	if r.status != http.StatusSeeOther {
		g.t.Fatalf("login of %s: %d %s", user, r.status, r.body)
	}
	return r.header.Get("Location")
}

// pkce returns a verifier and its S256 challenge.
func pkce(verifier string) (string, string) {
	sum := sha256.Sum256([]byte(verifier))
	return verifier, b64.EncodeToString(sum[:])
}

// authorize runs the browser side of the code flow for a logged-in
// browser and returns the redirect the gateway answers with.
func (g *gateway) authorize(b *http.Client, q url.Values) *url.URL {
	g.t.Helper()
	consent := g.page(b, http.MethodGet, "/authorize?"+q.Encode(), nil)
	if consent.status != http.StatusOK {
		g.t.Fatalf("authorize %v: %d %s", q, consent.status, consent.body)
	}
	f := hiddenFields(consent.body)
	f.Set("decision", "allow")
	r := g.page(b, http.MethodPost, "/authorize", f)
	if r.status != http.StatusSeeOther {
		g.t.Fatalf("consent: %d %s", r.status, r.body)
	}
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		g.t.Fatal(err)
	}
	return u
}

// code runs the code flow for user and returns the authorization code.
func (g *gateway) code(b *http.Client, clientID, redirect, challenge, scope string) string {
	g.t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"state": {"st-1"}, "scope": {scope}}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	u := g.authorize(b, q)
	code := u.Query().Get("code")
	if code == "" || u.Query().Get("state") != "st-1" {
		g.t.Fatalf("redirect without code or state: %s", u)
	}
	return code
}
