package guard

import (
	"context"
	"errors"
	"testing"

	"github.com/clearance-gw/clearance/config"
)

type fakeClients struct {
	clients []OriginClient
	err     error
}

func (f *fakeClients) ListClientOrigins(context.Context) ([]OriginClient, error) {
	return f.clients, f.err
}

func TestClientOrigins(t *testing.T) {
	src := &fakeClients{clients: []OriginClient{
		{ID: "maps", Scopes: []string{"query_mapdata"}, AllowedOrigins: []string{"https://maps.example"}},
		{ID: "charts", Scopes: []string{"charts"}, AllowedOrigins: []string{"https://charts.example", "http://localhost:3000"}},
		{ID: "backend", Scopes: []string{"charts"}},
	}}
	o := NewClientOrigins(src, 0, nil)
	if o.ClientAllows("maps", "https://maps.example") {
		t.Fatal("allowed before the first refresh")
	}
	if err := o.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		client, origin string
		want           bool
	}{
		{"maps", "https://maps.example", true},
		{"maps", "https://charts.example", false},
		{"charts", "http://localhost:3000", true},
		{"backend", "https://charts.example", false},
		{"nobody", "https://maps.example", false},
	} {
		if got := o.ClientAllows(tt.client, tt.origin); got != tt.want {
			t.Errorf("ClientAllows(%q, %q) = %v", tt.client, tt.origin, got)
		}
	}
	chartsRoute := &config.Route{Scopes: []string{"charts"}}
	mapRoute := &config.Route{AnyScopes: []string{"query_mapdata", "query_mapairdata"}}
	for _, tt := range []struct {
		route  *config.Route
		origin string
		want   bool
	}{
		{chartsRoute, "https://charts.example", true},
		{chartsRoute, "https://maps.example", false}, // that client may not call the route
		{mapRoute, "https://maps.example", true},
		{mapRoute, "https://evil.example", false},
	} {
		if got := o.RouteAllows(tt.route, tt.origin); got != tt.want {
			t.Errorf("RouteAllows(%v, %q) = %v", tt.route, tt.origin, got)
		}
	}
	// A failed refresh keeps the last good set; a later one sees changes.
	src.err = errors.New("store down")
	if err := o.Refresh(t.Context()); err == nil || !o.ClientAllows("maps", "https://maps.example") {
		t.Error("a failed refresh must keep the last set")
	}
	src.err, src.clients = nil, src.clients[1:]
	o.Refresh(t.Context())
	if o.ClientAllows("maps", "https://maps.example") {
		t.Error("a deleted client's origin is still allowed")
	}
}
