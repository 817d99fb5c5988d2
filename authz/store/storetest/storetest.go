// Package storetest is the conformance suite every store.Store
// implementation must pass unchanged. It uses only the store interface, so
// the SQLite and PostgreSQL implementations are held to one behaviour.
//
//	func TestConformance(t *testing.T) {
//		dir := t.TempDir()
//		storetest.Run(t, func(t *testing.T, name string) store.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(dir, name+".db"))
//			...
//		})
//	}
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/secret"
	"github.com/clearance-gw/clearance/authz/store"
)

// Opener opens the store called name. The first open of a name within one
// Run gives an empty store; opening the name again after the suite closed
// the previous handle must give the same data (the persistence test). The
// suite closes every store it opens. Names are short lowercase words.
type Opener func(t *testing.T, name string) store.Store

// Run runs the whole suite, one subtest per area, in parallel.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"clients", testClients},
		{"clients_upsert", testUpsertClient},
		{"delete_client_cascades", testDeleteClientCascades},
		{"users", testUsers},
		{"delete_user", testDeleteUser},
		{"created_after_cutoffs", testCreatedAfterCutoffs},
		{"one_namespace", testOneNamespace},
		{"one_namespace_race", testOneNamespaceRace},
		{"sessions", testSessions},
		{"list_sessions", testListSessions},
		{"rotate_refresh", testRotateRefresh},
		{"rotate_refresh_errors", testRotateRefreshErrors},
		{"rotate_refresh_race", testRotateRefreshRace},
		{"session_generations", testSessionGenerations},
		{"changes", testChanges},
		{"codes", testCodes},
		{"code_replay", testCodeReplay},
		{"code_race", testCodeRace},
		{"code_binding", testCodeBinding},
		{"code_binding_race", testCodeBindingRace},
		{"revocations", testRevocations},
		{"prune", testPrune},
		{"signing_keys", testSigningKeys},
		{"subscriptions", testSubscriptions},
		{"admin_keys", testAdminKeys},
		{"usage", testUsage},
		{"usage_concurrent", testUsageConcurrent},
		{"times", testTimes},
		{"concurrent_reads_and_writes", testConcurrentReadsWrites},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, openClosed(t, open, tt.name))
		})
	}
	t.Run("persistence", func(t *testing.T) {
		t.Parallel()
		testPersistence(t, open)
	})
}

func openClosed(t *testing.T, open Opener, name string) store.Store {
	t.Helper()
	s := open(t, name)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// t0 is the suite's "now": microsecond precision, UTC.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

// lifetime is the longest token lifetime the suite's deletions pass: a
// year (a2a tokens) and a minute of leeway.
const lifetime = 8760*time.Hour + time.Minute

func hash(s string) []byte { return secret.HashSecret(s) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

// same fails the test unless got and want hold the same values: times
// equal as instants and in UTC, nil and empty slices alike.
func same(t *testing.T, got, want any) {
	t.Helper()
	if d := diff(reflect.ValueOf(got), reflect.ValueOf(want), ""); len(d) > 0 {
		for _, s := range d {
			t.Error(s)
		}
		t.FailNow()
	}
}

var timeType = reflect.TypeFor[time.Time]()

func diff(got, want reflect.Value, path string) []string {
	if got.Type() != want.Type() {
		return []string{fmt.Sprintf("%s: type %s, want %s", path, got.Type(), want.Type())}
	}
	switch {
	case got.Type() == timeType:
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !g.Equal(w) {
			return []string{fmt.Sprintf("%s = %s, want %s", path, g.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano))}
		}
		if g.Location() != time.UTC {
			return []string{fmt.Sprintf("%s = %s is not UTC", path, g)}
		}
		return nil
	case got.Kind() == reflect.Struct:
		var out []string
		for i := range got.NumField() {
			out = append(out, diff(got.Field(i), want.Field(i), path+"."+got.Type().Field(i).Name)...)
		}
		return out
	case got.Kind() == reflect.Slice && got.Type().Elem().Kind() == reflect.Uint8:
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			return []string{fmt.Sprintf("%s = %x, want %x", path, got.Bytes(), want.Bytes())}
		}
		return nil
	case got.Kind() == reflect.Slice:
		if got.Len() != want.Len() {
			return []string{fmt.Sprintf("%s has %d elements, want %d", path, got.Len(), want.Len())}
		}
		var out []string
		for i := range got.Len() {
			out = append(out, diff(got.Index(i), want.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			return []string{fmt.Sprintf("%s = %#v, want %#v", path, got.Interface(), want.Interface())}
		}
		return nil
	}
}

func sampleClient(id string) store.Client {
	return store.Client{
		ID:             id,
		Name:           "Client " + id,
		SecretHash:     hash("secret-" + id),
		Grants:         []string{"authorization_code", "refresh_token"},
		Scopes:         []string{"user", "query_mapdata"},
		RedirectURIs:   []string{"https://app.example/cb", "http://127.0.0.1:8000/cb"},
		AllowedOrigins: []string{"https://app.example"},
		FirstParty:     true,
		Owner:          "alice",
		PortalMade:     true,
		Plan:           "charts-pro",
		AccessTTL:      15 * time.Minute,
		RefreshTTL:     720 * time.Hour,
		CreatedAt:      t0,
	}
}

func newSession(id, clientID string, exp time.Time) store.Session {
	return store.Session{
		ID: id, ClientID: clientID, Subject: "alice", Scope: "user query_mapdata",
		Kind: store.KindRefresh, CreatedAt: t0, ExpiresAt: exp,
	}
}

func newRefresh(name string, exp time.Time) store.RefreshToken {
	return store.RefreshToken{
		Hash: hash(name), AccessJTI: "jti-" + name, AccessExpiresAt: t0.Add(time.Hour),
		CreatedAt: t0, ExpiresAt: exp,
	}
}

// seed creates a client and a session with its first refresh token.
func seed(t *testing.T, s store.Store, clientID, sessionID, refresh string) {
	t.Helper()
	if _, err := s.GetClient(t.Context(), clientID); errors.Is(err, store.ErrNotFound) {
		must(t, s.CreateClient(t.Context(), sampleClient(clientID)))
	}
	rt := newRefresh(refresh, t0.Add(720*time.Hour))
	must(t, s.CreateSession(t.Context(), newSession(sessionID, clientID, t0.Add(720*time.Hour)), &rt))
}

func ids[T any](xs []T, id func(T) string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func sessionIDs(ss []store.Session) []string {
	return ids(ss, func(s store.Session) string { return s.ID })
}

func wantIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}
