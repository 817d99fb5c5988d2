package adminapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/service"
	"github.com/clearance-gw/clearance/authz/signing"
	"github.com/clearance-gw/clearance/authz/store/sqlite"
	"github.com/clearance-gw/clearance/config"
	"github.com/clearance-gw/clearance/internal/testclock"
)

// fixture is the API over a fresh SQLite store, with one admin API key.
type fixture struct {
	t     *testing.T
	api   *API
	clock *testclock.Clock
	key   string
	logs  *bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	yaml := `listen: "127.0.0.1:0"
admin_listen: "127.0.0.1:0"
issuer: "http://gateway.test"
store: {driver: sqlite, dsn: "` + filepath.Join(dir, "c.db") + `"}
scopes: [charts, airports]
plans:
  - {name: gold, rate: 10/s, quota: 1000/month, scopes: [airports]}
routes:
  - {name: charts, path: /v1/charts/, upstream: "http://127.0.0.1:1", scopes: [charts]}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := testclock.New(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	kopts := signing.KeyringOptionsFor(cfg, bytes.Repeat([]byte{7}, signing.KEKSize))
	kopts.Now = clock.Now
	keys, err := signing.NewKeyring(t.Context(), st, kopts)
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(st, service.Options{Config: func() *config.Config { return cfg }, Now: clock.Now, Keys: keys})
	key, err := svc.CreateAPIKey(t.Context(), "billing")
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	api := New(svc, Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: clock.Now, MaxFailures: 3, Window: time.Minute})
	return &fixture{t: t, api: api, clock: clock, key: key, logs: logs}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, a.body)
	}
	return v
}

// call sends one request with the fixture's key (key "" for none).
func (f *fixture) call(method, path, key, body string) answer {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, Prefix+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	f.api.ServeHTTP(rec, req)
	return answer{rec.Code, rec.Header(), rec.Body.Bytes()}
}

func loadDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesRouter walks openapi.json and the router both ways:
// every route of the router is an operation of the document, and every
// operation of the document is served (a request to it reaches a route,
// not the not-found or method-not-allowed answer).
func TestOpenAPIMatchesRouter(t *testing.T) {
	f := newFixture(t)
	doc := loadDoc(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	var documented []string
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	var routed []string
	for _, rt := range f.api.routes {
		routed = append(routed, rt.method+" "+rt.path)
	}
	slices.Sort(documented)
	slices.Sort(routed)
	if !slices.Equal(documented, routed) {
		t.Fatalf("openapi.json and the router differ:\ndocumented %v\nrouted     %v", documented, routed)
	}
	for _, op := range documented {
		method, path, _ := strings.Cut(op, " ")
		path = strings.NewReplacer("{name}", "nobody", "{id}", "999").Replace(path)
		a := f.call(method, path, f.key, map[bool]string{true: "{}", false: ""}[method == "POST" || method == "PATCH"])
		if a.status == http.StatusMethodNotAllowed || bytes.Contains(a.body, []byte("no operation at")) {
			t.Errorf("%s is documented but not served: %d %s", op, a.status, a.body)
		}
	}
	// And an operation that is not documented is not served.
	if a := f.call("GET", "/tokens", f.key, ""); a.status != http.StatusNotFound {
		t.Errorf("GET /tokens = %d, want 404", a.status)
	}
	if a := f.call("PUT", "/users", f.key, ""); a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "GET, POST" {
		t.Errorf("PUT /users = %d Allow %q, want 405 with Allow: GET, POST", a.status, a.header.Get("Allow"))
	}
}

// checkOp validates the sample request body and the answer of one
// operation against openapi.json's schemas, and records it as covered.
func checkOp(t *testing.T, doc map[string]any, covered map[string]bool, method, docPath, reqBody string, a answer) {
	t.Helper()
	op := doc["paths"].(map[string]any)[docPath].(map[string]any)[strings.ToLower(method)].(map[string]any)
	covered[op["operationId"].(string)] = true
	if reqBody != "" {
		var v any
		json.Unmarshal([]byte(reqBody), &v)
		schema := op["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
		if errs := validate(doc, schema, v, "request"); len(errs) > 0 {
			t.Errorf("%s %s request: %v", method, docPath, errs)
		}
	}
	resps := op["responses"].(map[string]any)
	resp, ok := resps[itoa(a.status)].(map[string]any)
	if !ok {
		t.Errorf("%s %s answered %d, not documented (%s)", method, docPath, a.status, a.body)
		return
	}
	if a.status == http.StatusNoContent {
		if len(a.body) != 0 {
			t.Errorf("%s %s: 204 with a body", method, docPath)
		}
		return
	}
	schema := resp["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	if errs := validate(doc, schema, a.json(t), "answer"); len(errs) > 0 {
		t.Errorf("%s %s answer: %v\n%s", method, docPath, errs, a.body)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestEveryOperationAgainstTheSchemas runs every operation once, in a
// provisioning order, and validates each sample request and answer.
func TestEveryOperationAgainstTheSchemas(t *testing.T) {
	f := newFixture(t)
	doc := loadDoc(t)
	covered := map[string]bool{}
	step := func(method, docPath, path, body string, want int) answer {
		t.Helper()
		a := f.call(method, path, f.key, body)
		if a.status != want {
			t.Fatalf("%s %s = %d, want %d\n%s", method, path, a.status, want, a.body)
		}
		checkOp(t, doc, covered, method, docPath, body, a)
		return a
	}
	user := `{"name":"alice","password":"correct horse","scopes":["charts"],"plan":"gold"}`
	a := step("POST", "/users", "/users", user, 201)
	if bytes.Contains(a.body, []byte("password")) || bytes.Contains(a.body, []byte("argon")) {
		t.Errorf("the created user's answer shows the password or its hash: %s", a.body)
	}
	step("GET", "/users", "/users", "", 200)
	step("GET", "/users/{name}", "/users/alice", "", 200)
	a = step("PATCH", "/users/{name}", "/users/alice", `{"scopes":["charts","airports"],"plan":""}`, 200)
	if got := a.json(t).(map[string]any); got["plan"] != "" || len(got["scopes"].([]any)) != 2 {
		t.Errorf("PATCH did not apply: %s", a.body)
	}
	step("POST", "/users/{name}/subscriptions", "/users/alice/subscriptions",
		`{"type":"fmsdata","name":"Navigation Data","date_active":"2026-01-01","date_expiry":"2026-12-31"}`, 201)
	a = step("GET", "/users/{name}/subscriptions", "/users/alice/subscriptions", "", 200)
	subID := itoa(int(a.json(t).([]any)[0].(map[string]any)["id"].(float64)))
	client := `{"id":"alice-app","name":"Alice app","grants":["client_credentials"],"scopes":["charts"],"redirect_uris":[],"allowed_origins":["https://alice.example"],"first_party":false,"owner":"alice","plan":"gold"}`
	a = step("POST", "/clients", "/clients", client, 201)
	if sec, _ := a.json(t).(map[string]any)["client_secret"].(string); len(sec) < 40 {
		t.Errorf("the created client's answer lacks its secret: %s", a.body)
	}
	for _, p := range []string{"/clients/alice-app", "/clients?owner=alice"} {
		if b := f.call("GET", p, f.key, "").body; bytes.Contains(b, []byte("client_secret")) {
			t.Errorf("GET %s shows a secret: %s", p, b)
		}
	}
	step("GET", "/clients", "/clients?owner=alice", "", 200)
	step("GET", "/clients/{id}", "/clients/alice-app", "", 200)
	step("PATCH", "/clients/{id}", "/clients/alice-app", `{"name":"Alice's app","scopes":["charts","airports"]}`, 200)
	step("GET", "/clients/{id}/sessions", "/clients/alice-app/sessions", "", 200)
	a = step("GET", "/clients/{id}/usage", "/clients/alice-app/usage?days=7", "", 200)
	if u := a.json(t).(map[string]any); u["plan"] != "gold" || len(u["days"].([]any)) != 7 {
		t.Errorf("usage = %s, want plan gold and 7 days", a.body)
	}
	step("GET", "/keys", "/keys", "", 200)
	a = step("POST", "/keys/rotate", "/keys/rotate", "", 200)
	if r := a.json(t).(map[string]any); r["signing_kid"] == "" || r["signing_kid"] == r["retired_kid"] {
		t.Errorf("rotate names the retired key as the new one: %s", a.body)
	}
	if f.call("DELETE", "/sessions/nope", f.key, "").status != 404 {
		t.Error("DELETE of an unknown session is not 404")
	}
	covered["revokeSession"] = true // a session's revocation is run against the gateway (internal/attack)
	step("DELETE", "/subscriptions/{id}", "/subscriptions/"+subID, "", 204)
	step("DELETE", "/clients/{id}", "/clients/alice-app", "", 204)
	step("DELETE", "/users/{name}", "/users/alice", "", 204)
	step("GET", "/openapi.json", "/openapi.json", "", 200)
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			if id := op.(map[string]any)["operationId"].(string); !covered[id] {
				t.Errorf("%s %s (%s) not exercised", strings.ToUpper(method), path, id)
			}
		}
	}
	if !strings.Contains(f.logs.String(), "api_key=billing") || strings.Contains(f.logs.String(), f.key) {
		t.Errorf("calls are not logged by the key's name, or the key is logged:\n%s", f.logs.String())
	}
}

// TestProblems: every error is application/problem+json with type,
// title, status and detail, and a validation problem lists every invalid
// field at once.
func TestProblems(t *testing.T) {
	f := newFixture(t)
	doc := loadDoc(t)
	problem := doc["components"].(map[string]any)["schemas"].(map[string]any)["Problem"].(map[string]any)
	fields := func(a answer) []string {
		var out []string
		for _, e := range a.json(t).(map[string]any)["errors"].([]any) {
			out = append(out, e.(map[string]any)["field"].(string))
		}
		slices.Sort(out)
		return out
	}
	f.call("POST", "/users", f.key, `{"name":"bob","password":"12345678"}`)
	cases := []struct {
		name, method, path, key, body string
		status                        int
		fields                        []string
	}{
		{"no key", "GET", "/users", "", "", 401, nil},
		{"wrong key", "GET", "/users", "clr_admin_wrong", "", 401, nil},
		{"unknown fields, all of them", "POST", "/users", f.key, `{"name":"x","password":"12345678","role":"root","email":"x@y"}`, 400, []string{"email", "role"}},
		{"every invalid field", "POST", "/users", f.key, `{"name":" x","password":"short","scopes":["nope"],"plan":"platinum"}`, 400, []string{"name", "password", "plan", "scopes[0]"}},
		{"wrong types", "POST", "/users", f.key, `{"name":1,"password":"12345678","admin":"yes"}`, 400, []string{"admin", "name"}},
		{"client fields", "POST", "/clients", f.key, `{"id":"Bad_ID","name":"","grants":["telepathy"],"owner":"nobody"}`, 400, []string{"grants[0]", "id", "name", "owner"}},
		{"not JSON", "POST", "/users", f.key, `{"name":`, 400, nil},
		{"unknown user", "GET", "/users/carol", f.key, "", 404, nil},
		{"unknown client", "DELETE", "/clients/carol", f.key, "", 404, nil},
		{"unknown subscription", "DELETE", "/subscriptions/12345", f.key, "", 404, nil},
		{"subscriptions of an unknown user", "GET", "/users/carol/subscriptions", f.key, "", 404, nil},
		{"user name taken", "POST", "/users", f.key, `{"name":"bob","password":"12345678"}`, 409, nil},
		{"client id taken by a user", "POST", "/clients", f.key, `{"id":"bob","name":"Bob"}`, 409, nil},
		{"days out of range", "GET", "/clients/x/usage?days=0", f.key, "", 400, []string{"days"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := f.call(tc.method, tc.path, tc.key, tc.body)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d\n%s", a.status, tc.status, a.body)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if errs := validate(doc, problem, a.json(t), "problem"); len(errs) > 0 {
				t.Errorf("not a problem: %v", errs)
			}
			if int(a.json(t).(map[string]any)["status"].(float64)) != tc.status {
				t.Errorf("problem status differs from the answer's")
			}
			if tc.fields != nil && !slices.Equal(fields(a), tc.fields) {
				t.Errorf("fields %v, want %v", fields(a), tc.fields)
			}
		})
	}
	req := httptest.NewRequest("POST", Prefix+"/users", strings.NewReader(`{"name":"a","password":"`+strings.Repeat("x", MaxBodyBytes)+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.key)
	rec := httptest.NewRecorder()
	f.api.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body = %d, want 413", rec.Code)
	}
	req = httptest.NewRequest("POST", Prefix+"/users", strings.NewReader(`name=a`))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+f.key)
	rec = httptest.NewRecorder()
	f.api.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("form body = %d, want 415", rec.Code)
	}
}

// TestWrongKeysThrottled: failed key attempts from one address are
// counted before the key is checked; past the limit even the right key
// gets 429 with Retry-After until the window moves on.
func TestWrongKeysThrottled(t *testing.T) {
	f := newFixture(t) // 3 failures per minute
	for range 3 {
		if a := f.call("GET", "/users", "clr_admin_"+base64.RawURLEncoding.EncodeToString([]byte("guess")), ""); a.status != 401 {
			t.Fatalf("wrong key = %d, want 401", a.status)
		}
	}
	a := f.call("GET", "/users", f.key, "")
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Fatalf("after 3 failures = %d (Retry-After %q), want 429 with Retry-After", a.status, a.header.Get("Retry-After"))
	}
	f.clock.Advance(61 * time.Second)
	if a := f.call("GET", "/users", f.key, ""); a.status != 200 {
		t.Fatalf("after the window = %d, want 200", a.status)
	}
}

// TestUnknownPathsNeedAKey: without a key, an unknown path is 401 like a
// known one, so the API cannot be mapped without a key.
func TestUnknownPathsNeedAKey(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/users", "/nothing-here", "/users/x/y/z"} {
		if a := f.call("GET", p, "", ""); a.status != http.StatusUnauthorized || a.header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s without a key = %d, want 401 with WWW-Authenticate", p, a.status)
		}
	}
	if a := f.call("GET", "/openapi.json", "", ""); a.status != http.StatusOK {
		t.Errorf("openapi.json without a key = %d, want 200 (a description, no data)", a.status)
	}
}
