package guard

import "strings"

// ScopeSet is a set of scope names, kept as a sorted-free slice: tokens carry
// a handful of scopes, and a slice scan beats a map at that size.
type ScopeSet []string

// ParseScope splits a space-delimited scope string (RFC 6749 §3.3).
func ParseScope(s string) ScopeSet { return ScopeSet(strings.Fields(s)) }

// Has reports whether s holds scope.
func (s ScopeSet) Has(scope string) bool {
	for _, x := range s {
		if x == scope {
			return true
		}
	}
	return false
}

// HasAll reports whether s holds every scope in want.
func (s ScopeSet) HasAll(want []string) bool {
	for _, w := range want {
		if !s.Has(w) {
			return false
		}
	}
	return true
}

// HasAny reports whether s holds at least one scope in want (true if want is empty).
func (s ScopeSet) HasAny(want []string) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		if s.Has(w) {
			return true
		}
	}
	return false
}

// String joins the scopes with spaces.
func (s ScopeSet) String() string { return strings.Join(s, " ") }
