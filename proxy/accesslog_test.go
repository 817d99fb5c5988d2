package proxy

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

// slogLine is the access log line of e as the proxy's logger writes it
// with slog's JSON handler at time t.
func slogLine(t time.Time, level slog.Level, e *accessEntry) string {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, nil).WithAttrs([]slog.Attr{slog.String("component", "proxy")})
	r := slog.NewRecord(t, level, "request", 0)
	r.AddAttrs(e.attrs(nil)...)
	h.Handle(context.Background(), r)
	return buf.String()
}

func fastLine(t time.Time, level slog.Level, e *accessEntry) string {
	var buf bytes.Buffer
	l := &jsonAccessLog{w: &buf}
	l.write(t, level, e)
	return buf.String()
}

// The access log's own JSON writer writes, byte for byte, the line slog's
// JSON handler writes: tools reading the log cannot tell them apart.
func TestJSONAccessLogIsSlogJSON(t *testing.T) {
	var ctl []byte
	for c := range 0x80 {
		ctl = append(ctl, byte(c))
	}
	at := time.Date(2026, 11, 30, 21, 5, 7, 120000000, time.FixedZone("", 3600))
	entries := []accessEntry{
		{id: "0f3c", method: "GET", path: "/v1/charts/EDDF", route: "charts", status: 200, bytes: 63,
			durationMS: 1.25, proxied: true, upstreamMS: 0.987654321, authed: true, clientID: "bench", subject: "alice",
			remote: "127.0.0.1:51234", client: netip.MustParseAddr("127.0.0.1")},
		{id: "x", method: "GET", path: "/v1/charts/x", route: "charts", status: 401, durationMS: 0,
			remote: "[::1]:80", client: netip.MustParseAddr("::1"), errKey: "auth_error", errText: "signature"},
		{id: `"quoted" \ id`, method: "POST", path: string(ctl), route: "none", status: 404, durationMS: 1e-7,
			remote: "", errKey: "error", errText: "dial tcp: connection refused"},
		{id: "u", method: "GET", path: "/caf\xe9/\xff\xfe/\u2028\u2029/<&>/\U0001F6EB/\u00e9", route: "r", status: 502,
			bytes: -1, durationMS: 3e21, proxied: true, upstreamMS: 123456.5, client: netip.MustParseAddr("fe80::1%eth\"0"),
			errKey: "error", errText: "client closed request", aborted: true},
		{id: "z", method: "GET", path: "/", route: "r", status: 200, durationMS: 0.000001, authed: true,
			clientID: "", subject: "sub\twith\ttabs", client: netip.MustParseAddr("::ffff:10.0.0.1")},
	}
	for i := range entries {
		for _, level := range []slog.Level{slog.LevelInfo, slog.LevelError} {
			e := &entries[i]
			if got, want := fastLine(at, level, e), slogLine(at, level, e); got != want {
				t.Errorf("entry %d, %v:\n got %s\nwant %s", i, level, got, want)
			}
		}
	}
}

func FuzzJSONAccessLogIsSlogJSON(f *testing.F) {
	f.Add("/v1/charts/EDDF", "127.0.0.1:1", "signature", 1.5)
	f.Add("/\x00\x1f\"\\\u2028\xff", "", "", 1e-9)
	f.Add("/ü", "[::1]:9", "internal: x", 0.0)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	f.Fuzz(func(t *testing.T, path, remote, text string, ms float64) {
		if ms != ms || ms > 1e300 || ms < -1e300 {
			return // not a duration
		}
		e := &accessEntry{id: "id", method: "GET", path: path, route: "r", status: 200, durationMS: ms,
			remote: remote, errKey: "auth_error", errText: text, authed: true, subject: path}
		if got, want := fastLine(at, slog.LevelInfo, e), slogLine(at, slog.LevelInfo, e); got != want {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

// Writing an access line allocates nothing once the pool holds a buffer.
func TestJSONAccessLogAllocatesNothing(t *testing.T) {
	l := &jsonAccessLog{w: discardWriter{}}
	e := &accessEntry{id: "0f3c", method: "GET", path: "/v1/charts/EDDF", route: "charts", status: 200, bytes: 63,
		durationMS: 1.25, proxied: true, upstreamMS: 0.98, authed: true, clientID: "bench", subject: "alice",
		remote: "127.0.0.1:51234", client: netip.MustParseAddr("127.0.0.1")}
	at := time.Now()
	if n := testing.AllocsPerRun(100, func() { l.write(at, slog.LevelInfo, e) }); n != 0 {
		t.Fatalf("%v allocations per line", n)
	}
}

type discardWriter struct{}

func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
