package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/config"
)

func TestReloadUnderLoad(t *testing.T) {
	one := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "one") })
	two := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "two") })

	a := testRoute("mapdata", "/mapdata/", one.URL)
	b := testRoute("mapdata", "/mapdata", two.URL)
	b.Timeout = config.Duration(20 * time.Second) // a different transport key
	b.Scopes = []string{"query_mapdata"}
	cfgA := testConfig(a, testRoute("extra", "/extra/", one.URL))
	cfgB := testConfig(b)
	g := newGateway(t, cfgA, testGuard())

	const workers = 4
	var (
		stop           atomic.Bool
		ok, failed     atomic.Int64
		wg             sync.WaitGroup
		firstFailure   atomic.Value
		sawOne, sawTwo atomic.Bool
	)
	for range workers {
		wg.Go(func() {
			for !stop.Load() {
				req, _ := http.NewRequest(http.MethodGet, g.URL+"/mapdata/tiles?access_token="+tokAlice, nil)
				resp, err := g.Client().Do(req)
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, resp.Status+" "+string(body))
					continue
				}
				switch string(body) {
				case "one":
					sawOne.Store(true)
				case "two":
					sawTwo.Store(true)
				}
				ok.Add(1)
			}
		})
	}
	for i := range 200 {
		cfg := cfgA
		if i%2 == 0 {
			cfg = cfgB
		}
		if err := g.h.Update(cfg); err != nil {
			t.Fatalf("Update %d: %v", i, err)
		}
		// Let at least one request finish on each table.
		for n := ok.Load() + failed.Load(); ok.Load()+failed.Load() == n; {
			runtime.Gosched()
		}
	}
	stop.Store(true)
	wg.Wait()
	g.waitServed(t, int(ok.Load()+failed.Load()))

	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed during reloads; first: %v", n, n+ok.Load(), firstFailure.Load())
	}
	if ok.Load() == 0 || !sawOne.Load() || !sawTwo.Load() {
		t.Errorf("requests %d, reached one %v, two %v", ok.Load(), sawOne.Load(), sawTwo.Load())
	}
	t.Logf("%d requests, 200 reloads, 0 failures", ok.Load())
}

func TestReloadKeepsUnchangedTransports(t *testing.T) {
	one := newUpstream(t, nil)
	two := newUpstream(t, nil)
	keep := testRoute("keep", "/keep/", one.URL)
	drop := testRoute("drop", "/drop/", two.URL)
	h, err := New(testConfig(keep, drop), testGuard(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.CloseIdleConnections)
	before := map[transportKey]*http.Transport{}
	for k, v := range h.transports {
		before[k] = v
	}

	// Same upstream and settings under another name and path: same transport.
	renamed := testRoute("kept-under-new-name", "/other/", one.URL)
	if err := h.Update(testConfig(renamed)); err != nil {
		t.Fatal(err)
	}
	if len(h.transports) != 1 {
		t.Fatalf("%d transports after dropping a route", len(h.transports))
	}
	for k, v := range h.transports {
		if before[k] != v {
			t.Error("the transport of an unchanged upstream was replaced")
		}
	}

	// A changed setting gets a new transport.
	changed := renamed
	changed.MaxIdleConns = 8
	if err := h.Update(testConfig(changed)); err != nil {
		t.Fatal(err)
	}
	for k, v := range h.transports {
		if before[k] == v {
			t.Error("a changed upstream setting kept the old transport")
		}
		if v.MaxIdleConnsPerHost != 8 {
			t.Errorf("MaxIdleConnsPerHost %d", v.MaxIdleConnsPerHost)
		}
	}
}

// TestUpstreamConnectionsReused checks the tuned transport keeps an idle
// connection per concurrent client. Each phase holds 16 requests at the
// upstream at once, so it needs 16 connections; with Go's default of 2 idle
// connections per host every later phase would dial at least 14 anew.
func TestUpstreamConnectionsReused(t *testing.T) {
	const clients, phases = 16, 3
	var conns atomic.Int64
	var arrived sync.WaitGroup
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		arrived.Wait() // all of the phase's requests are in flight together
		io.WriteString(w, "x")
	}))
	up.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	h, err := New(testConfig(testRoute("m", "/m/", up.URL)), testGuard(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.CloseIdleConnections)

	for range phases {
		arrived.Add(clients)
		var wg sync.WaitGroup
		var failed atomic.Int64
		for range clients {
			wg.Go(func() {
				req := httptest.NewRequest(http.MethodGet, "http://gateway/m/x", nil)
				req.Header.Set("Authorization", "Bearer "+tokAlice)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		if failed.Load() > 0 {
			t.Fatalf("%d requests failed", failed.Load())
		}
	}
	// A connection goes back to the pool a moment after its response, so
	// allow a few redials; a 2-connection pool would need at least 44.
	if n := conns.Load(); n > clients+clients/2 {
		t.Errorf("%d upstream connections for %d phases of %d concurrent requests", n, phases, clients)
	}
}
