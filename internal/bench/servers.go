package bench

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// UpstreamBody is what the sample upstream answers: a small JSON document,
// as an aviation data API would for one airport.
var upstreamBody = []byte(`{"icao":"EDDF","name":"Frankfurt am Main","elevation_ft":364}` + "\n")

// Upstream is the sample API every proxy forwards to.
func Upstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(upstreamBody)
	})
}

// BareProxy is the yardstick: an httputil.ReverseProxy to target with
// nothing but X-Forwarded-* added, pooled copy buffers, and a transport
// keeping 256 idle connections per host (Go's default of 2 would make it a
// weaker yardstick, not a fairer one).
func BareProxy(target *url.URL) http.Handler {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport:  tr,
		BufferPool: newBufferPool(32 << 10),
	}
}

// bufferPool is an httputil.BufferPool over sync.Pool.
type bufferPool struct{ p sync.Pool }

func newBufferPool(size int) *bufferPool {
	bp := &bufferPool{}
	bp.p.New = func() any { b := make([]byte, size); return &b }
	return bp
}

func (bp *bufferPool) Get() []byte { return *bp.p.Get().(*[]byte) }

func (bp *bufferPool) Put(b []byte) { bp.p.Put(&b) }
