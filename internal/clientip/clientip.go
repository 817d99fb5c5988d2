// Package clientip decides which address a request comes from: the peer
// of the connection, or, when that peer is a trusted proxy
// (server.trusted_proxies), the address the proxies recorded in
// X-Forwarded-For. Everything that keys on the client address (the login
// throttle, the access log) asks one Resolver, so they cannot disagree.
package clientip

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
)

// Trusted is a parsed list of trusted proxy networks. The zero value (and
// nil) trusts nobody.
type Trusted struct {
	prefixes []netip.Prefix
}

// ParsePrefix reads one server.trusted_proxies entry: a CIDR
// ("10.0.0.0/8", "2001:db8::/32") or a bare address, which stands for
// itself alone. IPv4-mapped IPv6 addresses are read as IPv4.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR or an IP address", s)
		}
		a := p.Addr()
		if a.Is4In6() {
			bits := p.Bits() - 96
			if bits < 0 {
				return netip.Prefix{}, fmt.Errorf("%q is not a CIDR or an IP address: an IPv4-mapped prefix needs at least 96 bits", s)
			}
			p = netip.PrefixFrom(a.Unmap(), bits)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR or an IP address", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Parse reads a server.trusted_proxies list; the error names the first bad
// entry (config validation reports each one with its position).
func Parse(list []string) (*Trusted, error) {
	t := &Trusted{prefixes: make([]netip.Prefix, 0, len(list))}
	for _, s := range list {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		t.prefixes = append(t.prefixes, p)
	}
	return t, nil
}

// Contains reports whether a is a trusted proxy.
func (t *Trusted) Contains(a netip.Addr) bool {
	if t == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Client returns the client address of a request from peer carrying the
// X-Forwarded-For header values xff (in the order received). Only when
// peer is trusted is X-Forwarded-For read: from the right, each trusted
// proxy's entry is skipped, and the first untrusted entry is the client.
// When every entry is trusted the left-most is the client. A malformed
// entry ends the walk: nothing to its left can be vouched for, so the
// nearest trusted hop to its right (or the peer) is taken as the client.
// The result is always peer or one of the entries.
func (t *Trusted) Client(peer netip.Addr, xff []string) netip.Addr {
	peer = normal(peer)
	if !t.Contains(peer) {
		return peer
	}
	client := peer
	for i := len(xff) - 1; i >= 0; i-- {
		rest := xff[i]
		for {
			j := strings.LastIndexByte(rest, ',')
			entry := rest[j+1:]
			rest = rest[:max(j, 0)]
			if strings.TrimSpace(entry) == "" {
				// An empty list element (RFC 9110 §5.6.1 allows them).
				if j < 0 {
					break
				}
				continue
			}
			a, ok := parseEntry(entry)
			if !ok {
				return client
			}
			client = a
			if !t.Contains(a) {
				return client
			}
			if j < 0 {
				break
			}
		}
	}
	return client
}

// parseEntry reads one X-Forwarded-For element: an address, optionally
// in brackets or with a port ("203.0.113.7:4711", "[2001:db8::1]:443"),
// as some proxies write them.
func parseEntry(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return normal(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normal(ap.Addr()), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return normal(a), true
		}
	}
	return netip.Addr{}, false
}

// normal drops the zone and reads IPv4-mapped IPv6 as IPv4.
func normal(a netip.Addr) netip.Addr {
	return a.WithZone("").Unmap()
}

// Peer is the address of the connection a request came on (its
// RemoteAddr), or the zero Addr when RemoteAddr is not an address.
func Peer(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return normal(ap.Addr())
	}
	if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		return normal(a)
	}
	return netip.Addr{}
}

// Key is the one rule for grouping addresses into clients when counting
// what they do (the login throttle): an IPv4 address is one client; an
// IPv6 address is counted by its /64, which one subscriber usually holds
// whole. The zero Addr (no address known) is "unknown".
func Key(a netip.Addr) string {
	a = normal(a)
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is4():
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// Resolver answers the client address of requests under the trusted
// proxies in force; Set swaps in a reloaded list. It is safe for
// concurrent use.
type Resolver struct {
	trusted atomic.Pointer[Trusted]
}

// NewResolver returns a Resolver trusting t (nil: nobody).
func NewResolver(t *Trusted) *Resolver {
	r := &Resolver{}
	r.Set(t)
	return r
}

// Set replaces the trusted proxies; requests in flight finish with either.
func (r *Resolver) Set(t *Trusted) {
	if t == nil {
		t = &Trusted{}
	}
	r.trusted.Store(t)
}

// Addr is the client address of req.
func (r *Resolver) Addr(req *http.Request) netip.Addr {
	return r.trusted.Load().Client(Peer(req), req.Header.Values("X-Forwarded-For"))
}
