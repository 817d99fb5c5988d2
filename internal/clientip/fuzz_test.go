package clientip

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzClient checks X-Forwarded-For parsing under trusted proxies: it never
// panics, the client is the peer or one of the header's entries, and it is
// never an entry to the left of an untrusted one (which a client could
// have written itself).
func FuzzClient(f *testing.F) {
	// Seeds: peer, trusted list (comma-separated), header value. More live
	// in testdata/fuzz/FuzzClient.
	f.Add("10.0.0.1", "10.0.0.0/8", "198.51.100.1")                    // one proxy
	f.Add("10.0.0.1", "10.0.0.0/8", "6.6.6.6, 198.51.100.1, 10.0.0.2") // spoofed entry on the left
	f.Add("203.0.113.9", "10.0.0.0/8", "198.51.100.1")                 // untrusted peer
	f.Add("10.0.0.1", "10.0.0.0/8", "10.0.0.3, 10.0.0.2")              // every entry trusted
	f.Add("10.0.0.1", "10.0.0.0/8", "1.1.1.1, garbage, 10.0.0.2")      // malformed entry
	f.Add("2001:db8::1", "2001:db8::/32", "[2001:db8:ffff::1]:80, 2001:db8::2")
	f.Add("10.0.0.1", "0.0.0.0/0,::/0", ",,, ,")
	f.Fuzz(func(t *testing.T, peerS, trustedS, header string) {
		peer, err := netip.ParseAddr(peerS)
		if err != nil {
			peer = netip.Addr{}
		}
		var list []string
		if trustedS != "" {
			list = strings.Split(trustedS, ",")
		}
		tr, err := Parse(list)
		if err != nil {
			tr = &Trusted{}
			for _, s := range list {
				if p, err := ParsePrefix(s); err == nil {
					tr.prefixes = append(tr.prefixes, p)
				}
			}
		}
		xff := strings.Split(header, "\n")
		got := tr.Client(peer, xff)

		// Reference: the entries from right to left, each parsed.
		var entries []string
		for _, line := range xff {
			entries = append(entries, strings.Split(line, ",")...)
		}
		if got == normal(peer) {
			return
		}
		if !tr.Contains(peer) {
			t.Fatalf("untrusted peer %s, but the client is %s", peer, got)
		}
		found := false
		for i := len(entries) - 1; i >= 0; i-- {
			if strings.TrimSpace(entries[i]) == "" {
				continue
			}
			a, ok := parseEntry(entries[i])
			if !ok {
				t.Fatalf("client %s is left of the malformed entry %q", got, entries[i])
			}
			if a == got {
				found = true
				break
			}
			if !tr.Contains(a) {
				t.Fatalf("client %s is left of the untrusted entry %s", got, a)
			}
		}
		if !found {
			t.Fatalf("client %s is neither the peer %s nor an entry of %q", got, peer, xff)
		}
	})
}
