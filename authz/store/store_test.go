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

func TestCutoffAtRoundsUpToTheSecond(t *testing.T) {
	sec := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		now  time.Time
		want time.Time
	}{
		{"a whole second stays", sec, sec},
		{"a microsecond past goes up", sec.Add(time.Microsecond), sec.Add(time.Second)},
		{"just before the next second", sec.Add(time.Second - time.Nanosecond), sec.Add(time.Second)},
		{"another zone is the same instant, in UTC", sec.Add(time.Millisecond).In(time.FixedZone("X", 3600)), sec.Add(time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CutoffAt(tt.now)
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Fatalf("CutoffAt(%s) = %s, want %s UTC", tt.now, got, tt.want)
			}
		})
	}
}
