package issuer

import (
	"encoding/base64"
	"testing"
)

// A session id is an argument of "clearance sessions revoke ID": one
// beginning with "-" was read as a flag.
func TestNewIDNeverBeginsWithADashOrUnderscore(t *testing.T) {
	seen := map[byte]bool{}
	for range 20000 {
		id := newID()
		if id[0] == '-' || id[0] == '_' {
			t.Fatalf("newID() = %q", id)
		}
		if b, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(b) != 16 {
			t.Fatalf("newID() = %q: %d bytes, %v", id, len(b), err)
		}
		seen[id[0]] = true
	}
	if len(seen) != 62 { // every letter and digit still begins some id
		t.Errorf("ids began with %d different characters, want 62", len(seen))
	}
}
