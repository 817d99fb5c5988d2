package issuer

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// parseBasic takes HTTP Basic credentials only in canonical base64, where
// net/http's Request.BasicAuth also takes line breaks and stray padding
// bits: one credential must have one spelling.
func TestParseBasicCanonicalOnly(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString([]byte("backend:secret")) // 14 bytes: "...XQ="
	if !strings.HasSuffix(enc, "Q=") {
		t.Fatalf("encoding %q: the padding-bit case below expects it to end in Q=", enc)
	}
	accepted := map[string]string{
		"canonical":               "Basic " + enc,
		"scheme in any case":      "bAsIc " + enc,
		"several spaces (1*SP)":   "Basic   " + enc,
		"trailing spaces and tab": "Basic " + enc + " \t ",
	}
	for name, h := range accepted {
		t.Run(name, func(t *testing.T) {
			c, ok := parseBasic(h)
			if !ok || c.id != "backend" || c.secret != "secret" {
				t.Fatalf("parseBasic(%q) = %+v, %v", h, c, ok)
			}
		})
	}
	refused := map[string]string{
		"line break inside":     "Basic " + enc[:8] + "\n" + enc[8:],
		"CRLF inside":           "Basic " + enc[:8] + "\r\n" + enc[8:],
		"trailing line break":   "Basic " + enc + "\n",
		"leading line break":    "Basic \n" + enc,
		"padding bit set":       "Basic " + strings.TrimSuffix(enc, "Q=") + "R=",
		"padding missing":       "Basic " + strings.TrimSuffix(enc, "="),
		"tab after the scheme":  "Basic \t" + enc,
		"vertical tab trailing": "Basic " + enc + "\v",
		"no-break space":        "Basic " + enc + "\u00a0",
		"base64url alphabet":    "Basic " + base64.URLEncoding.EncodeToString([]byte("id:a?>b")),
	}
	for name, h := range refused {
		t.Run(name, func(t *testing.T) {
			if c, ok := parseBasic(h); ok || c != (basicCredentials{}) {
				t.Fatalf("parseBasic(%q) = %+v, %v; want refused", h, c, ok)
			}
		})
	}
	// The difference from net/http is deliberate: it accepts these.
	for _, name := range []string{"line break inside", "padding bit set"} {
		r := http.Request{Header: http.Header{"Authorization": {refused[name]}}}
		if id, sec, ok := r.BasicAuth(); !ok || id != "backend" || sec != "secret" {
			t.Errorf("net/http no longer accepts %s (%q, %q, %v): the fuzz property can be simplified", name, id, sec, ok)
		}
	}
}
