package portal

import (
	"context"
	"fmt"
	"strconv"

	"github.com/clearance-gw/clearance/authz/metering"
	"github.com/clearance-gw/clearance/authz/store"
)

// UsageReporter reports a client's metered usage (SPEC §11) for its page:
// the plan it is on, its requests per day, what is left of its quota.
type UsageReporter interface {
	Usage(ctx context.Context, c store.Client, days int) (metering.Report, error)
}

// usageDays is the span of the client page's chart.
const usageDays = 30

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 600, 160
	chartTop       = 12 // room for the top label
	chartBottom    = 22 // room for the date labels
)

// usageView is the client page's usage card.
type usageView struct {
	Plan        string
	Rate        string
	Quota       string
	QuotaUsed   int64
	QuotaLeft   int64
	QuotaResets string
	Total       int64
	Chart       chart
}

// chart is a bar chart drawn on the server as inline SVG: no script.
type chart struct {
	W, H, Base int
	Max        string // the top of the scale
	Bars       []bar
	Labels     []chartLabel
}

type bar struct {
	X, Y, W, H int
	Title      string // date and count, shown on hover
	Day        string // YYYY-MM-DD, for tests and tools
	Requests   int64
}

type chartLabel struct {
	X      int
	Anchor string // SVG text-anchor
	Text   string
}

func newUsageView(r metering.Report) usageView {
	v := usageView{Plan: r.Plan, Rate: r.Rate, Quota: r.Quota, QuotaUsed: r.QuotaUsed, QuotaLeft: r.QuotaLeft}
	if r.Quota != "" {
		v.QuotaResets = r.QuotaResets.Format("2006-01-02 15:04 UTC")
	}
	c := chart{W: chartW, H: chartH, Base: chartH - chartBottom, Max: strconv.FormatInt(r.Max, 10)}
	plot := c.Base - chartTop
	n := max(len(r.Days), 1)
	slot := chartW / n
	for i, d := range r.Days {
		v.Total += d.Requests
		h := 0
		if r.Max > 0 {
			h = int((d.Requests*int64(plot) + r.Max - 1) / r.Max) // a day with requests shows at least 1 unit
		}
		day := d.Day.Format("2006-01-02")
		c.Bars = append(c.Bars, bar{X: i*slot + 1, Y: c.Base - h, W: max(slot-2, 1), H: h,
			Title: fmt.Sprintf("%s: %d requests", day, d.Requests), Day: day, Requests: d.Requests})
		// A label a week, counted back from today (the last bar).
		switch back := len(r.Days) - 1 - i; {
		case back == 0:
			c.Labels = append(c.Labels, chartLabel{X: (i + 1) * slot, Anchor: "end", Text: d.Day.Format("Jan 2")})
		case back%7 == 0:
			c.Labels = append(c.Labels, chartLabel{X: i*slot + slot/2, Anchor: "middle", Text: d.Day.Format("Jan 2")})
		}
	}
	v.Chart = c
	return v
}
