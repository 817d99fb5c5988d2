package proxy

import (
	"io"
	"net/http"
	"testing"

	"github.com/clearance-gw/clearance/internal/clientip"
)

// TestAccessLogClientAddress: the access log's client field is the client
// address as server.trusted_proxies decides it: X-Forwarded-For only from
// a trusted peer, and the peer itself by default.
func TestAccessLogClientAddress(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	r := testRoute("open", "/open/", up.URL)
	r.Public = true
	cfg := testConfig(r)

	trusted, err := clientip.Parse([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	resolver := clientip.NewResolver(nil)
	g := newGateway(t, cfg, testGuard(), func(o *Options) { o.ClientAddr = resolver.Addr })
	plain := newGateway(t, cfg, testGuard())

	xff := []string{"X-Forwarded-For", "6.6.6.6, 198.51.100.7"}
	g.get(t, "/open/x", xff...) // nobody trusted yet
	resolver.Set(trusted)       // as a reload does
	g.get(t, "/open/x", xff...)
	plain.get(t, "/open/x", xff...)

	lines := g.log.lines(t)
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2", len(lines))
	}
	for i, want := range []string{"127.0.0.1", "198.51.100.7"} {
		if lines[i]["client"] != want {
			t.Errorf("line %d: client %v, want %s", i, lines[i]["client"], want)
		}
		if lines[i]["remote"] == nil {
			t.Errorf("line %d: the peer (remote) is missing", i)
		}
	}
	if l := plain.log.lines(t); len(l) != 1 || l[0]["client"] != "127.0.0.1" {
		t.Errorf("without ClientAddr the client is the peer: %v", l)
	}
}
