package cli

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"net/netip"
)

// pprofEnv chooses who may read /debug/pprof/ on the admin listener:
// "loopback" (the default: only peers on this host, whatever admin_listen
// binds), "on" (any peer that reaches the admin listener) or "off".
const pprofEnv = "CLEARANCE_PPROF"

// withPprof adds the Go runtime profiles (net/http/pprof) under
// /debug/pprof/ to the admin handler, as mode allows. A refused peer gets
// 404, as if the profiles were not there.
func withPprof(admin http.Handler, mode string) (http.Handler, error) {
	var allow func(*http.Request) bool
	switch mode {
	case "", "loopback":
		allow = fromLoopback
	case "on":
		allow = func(*http.Request) bool { return true }
	case "off":
		return admin, nil
	default:
		return nil, fmt.Errorf("%s=%q: want loopback, on or off", pprofEnv, mode)
	}
	prof := http.NewServeMux()
	prof.HandleFunc("GET /debug/pprof/", pprof.Index)
	prof.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	prof.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	prof.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	prof.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux := http.NewServeMux()
	mux.Handle("/", admin)
	mux.Handle("/debug/pprof/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allow(r) {
			http.NotFound(w, r)
			return
		}
		prof.ServeHTTP(w, r)
	}))
	return mux, nil
}

// fromLoopback reports whether the request's peer is on this host.
func fromLoopback(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
