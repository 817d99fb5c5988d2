package proxy

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/clearance-gw/clearance/internal/routepath"
)

// tokenParam is the RFC 6750 §2.3 query parameter that may carry a token.
const tokenParam = "access_token"

// stripQueryParam removes every name=value pair whose decoded key is name
// from the raw query q, keeping every other byte of q as it was. A pair
// holding ';' is dropped when any ';'-separated piece has that key, so a
// lenient upstream parser cannot find the parameter either.
func stripQueryParam(q, name string) string {
	if q == "" || (!strings.Contains(q, name) && strings.IndexByte(q, '%') < 0) {
		return q
	}
	var b []byte
	dropped := false
	first := true
	rest := q
	for {
		seg, tail, more := strings.Cut(rest, "&")
		if queryPairHasKey(seg, name) {
			if !dropped {
				dropped = true
				// Everything before this pair is kept verbatim.
				kept := q[:len(q)-len(rest)]
				b = make([]byte, 0, len(q))
				if len(kept) > 0 {
					b = append(b, kept[:len(kept)-1]...) // without the '&' before seg
					first = false
				}
			}
		} else if dropped {
			if !first {
				b = append(b, '&')
			}
			b = append(b, seg...)
			first = false
		} else {
			first = false
		}
		if !more {
			break
		}
		rest = tail
	}
	if !dropped {
		return q
	}
	return string(b)
}

// queryPairHasKey reports whether the pair seg ("k=v", "k" or "k=v;k2=v2")
// names key, with the key decoded as url.ParseQuery decodes it.
func queryPairHasKey(seg, key string) bool {
	for {
		piece, tail, more := strings.Cut(seg, ";")
		k, _, _ := strings.Cut(piece, "=")
		if k == key {
			return true
		}
		if strings.ContainsAny(k, "%+") {
			if dk, err := url.QueryUnescape(k); err == nil && dk == key {
				return true
			}
		}
		if !more {
			return false
		}
		seg = tail
	}
}

// cleanPath returns the path the gateway's own endpoints are matched on
// and the basis of the path forwarded: p with dot segments and repeated
// slashes resolved and no trailing slash (except for "/"). Routes are
// matched on its canonical form (routepath.Canonical).
// It does not allocate when p is already clean. A path that does not start
// with "/" (e.g. "*") gives "".
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		return ""
	}
	return path.Clean(p)
}

// isCleanForm reports whether p is clean, or clean plus one trailing slash.
func isCleanForm(p, clean string) bool {
	if p == clean {
		return true
	}
	return len(p) == len(clean)+1 && p[len(p)-1] == '/' && p[:len(clean)] == clean
}

// forwardPath returns the path (and raw path) to send upstream for u whose
// cleaned path is clean: u's own path when it is already clean, else the
// cleaned path keeping a trailing slash, so the upstream sees exactly the
// path the route table matched.
func forwardPath(u *url.URL, clean string) (p, raw string) {
	if isCleanForm(u.Path, clean) {
		return u.Path, u.RawPath
	}
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		return clean + "/", ""
	}
	return clean, ""
}

// stripRoutePrefix removes from p, the path forwarded (clean, or clean
// plus a trailing slash), its own spelling of the route prefix of n
// canonical segments: "/V1/Charts;x/EDDF" under "/v1/charts" leaves
// "/EDDF". raw, the escaped form of p, is cut after as many slashes;
// url.URL.EscapedPath discards it if it no longer matches.
func stripRoutePrefix(p, raw string, n int) (string, string) {
	cut := routepath.PrefixLen(p, n)
	out := p[cut:]
	if out == "" {
		out = "/"
	}
	if raw != "" {
		k := strings.Count(p[:cut], "/")
		i := 0
		for ; i < len(raw) && k > 0; i++ {
			if raw[i] == '/' {
				k--
			}
		}
		// i is just past the k-th slash; the next slash starts the rest.
		if j := strings.IndexByte(raw[i:], '/'); j >= 0 && k == 0 {
			raw = raw[i+j:]
		} else {
			raw = ""
		}
	}
	return out, raw
}

// ownCookiePrefix starts the name of every cookie the gateway sets.
const ownCookiePrefix = "clearance_"

// withoutOwnCookies returns the Cookie header values vs without the
// gateway's own cookies (names starting "clearance_", in any case), the
// others in their order; values left empty are dropped. vs itself is
// returned when it holds none of them.
func withoutOwnCookies(vs []string) []string {
	found := false
	for _, v := range vs {
		if hasOwnCookie(v) {
			found = true
			break
		}
	}
	if !found {
		return vs
	}
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if !hasOwnCookie(v) {
			out = append(out, v)
			continue
		}
		var b strings.Builder
		for pair := range strings.SplitSeq(v, ";") {
			pair = strings.TrimSpace(pair)
			if pair == "" || isOwnCookie(pair) {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(pair)
		}
		if b.Len() > 0 {
			out = append(out, b.String())
		}
	}
	return out
}

// hasOwnCookie reports whether the Cookie header value v holds one of the
// gateway's cookies.
func hasOwnCookie(v string) bool {
	for pair := range strings.SplitSeq(v, ";") {
		if isOwnCookie(strings.TrimSpace(pair)) {
			return true
		}
	}
	return false
}

// isOwnCookie reports whether the name of the cookie pair ("name=value",
// trimmed) starts with ownCookiePrefix, ignoring ASCII case: an upstream
// that folds case in cookie names must not see one either.
func isOwnCookie(pair string) bool {
	return hasPrefixFold(pair, ownCookiePrefix)
}

// maxRequestID is the longest client request id kept.
const maxRequestID = 128

// validRequestID reports whether a client-sent X-Request-Id is kept: 1 to
// 128 printable ASCII characters (0x20-0x7e).
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxRequestID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// requestIDBytes is the size of a request id the gateway makes.
const requestIDBytes = 16

// requestIDs makes the gateway's request ids: a random prefix drawn once
// per process and a counter, in hex. Unique (within a process by the
// counter, across processes by the 64-bit prefix) and cheaper than random
// bytes per request; a request id is not a secret.
type requestIDs struct {
	prefix [requestIDBytes]byte // hex of 8 random bytes
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [requestIDBytes / 2]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	ids := &requestIDs{}
	hex.Encode(ids.prefix[:], b[:])
	return ids
}

// requestID returns the client's X-Request-Id when valid, else a new one
// written in buf.
func (ids *requestIDs) requestID(h http.Header, buf *[2 * requestIDBytes]byte) string {
	if v := h["X-Request-Id"]; len(v) > 0 && validRequestID(v[0]) {
		return v[0]
	}
	return ids.next(buf)
}

// next returns a new id written in buf: the string shares buf's memory,
// which must not change afterwards.
func (ids *requestIDs) next(buf *[2 * requestIDBytes]byte) string {
	copy(buf[:], ids.prefix[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], ids.n.Add(1))
	hex.Encode(buf[requestIDBytes:], n[:])
	return unsafe.String(&buf[0], len(buf))
}

// spoofable reports whether a client-sent header could pass for one the
// gateway vouches for: an X-Auth-* identity header, or X-Real-Ip (which
// upstream frameworks trust like X-Forwarded-For). Underscore spellings
// (X_Auth_Subject) count too: CGI and WSGI servers map "-" and "_" to the
// same variable, so X_Auth_Subject would reach the application as
// X-Auth-Subject. The X-Forwarded-* headers themselves are replaced by
// SetXForwarded; their underscore spellings are removed here.
func spoofable(k string) bool {
	if hasPrefixFold(k, "X-Auth-") || strings.EqualFold(k, "X-Real-Ip") {
		return true
	}
	if strings.IndexByte(k, '_') < 0 {
		return false
	}
	n := strings.ReplaceAll(k, "_", "-")
	return hasPrefixFold(n, "X-Auth-") || hasPrefixFold(n, "X-Forwarded-") || strings.EqualFold(n, "X-Real-Ip") ||
		strings.EqualFold(n, "X-Request-Id") || strings.EqualFold(n, "Authorization")
}

// hasPrefixFold reports whether s begins with prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// validHeaderValue reports whether v can be sent as a header value: no
// control characters other than horizontal tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// rewrite builds the outbound request from the inbound one.
func (h *Handler) rewrite(rt *route, pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	ex := exchangeFrom(in.Context())

	p, raw := forwardPath(in.URL, cleanPath(in.URL.Path))
	if rt.cfg.StripPrefix && rt.depth > 0 {
		p, raw = stripRoutePrefix(p, raw, rt.depth)
	}
	out.URL.Path, out.URL.RawPath = p, raw
	out.URL.RawQuery = stripQueryParam(out.URL.RawQuery, tokenParam)
	pr.SetURL(rt.target)
	pr.SetXForwarded()

	hd := out.Header
	for k := range hd {
		if spoofable(k) || (!rt.cfg.ForwardAuthorization && strings.EqualFold(k, "Authorization")) {
			delete(hd, k)
		}
	}
	// The gateway's own cookies (the portal session, a 12-hour
	// credential) are not the upstream's business.
	if cs, ok := hd["Cookie"]; ok {
		if cs = withoutOwnCookies(cs); len(cs) == 0 {
			delete(hd, "Cookie")
		} else {
			hd["Cookie"] = cs
		}
	}
	if ex == nil {
		return
	}
	// One backing array for every value set here, in the exchange; each
	// header gets a full slice expression so an append cannot spill into
	// its neighbour.
	vals := ex.outHdr[:0]
	set := func(k, v string) {
		vals = append(vals, v)
		n := len(vals)
		hd[k] = vals[n-1 : n : n]
	}
	if ex.authed {
		if v := ex.principal.Subject; v != "" {
			set("X-Auth-Subject", v)
		}
		if v := ex.principal.ClientID; v != "" {
			set("X-Auth-Client-Id", v)
		}
		if len(ex.principal.Scopes) > 0 {
			set("X-Auth-Scope", ex.principal.Scopes.String())
		}
		// The issuer tells tenants apart: "alice" of a trusted issuer
		// is not the gateway's own alice.
		if v := ex.principal.Issuer; v != "" {
			set("X-Auth-Issuer", v)
		}
		if v := ex.principal.Actor; v != "" {
			set("X-Auth-Actor", v)
		}
	}
	set("X-Request-Id", ex.id)
}
