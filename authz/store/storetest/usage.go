package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clearance-gw/clearance/authz/store"
)

func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// testUsage: per-day counts are added in batches, summed per (key, day),
// read back by day, and totalled per day and calendar month.
func testUsage(t *testing.T, s store.Store) {
	ctx := t.Context()
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, time.UTC) }
	trusted := "https://idp.example#app"

	got, err := s.UsageSince(ctx, "app", day(1, 1))
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("usage of a key never counted = %+v", got)
	}
	totals, err := s.UsageTotals(ctx, nil, day(3, 5))
	must(t, err)
	if len(totals) != 0 {
		t.Fatalf("totals of an empty store = %+v", totals)
	}

	must(t, s.AddUsage(ctx, []store.UsageCount{
		{Key: "app", Day: day(2, 27), Count: 5},
		{Key: "app", Day: day(3, 1).Add(13 * time.Hour), Count: 7}, // a time of day counts on its date
		{Key: "app", Day: day(3, 5), Count: 1},
		{Key: trusted, Day: day(3, 5), Count: 2},
		{Key: "other", Day: day(3, 5), Count: 0}, // ignored
	}))
	must(t, s.AddUsage(ctx, []store.UsageCount{
		{Key: "app", Day: day(3, 5), Count: 10}, // adds to the day
		{Key: "app", Day: day(3, 6), Count: 100},
	}))
	must(t, s.AddUsage(ctx, nil))

	got, err = s.UsageSince(ctx, "app", day(2, 1))
	must(t, err)
	same(t, got, []store.UsageCount{
		{Key: "app", Day: day(2, 27), Count: 5},
		{Key: "app", Day: day(3, 1), Count: 7},
		{Key: "app", Day: day(3, 5), Count: 11},
		{Key: "app", Day: day(3, 6), Count: 100},
	})
	got, err = s.UsageSince(ctx, "app", day(3, 5).Add(23*time.Hour)) // from a date, whatever the time
	must(t, err)
	same(t, got, []store.UsageCount{{Key: "app", Day: day(3, 5), Count: 11}, {Key: "app", Day: day(3, 6), Count: 100}})
	got, err = s.UsageSince(ctx, trusted, day(1, 1))
	must(t, err)
	same(t, got, []store.UsageCount{{Key: trusted, Day: day(3, 5), Count: 2}})

	t.Run("totals of a day and its month up to it", func(t *testing.T) {
		totals, err := s.UsageTotals(ctx, nil, day(3, 5).Add(time.Hour))
		must(t, err)
		same(t, totals, map[string]store.UsageTotal{
			"app":   {Day: 11, Month: 18}, // 7 on 3/1, 11 on 3/5; not February, not 3/6
			trusted: {Day: 2, Month: 2},
		})
		totals, err = s.UsageTotals(ctx, []string{"app", "nobody"}, day(3, 4))
		must(t, err)
		same(t, totals, map[string]store.UsageTotal{"app": {Day: 0, Month: 7}})
		totals, err = s.UsageTotals(ctx, []string{trusted}, day(2, 28))
		must(t, err)
		same(t, totals, map[string]store.UsageTotal{})
		totals, err = s.UsageTotals(ctx, []string{}, day(3, 5))
		must(t, err)
		same(t, totals, map[string]store.UsageTotal{})
	})
	t.Run("many keys at once", func(t *testing.T) {
		var batch []store.UsageCount
		keys := make([]string, 1200)
		for i := range keys {
			keys[i] = fmt.Sprintf("bulk-%04d", i)
			batch = append(batch, store.UsageCount{Key: keys[i], Day: day(4, 2), Count: int64(i + 1)})
		}
		must(t, s.AddUsage(ctx, batch))
		totals, err := s.UsageTotals(ctx, keys, day(4, 2))
		must(t, err)
		if len(totals) != len(keys) {
			t.Fatalf("got %d totals, want %d", len(totals), len(keys))
		}
		for i, k := range keys {
			if want := int64(i + 1); totals[k] != (store.UsageTotal{Day: want, Month: want}) {
				t.Fatalf("totals[%s] = %+v, want %d", k, totals[k], want)
			}
		}
	})
}

// testUsageConcurrent: counts added at the same time by several writers
// (several gateway instances) are all kept.
func testUsageConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := time.Date(2026, 5, 17, 0, 0, 0, 0, time.UTC)
	const writers, rounds = 4, 25
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range rounds {
				if err := s.AddUsage(ctx, []store.UsageCount{{Key: "shared", Day: d, Count: 3}, {Key: "other", Day: d, Count: 1}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	totals, err := s.UsageTotals(ctx, []string{"shared", "other"}, d)
	must(t, err)
	same(t, totals, map[string]store.UsageTotal{
		"shared": {Day: 3 * writers * rounds, Month: 3 * writers * rounds},
		"other":  {Day: writers * rounds, Month: writers * rounds},
	})
}
