package metering

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/clearance-gw/clearance/config"
)

// sfItem is one member of a Structured Field List (RFC 9651) whose bare
// item is a String and whose parameters are Integers.
type sfItem struct {
	name   string
	params map[string]int64
}

// parseSFList parses a List of such Items strictly by RFC 9651 §4.2:
// members separated by OWS "," OWS, a String bare item (printable ASCII,
// only \" and \\ escaped), parameters ";" *SP key "=" Integer (at most 15
// digits), keys lcalpha or "*" then lcalpha, digits, "_-.*".
func parseSFList(s string) ([]sfItem, error) {
	var out []sfItem
	i := 0
	for {
		it, n, err := parseSFItem(s[i:])
		if err != nil {
			return nil, err
		}
		out = append(out, it)
		i += n
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			return out, nil
		}
		if s[i] != ',' {
			return nil, errors.New("expected ',' between members")
		}
		i++
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			return nil, errors.New("trailing comma")
		}
	}
}

func parseSFItem(s string) (sfItem, int, error) {
	it := sfItem{params: map[string]int64{}}
	if len(s) == 0 || s[0] != '"' {
		return it, 0, errors.New("bare item is not a String")
	}
	i := 1
	var b strings.Builder
	for ; ; i++ {
		if i >= len(s) {
			return it, 0, errors.New("unterminated String")
		}
		c := s[i]
		if c == '\\' {
			if i+1 >= len(s) || (s[i+1] != '"' && s[i+1] != '\\') {
				return it, 0, errors.New("bad escape")
			}
			i++
			b.WriteByte(s[i])
			continue
		}
		if c == '"' {
			i++
			break
		}
		if c < 0x20 || c > 0x7e {
			return it, 0, errors.New("non-printable character in a String")
		}
		b.WriteByte(c)
	}
	it.name = b.String()
	for i < len(s) && s[i] == ';' {
		i++
		for i < len(s) && s[i] == ' ' {
			i++
		}
		start := i
		if i >= len(s) || !(s[i] >= 'a' && s[i] <= 'z' || s[i] == '*') {
			return it, 0, errors.New("bad parameter key")
		}
		for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9' || strings.IndexByte("_-.*", s[i]) >= 0) {
			i++
		}
		key := s[start:i]
		if i >= len(s) || s[i] != '=' {
			return it, 0, errors.New("parameter without an Integer value")
		}
		i++
		start = i
		if i < len(s) && s[i] == '-' {
			i++
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		digits := strings.TrimPrefix(s[start:i], "-")
		if digits == "" || len(digits) > 15 {
			return it, 0, errors.New("bad Integer")
		}
		n, _ := strconv.ParseInt(s[start:i], 10, 64)
		if _, dup := it.params[key]; dup {
			return it, 0, errors.New("duplicate parameter")
		}
		it.params[key] = n
	}
	return it, i, nil
}

// FuzzRateLimitFields: for any plan and any meter state, the
// RateLimit-Policy and RateLimit values parse as Structured Field Lists
// (draft-ietf-httpapi-ratelimit-headers-11): the same policies in the
// same order, q and w positive, r and t non-negative.
func FuzzRateLimitFields(f *testing.F) {
	f.Add(int64(10), uint8(0), int64(10000), true, int64(7), int64(1), int64(9993), int64(86400))             // SPEC's example
	f.Add(int64(100), uint8(1), int64(500), false, int64(0), int64(36), int64(0), int64(3600))                // minute rate, daily quota
	f.Add(int64(1), uint8(2), int64(0), false, int64(0), int64(3600), int64(0), int64(0))                     // hourly rate only
	f.Add(int64(0), uint8(0), int64(1), true, int64(0), int64(0), int64(0), int64(2678400))                   // quota only
	f.Add(int64(config.MaxPlanCount), uint8(0), int64(config.MaxPlanCount), true, int64(config.MaxPlanCount), // largest
		int64(1), int64(config.MaxPlanCount), int64(2678400))
	f.Fuzz(func(t *testing.T, rateN int64, unit uint8, quotaN int64, monthly bool, rr, rt, qr, qt int64) {
		clamp := func(v int64) int64 { return min(max(v, 0), config.MaxPlanCount) }
		rateN, quotaN = clamp(rateN), clamp(quotaN)
		plan := config.Plan{Name: "p"}
		if rateN > 0 {
			plan.Rate = strconv.FormatInt(rateN, 10) + "/" + []string{"s", "min", "h"}[unit%3]
		}
		if quotaN > 0 {
			plan.Quota = strconv.FormatInt(quotaN, 10) + map[bool]string{true: "/month", false: "/day"}[monthly]
		}
		m := New(newMemUsage(), &config.Config{Plans: []config.Plan{plan}, DefaultPlan: "p"}, Options{})
		p := m.PlanFor("", "app")
		// The values the meter can produce: counts within the plan, resets
		// within a window.
		res := Result{Plan: p, RateRemaining: clamp(rr) % (rateN + 1), RateReset: clamp(rt) % 3601,
			QuotaRemaining: clamp(qr) % (quotaN + 1), QuotaReset: clamp(qt) % (31*86400 + 1)}
		var want []string
		if rateN > 0 {
			want = append(want, "rate")
		}
		if quotaN > 0 {
			want = append(want, "quota")
		}
		if len(want) == 0 {
			if p.Limited() || p.Policy != "" || res.RateLimit() != "" {
				t.Fatalf("a plan without limits has fields: %q, %q", p.Policy, res.RateLimit())
			}
			return
		}
		check := func(field, value string, keys ...string) {
			items, err := parseSFList(value)
			if err != nil {
				t.Fatalf("%s %q: %v", field, value, err)
			}
			if len(items) != len(want) {
				t.Fatalf("%s %q: %d items, want %v", field, value, len(items), want)
			}
			for i, it := range items {
				if it.name != want[i] || len(it.params) != len(keys) {
					t.Fatalf("%s %q: item %d is %+v", field, value, i, it)
				}
				for _, k := range keys {
					if v, ok := it.params[k]; !ok || v < 0 {
						t.Fatalf("%s %q: %s=%d", field, value, k, v)
					}
				}
			}
		}
		check("RateLimit-Policy", p.Policy, "q", "w")
		check("RateLimit", res.RateLimit(), "r", "t")
		items, _ := parseSFList(p.Policy)
		for _, it := range items {
			if it.params["q"] <= 0 || it.params["w"] <= 0 {
				t.Fatalf("policy %q: q and w must be positive", p.Policy)
			}
		}
	})
}

// TestSFListParserRefuses: the test's parser is strict enough to catch
// what a careless writer would produce.
func TestSFListParserRefuses(t *testing.T) {
	for _, bad := range []string{
		`rate;r=1`, `"rate";r=1,`, `"rate";r=1.5`, `"rate";R=1`, `"rate";r`, `"rate";r=1;r=2`,
		`"rate";r=1234567890123456`, `"ra"te";r=1`, "\"rate\";r=1,,\"quota\";r=2", `"rate" ;r=1`,
	} {
		if _, err := parseSFList(bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
	items, err := parseSFList(`"rate";q=10;w=1, "quota";q=10000;w=2592000`)
	if err != nil || len(items) != 2 || items[1].params["w"] != 2592000 {
		t.Fatalf("SPEC's example: %+v, %v", items, err)
	}
}
