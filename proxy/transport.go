package proxy

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// transportKey is everything an upstream transport depends on: routes with
// equal keys share one transport, and a reload keeps it.
type transportKey struct {
	scheme, host string
	dial         time.Duration // dial timeout
	header       time.Duration // response header timeout (the route timeout)
	maxIdle      int           // idle connections kept to the host
	insecure     bool          // skip TLS verification (test upstreams)
}

// newTransport clones http.DefaultTransport (never mutating it) and tunes
// it for one upstream host.
func newTransport(k transportKey) *http.Transport {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true, IdleConnTimeout: 90 * time.Second}
	}
	t.DialContext = (&net.Dialer{Timeout: k.dial, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = min(tlsHandshakeTimeout, k.header)
	t.ResponseHeaderTimeout = k.header
	t.MaxIdleConns = k.maxIdle
	t.MaxIdleConnsPerHost = k.maxIdle
	if k.insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return t
}

// timedTransport measures the upstream exchange (until response headers)
// into the request's exchange.
type timedTransport struct {
	rt  http.RoundTripper
	now func() time.Time
}

func (t *timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := t.now()
	resp, err := t.rt.RoundTrip(r)
	if ex := exchangeFrom(r.Context()); ex != nil {
		ex.proxied = true
		ex.upstream = t.now().Sub(start)
	}
	return resp, err
}

// bufferPool recycles ReverseProxy's copy buffers. It holds pointers to
// arrays, which a slice converts back to without allocating (a *[]byte
// would cost an allocation per Put).
type bufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[copyBufferSize]byte); ok {
		return v[:]
	}
	return new([copyBufferSize]byte)[:]
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) != copyBufferSize {
		return
	}
	b.p.Put((*[copyBufferSize]byte)(buf[:copyBufferSize]))
}
