package clientip

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func mustParse(t testing.TB, list ...string) *Trusted {
	t.Helper()
	tr, err := Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestParsePrefix(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"192.0.2.7", "192.0.2.7/32"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"::ffff:192.0.2.7", "192.0.2.7/32"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePrefix(tt.in)
			if err != nil || p.String() != tt.want {
				t.Fatalf("ParsePrefix(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "10.0.0.0/33", "10.0.0", "example.com", "fe80::1%eth0", "10.0.0.0/8/8",
		" 10.0.0.1", "::ffff:10.0.0.0/8", "2001:db8::/129"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			if p, err := ParsePrefix(bad); err == nil {
				t.Fatalf("ParsePrefix(%q) = %v, want an error", bad, p)
			}
		})
	}
}

func TestClient(t *testing.T) {
	trusted := mustParse(t, "10.0.0.0/8", "2001:db8:1::/48", "192.0.2.1")
	for _, tt := range []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"untrusted peer: its header is ignored", "203.0.113.9", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer without header", "10.0.0.1", nil, "10.0.0.1"},
		{"trusted peer: the right-most entry", "10.0.0.1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed entries left of the client are ignored", "10.0.0.1", []string{"1.1.1.1, 2.2.2.2, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops are skipped", "10.0.0.1", []string{"6.6.6.6, 198.51.100.1, 10.9.9.9, 192.0.2.1"}, "198.51.100.1"},
		{"several header lines read as one list", "10.0.0.1", []string{"6.6.6.6, 198.51.100.1", "10.2.2.2"}, "198.51.100.1"},
		{"every entry trusted: the left-most", "10.0.0.1", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"malformed entry ends the walk at the hop to its right", "10.0.0.1", []string{"6.6.6.6, bogus, 10.2.2.2"}, "10.2.2.2"},
		{"malformed right-most entry: the peer", "10.0.0.1", []string{"6.6.6.6, unknown"}, "10.0.0.1"},
		{"empty elements are skipped", "10.0.0.1", []string{"198.51.100.1,, ,"}, "198.51.100.1"},
		{"empty header", "10.0.0.1", []string{""}, "10.0.0.1"},
		{"ports and brackets", "10.0.0.1", []string{"[2001:db8:9::5]:443, 10.4.4.4:80"}, "2001:db8:9::5"},
		{"bracketed IPv6", "10.0.0.1", []string{"[2001:db8:9::5]"}, "2001:db8:9::5"},
		{"IPv4-mapped entries read as IPv4", "10.0.0.1", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"IPv6 trusted peer", "2001:db8:1::7", []string{"2001:db8:2::1"}, "2001:db8:2::1"},
		{"IPv4-mapped trusted peer", "::ffff:10.0.0.1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"zone of an entry dropped", "10.0.0.1", []string{"fe80::1%eth0"}, "fe80::1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := trusted.Client(netip.MustParseAddr(tt.peer), tt.xff)
			if got.String() != tt.want {
				t.Fatalf("Client(%s, %q) = %s, want %s", tt.peer, tt.xff, got, tt.want)
			}
		})
	}
	t.Run("nobody trusted", func(t *testing.T) {
		var none *Trusted
		if got := none.Client(netip.MustParseAddr("10.0.0.1"), []string{"198.51.100.1"}); got.String() != "10.0.0.1" {
			t.Fatalf("got %s", got)
		}
	})
}

func TestResolver(t *testing.T) {
	r := NewResolver(nil)
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "10.0.0.1:5555"
	req.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := r.Addr(req); got.String() != "10.0.0.1" {
		t.Fatalf("trusting nobody: %s", got)
	}
	r.Set(mustParse(t, "10.0.0.0/8"))
	if got := r.Addr(req); got.String() != "198.51.100.1" {
		t.Fatalf("after Set: %s", got)
	}
	req.RemoteAddr = "pipe"
	if got := r.Addr(req); got.IsValid() {
		t.Fatalf("RemoteAddr without an address: %s", got)
	}
}

func TestKey(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"198.51.100.7", "198.51.100.7"},
		{"::ffff:198.51.100.7", "198.51.100.7"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
	} {
		if got := Key(netip.MustParseAddr(tt.in)); got != tt.want {
			t.Errorf("Key(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := Key(netip.Addr{}); got != "unknown" {
		t.Errorf("Key(zero) = %s", got)
	}
}
