package profiles

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const formType = "application/x-www-form-urlencoded"

// basic is an HTTP Basic header as RFC 6749 §2.3.1 (and x/oauth2) write it:
// id and secret form-encoded, then base64.
func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// TestNavigraph follows the navigraph seed: a client gets a token with the
// client_credentials grant and scope fmsdata at /connect/token, then reads
// GET /v1/subscriptions/valid; routes requiring an fmsdata subscription
// admit the token only while its user has an active one.
func TestNavigraph(t *testing.T) {
	p := deriveProfile(t, "navigraph", "", nil)

	// The operator's side: users, their clients, alice's subscriptions.
	p.clearance("correct horse battery\n", "user", "add", "alice")
	p.clearance("correct horse battery\n", "user", "add", "bob")
	aliceSecret := p.createClient("--id", "alice-fms", "--name", "Alice's FMS", "--grant", "client_credentials",
		"--scope", "fmsdata", "--owner", "alice")
	bobSecret := p.createClient("--id", "bob-fms", "--name", "Bob's FMS", "--grant", "client_credentials",
		"--scope", "fmsdata", "--owner", "bob")
	today := time.Now().UTC()
	from, until := today.AddDate(0, 0, -1).Format(time.DateOnly), today.AddDate(1, 0, 0).Format(time.DateOnly)
	var sub struct{ ID int64 }
	if err := json.Unmarshal([]byte(p.clearance("", "subscription", "add", "--user", "alice", "--type", "fmsdata",
		"--name", "Navigraph Navigation Data", "--from", from, "--until", until, "--json")), &sub); err != nil {
		t.Fatal(err)
	}
	p.clearance("", "subscription", "add", "--user", "alice", "--type", "charts", "--name", "Navigraph Charts",
		"--from", "2020-01-01", "--until", "2020-12-31") // expired: never listed
	p.serve()

	// Step 1: POST /connect/token, client_credentials with scope fmsdata.
	// One hour, and no refresh token for this grant.
	r := p.post("/connect/token", formType, "grant_type=client_credentials&scope=fmsdata",
		"Authorization", basic("alice-fms", aliceSecret))
	assertToken(t, r, time.Hour, "fmsdata", false)
	alice := r.str("access_token")
	if c := claims(t, alice); c["sub"] != "alice-fms" || c["client_id"] != "alice-fms" {
		t.Errorf("claims %v", c)
	}
	t.Run("client credentials in the body work too", func(t *testing.T) {
		r := p.post("/connect/token", formType, url.Values{"grant_type": {"client_credentials"}, "scope": {"fmsdata"},
			"client_id": {"alice-fms"}, "client_secret": {aliceSecret}}.Encode())
		assertToken(t, r, time.Hour, "fmsdata", false)
	})
	t.Run("no scope parameter means the client's scopes", func(t *testing.T) {
		r := p.post("/connect/token", formType, "grant_type=client_credentials", "Authorization", basic("alice-fms", aliceSecret))
		assertToken(t, r, time.Hour, "fmsdata", false)
	})
	t.Run("the token endpoint takes form bodies only", func(t *testing.T) {
		r := p.post("/connect/token", "application/json", `{"grant_type":"client_credentials","scope":"fmsdata"}`,
			"Authorization", basic("alice-fms", aliceSecret))
		assertError(t, r, http.StatusBadRequest, "invalid_request")
	})
	t.Run("an unknown scope is 400 invalid_scope", func(t *testing.T) {
		r := p.post("/connect/token", formType, "grant_type=client_credentials&scope=charts",
			"Authorization", basic("alice-fms", aliceSecret))
		assertError(t, r, http.StatusBadRequest, "invalid_scope")
	})

	// Step 2: GET /v1/subscriptions/valid with the token: the JSON array of
	// the user's (for a client's own token: the owner's) active subscriptions.
	r = p.get("/v1/subscriptions/valid", alice)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("subscriptions: %d %s", r.status, r.raw)
	}
	list := subscriptionObjects(t, r.raw)
	if len(list) != 1 {
		t.Fatalf("want one subscription: %s", r.raw)
	}
	for k, v := range map[string]string{"type": "fmsdata", "subscription_name": "Navigraph Navigation Data",
		"date_active": from + "T00:00:00Z", "date_expiry": until + "T23:59:59Z"} {
		if list[0][k] != v {
			t.Errorf("%s = %v, want %q", k, list[0][k], v)
		}
	}
	t.Run("subscriptions need a valid token", func(t *testing.T) {
		r := p.get("/v1/subscriptions/valid", "")
		assertError(t, r, http.StatusUnauthorized, "unauthorized")
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer realm=") {
			t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
		}
		assertError(t, p.get("/v1/subscriptions/valid", alice[:len(alice)-4]+"AAAA"), http.StatusUnauthorized, "invalid_token")
	})

	// Step 3: the navigation data route needs scope fmsdata and an active
	// fmsdata subscription.
	r = p.get("/v1/airports/EDDF", alice)
	if r.status != http.StatusOK || r.str("icao") != "EDDF" {
		t.Fatalf("navdata with a subscription: %d %s", r.status, r.raw)
	}

	// Bob's client has the scope but Bob no subscription.
	r = p.post("/connect/token", formType, "grant_type=client_credentials&scope=fmsdata", "Authorization", basic("bob-fms", bobSecret))
	assertToken(t, r, time.Hour, "fmsdata", false)
	bob := r.str("access_token")
	if r := p.get("/v1/subscriptions/valid", bob); r.status != http.StatusOK || len(subscriptionObjects(t, r.raw)) != 0 {
		t.Errorf("bob's subscriptions: %d %s", r.status, r.raw)
	}
	r = p.get("/v1/airports/EDDF", bob)
	assertError(t, r, http.StatusForbidden, "subscription_required")
	if !strings.Contains(r.str("error_description"), "fmsdata") {
		t.Errorf("description %q does not name the subscription", r.str("error_description"))
	}
	if r := p.get("/v1/whoami", bob); r.status != http.StatusOK {
		t.Errorf("a route without a subscription: %d %s", r.status, r.raw)
	}
	if r := p.get("/v1/status", ""); r.status != http.StatusOK {
		t.Errorf("public status: %d %s", r.status, r.raw)
	}

	// The operator removes Alice's subscription: the next request is refused.
	p.clearance("", "subscription", "remove", fmt.Sprint(sub.ID))
	assertError(t, p.get("/v1/airports/EDDF", alice), http.StatusForbidden, "subscription_required")
	if r := p.get("/v1/subscriptions/valid", alice); r.raw != "[]\n" {
		t.Errorf("after remove: %s", r.raw)
	}
}

// subscriptionFields are exactly the field names of the objects of
// GET /v1/subscriptions/valid in the seed.
var subscriptionFields = []string{"date_active", "date_expiry", "subscription_name", "type"}

// subscriptionObjects decodes a /v1/subscriptions/valid answer and fails
// the test unless it is a JSON array of objects with exactly the seed's
// field names (no more, no fewer), strings, the dates RFC 3339 in UTC.
func subscriptionObjects(t *testing.T, raw string) []map[string]any {
	t.Helper()
	var list []map[string]any
	if err := json.Unmarshal([]byte(raw), &list); err != nil || list == nil {
		t.Fatalf("not a JSON array of objects: %v: %s", err, raw)
	}
	for i, o := range list {
		keys := slices.Sorted(maps.Keys(o))
		if !slices.Equal(keys, subscriptionFields) {
			t.Errorf("subscription %d has the fields %q, want exactly %q", i, keys, subscriptionFields)
		}
		for k, v := range o {
			if _, ok := v.(string); !ok {
				t.Errorf("subscription %d: %s is %T, not a string", i, k, v)
			}
		}
		for _, k := range []string{"date_active", "date_expiry"} {
			s, _ := o[k].(string)
			if d, err := time.Parse(time.RFC3339, s); err != nil || !strings.HasSuffix(s, "Z") || d.Location() != time.UTC {
				t.Errorf("subscription %d: %s %q is not RFC 3339 UTC", i, k, s)
			}
		}
	}
	return list
}

// subscriptionService is a remote GET /v1/subscriptions/valid: it lists
// fmsdata for the tokens of alice-fms, nothing for others, and can be made
// to fail or to stall.
type subscriptionService struct {
	*httptest.Server
	calls  atomic.Int64
	mu     sync.Mutex
	status int
	stall  chan struct{}
	auth   []string
}

func newSubscriptionService(t *testing.T) *subscriptionService {
	s := &subscriptionService{status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		s.mu.Lock()
		status, stall := s.status, s.stall
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		if stall != nil {
			select {
			case <-stall:
			case <-r.Context().Done():
				return
			}
		}
		if r.URL.Path != "/v1/subscriptions/valid" || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		c := claims(t, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		w.Header().Set("Content-Type", "application/json")
		if c["sub"] == "alice-fms" {
			io.WriteString(w, `[{"date_active":"2020-01-01T00:00:00Z","date_expiry":"2099-12-31T23:59:59Z","subscription_name":"Navigraph Navigation Data","type":"fmsdata"}]`)
			return
		}
		io.WriteString(w, `[]`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *subscriptionService) set(status int, stall chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.stall = status, stall
}

// TestNavigraphRemoteSubscriptions runs the navigraph profile with
// subscriptions: {url: …}: the gateway asks the remote service with the
// caller's own token, caches each user's answer, and answers 503 (without
// caching) when the service fails or is too slow.
func TestNavigraphRemoteSubscriptions(t *testing.T) {
	svc := newSubscriptionService(t)
	p := deriveProfile(t, "navigraph", fmt.Sprintf("subscriptions: {url: %q, ttl: 10m, timeout: 300ms}\n", svc.URL), nil)
	for _, u := range []string{"alice", "bob", "carol"} {
		p.clearance("correct horse battery\n", "user", "add", u)
	}
	secrets := map[string]string{}
	for _, id := range []string{"alice-fms", "bob-fms", "carol-fms", "dave-fms"} {
		secrets[id] = p.createClient("--id", id, "--name", id, "--grant", "client_credentials", "--scope", "fmsdata")
	}
	p.serve()
	token := func(id string) string {
		t.Helper()
		r := p.post("/connect/token", formType, "grant_type=client_credentials&scope=fmsdata", "Authorization", basic(id, secrets[id]))
		assertToken(t, r, time.Hour, "fmsdata", false)
		return r.str("access_token")
	}
	alice, bob := token("alice-fms"), token("bob-fms")

	for i := range 3 {
		if r := p.get("/v1/airports/EDDF", alice); r.status != http.StatusOK {
			t.Fatalf("alice, request %d: %d %s", i+1, r.status, r.raw)
		}
	}
	if n := svc.calls.Load(); n != 1 {
		t.Fatalf("remote calls for three requests of one user = %d, want 1 (cached)", n)
	}
	if svc.auth[0] != "Bearer "+alice {
		t.Errorf("the remote service got %q, not the user's token", svc.auth[0])
	}
	assertError(t, p.get("/v1/airports/EDDF", bob), http.StatusForbidden, "subscription_required")
	if n := svc.calls.Load(); n != 2 {
		t.Fatalf("remote calls = %d, want 2 (one per user)", n)
	}
	if r := p.get("/v1/subscriptions/valid", alice); r.status != http.StatusNotFound {
		t.Errorf("with a remote source the gateway serves no /v1/subscriptions/valid itself: %d %s", r.status, r.raw)
	}

	// A failing service: 503, and the failure is not cached.
	carol := token("carol-fms")
	svc.set(http.StatusInternalServerError, nil)
	r := p.get("/v1/airports/EDDF", carol)
	assertError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
	if strings.Contains(r.raw, "500") {
		t.Errorf("the upstream's status leaked: %s", r.raw)
	}
	svc.set(http.StatusOK, nil)
	before := svc.calls.Load()
	assertError(t, p.get("/v1/airports/EDDF", carol), http.StatusForbidden, "subscription_required")
	if svc.calls.Load() != before+1 {
		t.Errorf("the failure was cached")
	}

	// A stalled service: 503 after subscriptions.timeout, not a hang.
	stall := make(chan struct{})
	defer close(stall)
	svc.set(http.StatusOK, stall)
	start := time.Now()
	assertError(t, p.get("/v1/airports/EDDF", token("dave-fms")), http.StatusServiceUnavailable, "temporarily_unavailable")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a stalled service held the request %s", d)
	}
	// Cached users are not affected.
	if r := p.get("/v1/airports/EDDF", alice); r.status != http.StatusOK {
		t.Errorf("alice while the service stalls: %d %s", r.status, r.raw)
	}

	m := p.do(http.MethodGet, "http://"+p.gw.Admin+"/metrics", "", "").raw
	for _, line := range []string{
		`clearance_cache_hits_total{cache="subscriptions"} 3`,
		`clearance_cache_misses_total{cache="subscriptions"} 5`,
		`clearance_subscription_fetches_total{result="ok"} 3`,
		`clearance_subscription_fetches_total{result="error"} 2`,
	} {
		if !strings.Contains(m, line+"\n") {
			t.Errorf("metrics lack %q", line)
		}
	}
	if t.Failed() {
		for _, l := range strings.Split(m, "\n") {
			if strings.Contains(l, "subscription") {
				t.Log(l)
			}
		}
	}
}
