package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestSessionActive(t *testing.T) {
	exp := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		revoked time.Time
		now     time.Time
		want    bool
	}{
		{"before expiry", time.Time{}, exp.Add(-time.Second), true},
		{"at expiry", time.Time{}, exp, false},
		{"after expiry", time.Time{}, exp.Add(time.Second), false},
		{"revoked", exp.Add(-time.Hour), exp.Add(-time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Session{ExpiresAt: exp, RevokedAt: tt.revoked}
			if got := s.Active(tt.now); got != tt.want {
				t.Fatalf("Active = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSubscriptionActiveIncludesBothEnds(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	until := from.AddDate(0, 1, 0)
	s := Subscription{DateActive: from, DateExpiry: until}
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{"before start", from.Add(-time.Second), false},
		{"at start", from, true},
		{"inside", from.Add(time.Hour), true},
		{"at end", until, true},
		{"after end", until.Add(time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Active(tt.now); got != tt.want {
				t.Fatalf("Active(%s) = %v, want %v", tt.now, got, tt.want)
			}
		})
	}
}

func TestReuseErrorsMatchTheirSentinels(t *testing.T) {
	refresh := fmt.Errorf("rotate refresh token: %w", &RefreshReusedError{SessionID: "s1"})
	if !errors.Is(refresh, ErrRefreshReused) || errors.Is(refresh, ErrCodeReused) {
		t.Fatalf("%v: wrong sentinel match", refresh)
	}
	var re *RefreshReusedError
	if !errors.As(refresh, &re) || re.SessionID != "s1" {
		t.Fatalf("%v: session id not recoverable", refresh)
	}
	code := fmt.Errorf("consume: %w", &CodeReusedError{Code: AuthCode{SessionID: "s2"}})
	if !errors.Is(code, ErrCodeReused) || errors.Is(code, ErrRefreshReused) {
		t.Fatalf("%v: wrong sentinel match", code)
	}
	var ce *CodeReusedError
	if !errors.As(code, &ce) || ce.Code.SessionID != "s2" {
		t.Fatalf("%v: code not recoverable", code)
	}
}

func TestCutoffSecondRoundsUp(t *testing.T) {
	sec := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		cut  time.Time
		want time.Time
	}{
		{"a whole second stays", sec, sec},
		{"a microsecond past goes up", sec.Add(time.Microsecond), sec.Add(time.Second)},
		{"just before the next second", sec.Add(time.Second - time.Nanosecond), sec.Add(time.Second)},
		{"another zone is the same instant, in UTC", sec.Add(time.Millisecond).In(time.FixedZone("X", 3600)), sec.Add(time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CutoffSecond(tt.cut)
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Fatalf("CutoffSecond(%s) = %s, want %s UTC", tt.cut, got, tt.want)
			}
		})
	}
}

// TestCutoffAndCreationAreOrdered: a deletion's cutoff is never before the
// creation of what it deletes, and a creation after a cutoff of its name is
// always after it, to the microsecond, whatever the callers' clocks say.
func TestCutoffAndCreationAreOrdered(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 500_000_000, time.UTC)
	us := time.Microsecond
	t.Run("CutoffAt", func(t *testing.T) {
		tests := []struct {
			name         string
			now, created time.Time
			want         time.Time
		}{
			{"the deletion time, exactly", t0.Add(3 * us), t0, t0.Add(3 * us)},
			{"nanoseconds are dropped", t0.Add(3*us + 999), t0, t0.Add(3 * us)},
			{"deleted in the microsecond it was created", t0, t0, t0},
			{"a deleting clock behind the creating one", t0, t0.Add(time.Second), t0.Add(time.Second)},
			{"an unknown creation time", t0, time.Time{}, t0},
			{"in UTC", t0.In(time.FixedZone("X", 3600)), time.Time{}, t0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := CutoffAt(tt.now, tt.created)
				if !got.Equal(tt.want) || got.Location() != time.UTC {
					t.Fatalf("CutoffAt(%s, %s) = %s, want %s UTC", tt.now, tt.created, got, tt.want)
				}
			})
		}
	})
	t.Run("CreatedAfter", func(t *testing.T) {
		tests := []struct {
			name            string
			created, latest time.Time
			want            time.Time
		}{
			{"no cutoff: as asked", t0.Add(999), time.Time{}, t0},
			{"no cutoff, no time: zero", time.Time{}, time.Time{}, time.Time{}},
			{"after the cutoff: as asked", t0.Add(us), t0, t0.Add(us)},
			{"in the cutoff's microsecond: just after it", t0.Add(999), t0, t0.Add(us)},
			{"a creating clock behind the deleting one", t0.Add(-time.Second), t0, t0.Add(us)},
			{"no time but a cutoff: just after it", time.Time{}, t0, t0.Add(us)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := CreatedAfter(tt.created, tt.latest)
				if !got.Equal(tt.want) {
					t.Fatalf("CreatedAfter(%s, %s) = %s, want %s", tt.created, tt.latest, got, tt.want)
				}
			})
		}
	})
	t.Run("delete and create again in a loop", func(t *testing.T) {
		// Every call at the same instant: each incarnation's creation is
		// still after the previous cutoff, and each cutoff covers it.
		var cut time.Time
		for range 5 {
			created := CreatedAfter(t0, cut)
			if !cut.IsZero() && !created.After(cut) {
				t.Fatalf("created %s, not after the cutoff %s", created, cut)
			}
			next := CutoffAt(t0, created)
			if next.Before(created) {
				t.Fatalf("cutoff %s before the creation %s", next, created)
			}
			cut = next
		}
	})
}
