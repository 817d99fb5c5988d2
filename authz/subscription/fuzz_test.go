package subscription

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzParseList feeds remote answers to the parser. Properties: it never
// panics; a failure is errMalformed; a success has a type on every entry
// and survives MarshalList and ParseList again unchanged (to the second).
func FuzzParseList(f *testing.F) {
	for _, seed := range []string{
		`[]`, // no subscriptions
		`[{"type":"fmsdata","subscription_name":"Navigation Data","date_active":"2030-01-01T00:00:00Z","date_expiry":"2030-12-31T23:59:59Z"}]`,
		`[{"type":"fmsdata","subscription_name":"N","date_active":"2030-01-01","date_expiry":"2030-12-31","subscription_id":"s-1"}]`, // days, extra field
		`[{"type":"fmsdata","date_active":"2030-01-01T00:00:00.123+02:00","date_expiry":"2030-12-31T23:59:59-05:00"}]`,               // offsets, fraction
		`[{"type":"a"},{"type":"b"}]`, // missing dates
		`[{"type":"a","date_active":"0000-01-01T00:30:00+01:00","date_expiry":"9999-12-31T23:59:59-01:00"}]`, // out of range in UTC
		`null`,
		`{"type":"fmsdata"}`,
		`[] []`,
		`[{"type":1}]`,
		"[{\"type\":\"\xff\"}]",
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		subs, err := ParseList(bytes.NewReader(body))
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v is not errMalformed", err)
			}
			return
		}
		for _, s := range subs {
			if s.Type == "" {
				t.Fatalf("entry without type: %+v", s)
			}
		}
		out, err := MarshalList(subs)
		if err != nil {
			t.Fatalf("MarshalList: %v", err)
		}
		again, err := ParseList(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		trunc := func(s Subscription) Subscription {
			s.DateActive, s.DateExpiry = s.DateActive.Truncate(time.Second), s.DateExpiry.Truncate(time.Second)
			return s
		}
		if !slices.EqualFunc(subs, again, func(a, b Subscription) bool { return trunc(a) == trunc(b) }) {
			t.Fatalf("round trip changed\n %+v\n %+v", subs, again)
		}
	})
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in       string
		endOfDay bool
		want     time.Time
		err      string
	}{
		{"2030-01-31", false, day(2030, 1, 31), ""},
		{"2030-01-31", true, day(2030, 2, 1).Add(-time.Second), ""},
		{"2030-01-31T12:00:00Z", true, time.Date(2030, 1, 31, 12, 0, 0, 0, time.UTC), ""},
		{"2030-01-31T12:00:00+02:00", false, time.Date(2030, 1, 31, 10, 0, 0, 0, time.UTC), ""},
		{"2030-1-31", false, time.Time{}, "is not a date"},
		{"31/01/2030", false, time.Time{}, "is not a date"},
		{"", false, time.Time{}, "is not a date"},
		{"0000-01-01T00:00:00+01:00", false, time.Time{}, "out of range"},
	}
	for _, tt := range tests {
		got, err := ParseDate(tt.in, tt.endOfDay)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseDate(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseDate(%q, %v) = %v, %v; want %v", tt.in, tt.endOfDay, got, err, tt.want)
		}
	}
}

// TestWireFields pins the objects of /v1/subscriptions/valid to the field
// names of the API the navigraph profile stands in for, both ways.
func TestWireFields(t *testing.T) {
	subs := []Subscription{{Type: "fmsdata", Name: "Navigation Data", DateActive: day(2030, 1, 1),
		DateExpiry: time.Date(2030, 12, 31, 23, 59, 59, 0, time.FixedZone("CET", 3600))}}
	out, err := MarshalList(subs)
	if err != nil {
		t.Fatal(err)
	}
	const want = `[{"date_active":"2030-01-01T00:00:00Z","date_expiry":"2030-12-31T22:59:59Z","subscription_name":"Navigation Data","type":"fmsdata"}]`
	if string(out) != want {
		t.Fatalf("MarshalList = %s\nwant %s", out, want)
	}
	got, err := ParseList(strings.NewReader(want))
	if err != nil || len(got) != 1 || got[0].Name != "Navigation Data" || got[0].Type != "fmsdata" {
		t.Fatalf("ParseList = %+v, %v", got, err)
	}
}
