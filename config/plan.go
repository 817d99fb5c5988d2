package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Plan is one entry of plans: what a customer bought (SPEC §11).
type Plan struct {
	Name string `yaml:"name"`
	// Rate is "N/s", "N/min" or "N/h": a token bucket refilled at N per
	// window, holding at most N (a burst of one window). Empty: no rate
	// limit.
	Rate string `yaml:"rate"`
	// Quota is "N/day" or "N/month": requests per UTC day or calendar
	// month. Empty: unlimited.
	Quota string `yaml:"quota"`
	// Scopes are added to the entitlement of the plan's users' portal
	// clients (SPEC §10).
	Scopes []string `yaml:"scopes"`
}

// PlanByName returns the plan named name, or nil.
func (c *Config) PlanByName(name string) *Plan {
	for i := range c.Plans {
		if c.Plans[i].Name == name {
			return &c.Plans[i]
		}
	}
	return nil
}

// EffectivePlan is the plan that applies to an explicit plan name (a
// client's, else its owner's; "" for none): that plan while the config
// has it, else default_plan. Nil means not metered.
func (c *Config) EffectivePlan(name string) *Plan {
	if name != "" {
		if p := c.PlanByName(name); p != nil {
			return p
		}
	}
	if c.DefaultPlan == "" {
		return nil
	}
	return c.PlanByName(c.DefaultPlan)
}

// Rate is a parsed plan rate: N requests per Window.
type Rate struct {
	N      int64
	Window time.Duration // time.Second, time.Minute or time.Hour
}

// Period is the span of a quota.
type Period int

// Quota periods.
const (
	Day Period = iota + 1
	Month
)

func (p Period) String() string {
	switch p {
	case Day:
		return "day"
	case Month:
		return "month"
	}
	return "period(" + strconv.Itoa(int(p)) + ")"
}

// Quota is a parsed plan quota: N requests per UTC day or calendar month.
type Quota struct {
	N      int64
	Period Period
}

// MaxPlanCount bounds the N of a rate or quota (a trillion: more is a
// typo, and it keeps arithmetic on counts far from overflow).
const MaxPlanCount = 1_000_000_000_000

// PlanSyntaxError is the error of ParseRate and ParseQuota.
type PlanSyntaxError struct {
	Field string // "rate" or "quota"
	Value string
	Msg   string
}

func (e *PlanSyntaxError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Field, quote(e.Value), e.Msg)
}

var rateUnits = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hour": time.Hour,
}

var quotaUnits = map[string]Period{"d": Day, "day": Day, "month": Month}

// ParseRate parses "N/s", "N/min" or "N/h" (also second, m, minute, hour):
// N a positive integer without sign or leading zeros. Errors are
// *PlanSyntaxError.
func ParseRate(s string) (Rate, error) {
	n, unit, err := splitCount("rate", s, "N/s, N/min or N/h")
	if err != nil {
		return Rate{}, err
	}
	w, ok := rateUnits[unit]
	if !ok {
		return Rate{}, &PlanSyntaxError{"rate", s, fmt.Sprintf("unknown unit %s: use s, min or h (requests per second, minute or hour)", quote(unit))}
	}
	return Rate{N: n, Window: w}, nil
}

// ParseQuota parses "N/day" or "N/month" (also d). Errors are
// *PlanSyntaxError.
func ParseQuota(s string) (Quota, error) {
	n, unit, err := splitCount("quota", s, "N/day or N/month")
	if err != nil {
		return Quota{}, err
	}
	p, ok := quotaUnits[unit]
	if !ok {
		return Quota{}, &PlanSyntaxError{"quota", s, fmt.Sprintf("unknown unit %s: use day or month (requests per UTC day or calendar month)", quote(unit))}
	}
	return Quota{N: n, Period: p}, nil
}

func splitCount(field, s, want string) (int64, string, error) {
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return 0, "", &PlanSyntaxError{field, s, "write " + want}
	}
	if num == "" || len(num) > 13 || strings.Trim(num, "0123456789") != "" || num[0] == '0' {
		return 0, "", &PlanSyntaxError{field, s, "the count must be a positive whole number, as in " + want}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > MaxPlanCount {
		return 0, "", &PlanSyntaxError{field, s, fmt.Sprintf("the count must be at most %d", int64(MaxPlanCount))}
	}
	return n, unit, nil
}

// String is the canonical spelling: "10/s", "100/min", "1000/h".
func (r Rate) String() string {
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "min", time.Hour: "h"}[r.Window]
	return strconv.FormatInt(r.N, 10) + "/" + unit
}

// String is the canonical spelling: "500/day", "10000/month".
func (q Quota) String() string { return strconv.FormatInt(q.N, 10) + "/" + q.Period.String() }

// IsZero reports an absent rate.
func (r Rate) IsZero() bool { return r.N == 0 }

// IsZero reports an absent quota.
func (q Quota) IsZero() bool { return q.N == 0 }

// ParsedRate returns the plan's rate, zero when absent or invalid (a
// loaded config has valid ones).
func (p *Plan) ParsedRate() Rate {
	if p.Rate == "" {
		return Rate{}
	}
	r, _ := ParseRate(p.Rate)
	return r
}

// ParsedQuota returns the plan's quota, zero when absent or invalid.
func (p *Plan) ParsedQuota() Quota {
	if p.Quota == "" {
		return Quota{}
	}
	q, _ := ParseQuota(p.Quota)
	return q
}

// errNoPlanName is the problem of a plan without a name.
var errNoPlanName = errors.New("a plan name is required")

// CheckPlanName checks a plan name: lower-case letters, digits, '_' and
// '-' (it is a metrics label and a command-line value).
func CheckPlanName(s string) error {
	if s == "" {
		return errNoPlanName
	}
	if len(s) > 64 {
		return fmt.Errorf("plan name %s is longer than 64 characters", quote(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("plan name %s must be lower-case letters, digits, '_' and '-'", quote(s))
		}
	}
	return nil
}

// CheckPlanRef checks a reference to a plan (a client's plan, a user's
// plan, default_plan): a plan of c.
func CheckPlanRef(c *Config, name string) error {
	if c.PlanByName(name) != nil {
		return nil
	}
	known := make([]string, 0, len(c.Plans))
	for _, p := range c.Plans {
		known = append(known, p.Name)
	}
	if len(known) == 0 {
		return fmt.Errorf("unknown plan %s: no plans are declared under plans:", quote(name))
	}
	return fmt.Errorf("unknown plan %s (known: %s)", quote(name), strings.Join(known, ", "))
}

// plans checks plans and default_plan, and every clients[].plan.
func (v *validator) plans(c *Config, known map[string]bool) {
	names := map[string]int{}
	for i := range c.Plans {
		pl := &c.Plans[i]
		p := fmt.Sprintf("plans[%d]", i)
		at := func(ptr any) func(string, ...any) { return v.at(ptr, pl, &c.Plans) }
		if err := CheckPlanName(pl.Name); err != nil {
			at(&pl.Name)("%s.name: %v", p, err)
		} else if j, dup := names[pl.Name]; dup {
			at(&pl.Name)("%s.name: duplicate plan name %s (also plans[%d])", p, quote(pl.Name), j)
		} else {
			names[pl.Name] = i
		}
		if pl.Rate != "" {
			if _, err := ParseRate(pl.Rate); err != nil {
				at(&pl.Rate)("%s.rate: %v", p, err)
			}
		}
		if pl.Quota != "" {
			if _, err := ParseQuota(pl.Quota); err != nil {
				at(&pl.Quota)("%s.quota: %v", p, err)
			}
		}
		v.knownScopes(p+".scopes", pl.Scopes, known, &pl.Scopes, pl, &c.Plans)
	}
	if c.DefaultPlan != "" {
		if err := CheckPlanRef(c, c.DefaultPlan); err != nil {
			v.at(&c.DefaultPlan)("default_plan: %v", err)
		}
	}
	for i := range c.Clients {
		cl := &c.Clients[i]
		if cl.Plan != "" {
			if err := CheckPlanRef(c, cl.Plan); err != nil {
				v.at(&cl.Plan, cl, &c.Clients)("clients[%d].plan: %v", i, err)
			}
		}
	}
}
