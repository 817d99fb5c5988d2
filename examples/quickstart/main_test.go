package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestQuickstart runs the quickstart as a newcomer would, with the repository's
// gateway.yaml, and makes every call it prints.
func TestQuickstart(t *testing.T) {
	t.Chdir("../..")
	var out bytes.Buffer
	if err := run(t.Context(), "gateway.yaml", true, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "\nok  "); n != 6 {
		t.Errorf("verified %d calls, want 6:\n%s", n, out.String())
	}
	for _, want := range []string{"curl -i -H \"Authorization: Bearer $TOKEN\"", "/v1/airports/EDDF", "expect 401"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
