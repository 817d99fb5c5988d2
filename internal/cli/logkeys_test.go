package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// duplicateKey returns a key that occurs twice in one object of the JSON
// document, at any depth ("" when none does). Decoding into a map would
// keep one of them silently, as JSON log consumers do.
func duplicateKey(doc []byte) (string, error) {
	type object struct {
		keys      map[string]bool
		expectKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	var stack []*object // nil entries are arrays
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		var top *object
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top != nil {
					top.expectKey = true // this container is a value; a key follows it
				}
				if d == '{' {
					stack = append(stack, &object{keys: map[string]bool{}, expectKey: true})
				} else {
					stack = append(stack, nil)
				}
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top == nil {
			continue
		}
		if !top.expectKey {
			top.expectKey = true
			continue
		}
		k, _ := tok.(string)
		if top.keys[k] {
			return k, nil
		}
		top.keys[k] = true
		top.expectKey = false
	}
}

func TestDuplicateKeyScanner(t *testing.T) {
	for doc, want := range map[string]string{
		`{"a":1,"b":2}`:                       "",
		`{"a":1,"a":2}`:                       "a",
		`{"a":{"b":1},"c":[{"b":2},{"b":3}]}`: "",
		`{"a":{"b":1,"b":2}}`:                 "b",
		`{"a":[1,{"x":1,"x":2}]}`:             "x",
		`{"a":{"k":1},"a2":{"k":2},"k":3}`:    "",
	} {
		if got, err := duplicateKey([]byte(doc)); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", doc, got, err, want)
		}
	}
}

// TestLogLinesHaveNoDuplicateKeys runs the gateway through something each
// component logs, and decodes every log line looking for a key written
// twice (the component attribute was, by the wiring and by the
// constructors).
func TestLogLinesHaveNoDuplicateKeys(t *testing.T) {
	_, ti, path := configFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // a trusted issuer whose keys cannot be fetched: the guard logs it
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	extra := fmt.Sprintf("  - issuer: https://gone.example\n    jwks_url: %s/jwks.json\n    audience: http://gateway.test\n    algorithms: [EdDSA]\nserver:", gone.URL)
	src := strings.Replace(string(b), "server:", extra, 1) + "log: {level: debug}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, path)
	base := "http://" + g.addrs.Public

	// proxy: a request; issuer: a refused token request.
	if res, err := get(base+"/v1/charts/EDDF", ti.token(t, "charts")); err == nil {
		res.Body.Close()
	}
	if res, err := http.PostForm(base+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}, "client_secret": {"x"}}); err == nil {
		res.Body.Close()
	}
	// portal: a failed sign-in.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, err := browser.Get(base + "/portal/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the login page:\n%s", page)
	}
	res, err = browser.PostForm(base+"/portal/login", url.Values{"csrf_token": {html.UnescapeString(string(m[1]))},
		"username": {"nobody"}, "password": {"wrong password"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	// A reload: the guard and portal are built again.
	g.reload <- struct{}{}

	want := []string{"proxy", "authz", "portal", "issuer", "keys"}
	var seen []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		seen = seen[:0]
		lines := strings.Split(strings.TrimSpace(g.logs.String()), "\n")
		for i, line := range lines {
			k, err := duplicateKey([]byte(line))
			if err != nil {
				t.Fatalf("log line %d is not JSON: %v\n%s", i+1, err, line)
			}
			if k != "" {
				t.Fatalf("log line %d has the key %q twice:\n%s", i+1, k, line)
			}
			var l struct{ Component string }
			json.Unmarshal([]byte(line), &l)
			if l.Component != "" && !slices.Contains(seen, l.Component) {
				seen = append(seen, l.Component)
			}
		}
		missing := slices.DeleteFunc(slices.Clone(want), func(c string) bool { return slices.Contains(seen, c) })
		if len(missing) == 0 && strings.Contains(g.logs.String(), "config reloaded") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line of %v (seen %v):\n%s", missing, seen, g.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
