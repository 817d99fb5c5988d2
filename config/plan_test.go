package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPlans(t *testing.T) {
	t.Parallel()
	const base = "scopes: [charts, navdata]\nroutes:\n  - {name: r, path: /r/, upstream: 'http://u'}\n  - {name: s, path: /s/, upstream: 'http://u', metered: false}\n"
	t.Run("two plans, a default and a client's plan", func(t *testing.T) {
		c := mustParse(t, base+`plans:
  - {name: charts, rate: 10/s, quota: 10000/month, scopes: [charts]}
  - {name: charts-navdata, rate: 600/min, quota: 500/day, scopes: [charts, navdata]}
  - {name: unlimited}
default_plan: charts
clients:
  - {id: app, name: App, secret: 0123456789abcdefghij, grants: [client_credentials], plan: charts-navdata}
`)
		if c.DefaultPlan != "charts" || len(c.Plans) != 3 || c.Clients[0].Plan != "charts-navdata" {
			t.Fatalf("plans = %+v, default %q, client plan %q", c.Plans, c.DefaultPlan, c.Clients[0].Plan)
		}
		if r := c.Plans[1].ParsedRate(); r != (Rate{N: 600, Window: time.Minute}) {
			t.Errorf("rate = %+v", r)
		}
		if q := c.Plans[1].ParsedQuota(); q != (Quota{N: 500, Period: Day}) {
			t.Errorf("quota = %+v", q)
		}
		if !c.Plans[2].ParsedRate().IsZero() || !c.Plans[2].ParsedQuota().IsZero() {
			t.Errorf("a plan without rate and quota is unlimited")
		}
		if got := c.EffectivePlan("charts-navdata"); got == nil || got.Name != "charts-navdata" {
			t.Errorf("EffectivePlan(charts-navdata) = %v", got)
		}
		if got := c.EffectivePlan(""); got == nil || got.Name != "charts" {
			t.Errorf("EffectivePlan(\"\") = %v, want the default plan", got)
		}
		if got := c.EffectivePlan("gone"); got == nil || got.Name != "charts" {
			t.Errorf("EffectivePlan(gone) = %v, want the default plan", got)
		}
	})
	t.Run("routes are metered unless they say otherwise", func(t *testing.T) {
		c := mustParse(t, base)
		if !c.Routes[0].Metered || c.Routes[1].Metered {
			t.Fatalf("metered = %v, %v; want true, false", c.Routes[0].Metered, c.Routes[1].Metered)
		}
		if c.EffectivePlan("") != nil {
			t.Fatal("without default_plan nothing is metered")
		}
	})
	for _, tt := range []struct {
		name, src, pos, msg string
	}{
		{"bad rate", "plans:\n  - name: free\n    rate: 10/day\n", "3:11",
			`plans[0].rate: rate "10/day": unknown unit "day"`},
		{"rate without unit", "plans:\n  - {name: free, rate: '10'}\n", "2:24",
			`plans[0].rate: rate "10": write N/s, N/min or N/h`},
		{"bad quota", "plans:\n  - name: free\n    quota: 10000/week\n", "3:12",
			`plans[0].quota: quota "10000/week": unknown unit "week"`},
		{"negative quota", "plans:\n  - name: free\n    quota: -1/day\n", "3:12",
			`plans[0].quota: quota "-1/day": the count must be a positive whole number`},
		{"zero rate", "plans:\n  - name: free\n    rate: 0/s\n", "3:11",
			`plans[0].rate: rate "0/s": the count must be a positive whole number`},
		{"duplicate name", "plans:\n  - name: free\n  - name: free\n", "3:11",
			`plans[1].name: duplicate plan name "free" (also plans[0])`},
		{"bad name", "plans:\n  - name: Free Plan\n", "2:11",
			`plans[0].name: plan name "Free Plan" must be lower-case letters`},
		{"unknown scope", "scopes: [charts]\nplans:\n  - name: free\n    scopes: [charts, navdata]\n", "4:22",
			`plans[0].scopes[1]: unknown scope "navdata"`},
		{"unknown default plan", "plans:\n  - name: free\ndefault_plan: gold\n", "3:15",
			`default_plan: unknown plan "gold" (known: free)`},
		{"default plan without plans", "default_plan: gold\n", "1:15",
			`default_plan: unknown plan "gold": no plans are declared under plans:`},
		{"unknown client plan", "plans: [{name: free}]\nclients:\n  - {id: app, name: App, grants: [implicit], redirect_uris: ['https://a.example/cb'], plan: gold}\n", "3:93",
			`clients[0].plan: unknown plan "gold" (known: free)`},
		{"metered not a boolean", "routes:\n  - {name: r, path: /r/, upstream: 'http://u', metered: sometimes}\n", "2:57",
			`routes[0].metered: "sometimes" is not a boolean`},
		{"unknown plan key", "plans:\n  - {name: free, limit: 10/s}\n", "2:18",
			`unknown key "limit" in plans[0]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := parseString(t, tt.src)
			if len(ps) != 1 {
				t.Fatalf("got %d problems, want exactly 1:\n%v", len(ps), ps)
			}
			got := ps[0].String()
			prefix := "t.yaml:" + tt.pos + ": "
			if !strings.HasPrefix(got, prefix) || !strings.Contains(got, tt.msg) {
				t.Errorf("got  %s\nwant %s...%s", got, prefix, tt.msg)
			}
		})
	}
}

func TestParseRateAndQuota(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want Rate
	}{
		{"10/s", Rate{10, time.Second}}, {"10/sec", Rate{10, time.Second}}, {"1/second", Rate{1, time.Second}},
		{"100/m", Rate{100, time.Minute}}, {"100/min", Rate{100, time.Minute}}, {"5/minute", Rate{5, time.Minute}},
		{"1000/h", Rate{1000, time.Hour}}, {"7/hour", Rate{7, time.Hour}},
		{"1000000000000/s", Rate{MaxPlanCount, time.Second}},
	} {
		got, err := ParseRate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "/s", "10", "10/", "10/d", "010/s", "+10/s", "1e3/s", " 10/s", "10 /s", "10/S", "1000000000001/s", "10/s/s"} {
		_, err := ParseRate(bad)
		var pe *PlanSyntaxError
		if !errors.As(err, &pe) || pe.Field != "rate" || pe.Value != bad {
			t.Errorf("ParseRate(%q): err = %v, want a *PlanSyntaxError", bad, err)
		}
	}
	for _, tt := range []struct {
		in   string
		want Quota
	}{
		{"500/day", Quota{500, Day}}, {"500/d", Quota{500, Day}}, {"10000/month", Quota{10000, Month}},
	} {
		got, err := ParseQuota(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseQuota(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "10/s", "10/week", "0/day", "10/mo", "ten/day"} {
		if _, err := ParseQuota(bad); !errors.As(err, new(*PlanSyntaxError)) {
			t.Errorf("ParseQuota(%q): err = %v, want a *PlanSyntaxError", bad, err)
		}
	}
	if s := (Rate{100, time.Minute}).String(); s != "100/min" {
		t.Errorf("String = %q", s)
	}
	if s := (Quota{10000, Month}).String(); s != "10000/month" {
		t.Errorf("String = %q", s)
	}
}

// FuzzPlanSyntax: ParseRate and ParseQuota either return a value whose
// canonical spelling parses back to the same value, or a
// *PlanSyntaxError naming the input; never a panic.
func FuzzPlanSyntax(f *testing.F) {
	for _, s := range []string{
		"10/s", "100/min", "1000/h", "5/minute", // rates
		"500/day", "10000/month", "3/d", // quotas
		"", "/", "0/s", "010/s", "-1/day", "1e3/s", // bad counts
		"10/week", "10/S", "10 / s", "10/s/s", // bad units
		"99999999999999/s", "9223372036854775808/day", // overflow
		"\xff/s", "1\x00/s", // bytes
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := ParseRate(s); err == nil {
			if r.N <= 0 || r.N > MaxPlanCount || (r.Window != time.Second && r.Window != time.Minute && r.Window != time.Hour) {
				t.Fatalf("ParseRate(%q) = %+v: out of range", s, r)
			}
			back, err := ParseRate(r.String())
			if err != nil || back != r {
				t.Fatalf("round trip of %q: %q gives %+v, %v", s, r.String(), back, err)
			}
		} else if pe, ok := errors.AsType[*PlanSyntaxError](err); !ok || pe.Value != s || pe.Field != "rate" {
			t.Fatalf("ParseRate(%q): error %v is not a *PlanSyntaxError about the input", s, err)
		}
		if q, err := ParseQuota(s); err == nil {
			if q.N <= 0 || q.N > MaxPlanCount || (q.Period != Day && q.Period != Month) {
				t.Fatalf("ParseQuota(%q) = %+v: out of range", s, q)
			}
			back, err := ParseQuota(q.String())
			if err != nil || back != q {
				t.Fatalf("round trip of %q: %q gives %+v, %v", s, q.String(), back, err)
			}
		} else if pe, ok := errors.AsType[*PlanSyntaxError](err); !ok || pe.Value != s || pe.Field != "quota" {
			t.Fatalf("ParseQuota(%q): error %v is not a *PlanSyntaxError about the input", s, err)
		}
	})
}
